"""emailactions: host IDM-style ``action("external/email", ...)`` calls anywhere."""

from .errors import (
    ActionError,
    AuthError,
    ConfigError,
    ConnectError,
    DeliveryTimeout,
    DuplicateRegistration,
    EmailActionsError,
    EngineUnavailable,
    ForbiddenOperation,
    InvalidParams,
    PluginError,
    RateLimited,
    RecipientsRefused,
    RenderError,
    SMTPUTF8Unsupported,
    TemplateDisabled,
    TemplateError,
    TemplateExists,
    TemplateNotFound,
    TLSError,
    TooLarge,
    TransportError,
    UnknownAction,
    UnknownResource,
    UnknownTransport,
)
from .hookspecs import hookimpl
from .engines.base import TemplateEngine
from .host import ActionContext, ActionHost, action
from .message import Message
from .transports.base import BaseTransport, SendResult

__version__ = "0.1.0"

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionHost",
    "AuthError",
    "BaseTransport",
    "ConfigError",
    "ConnectError",
    "DeliveryTimeout",
    "DuplicateRegistration",
    "EmailActionsError",
    "EngineUnavailable",
    "ForbiddenOperation",
    "InvalidParams",
    "Message",
    "PluginError",
    "RateLimited",
    "RecipientsRefused",
    "RenderError",
    "SMTPUTF8Unsupported",
    "SendResult",
    "TLSError",
    "TemplateDisabled",
    "TemplateEngine",
    "TemplateError",
    "TemplateExists",
    "TemplateNotFound",
    "TooLarge",
    "TransportError",
    "UnknownAction",
    "UnknownResource",
    "UnknownTransport",
    "action",
    "hookimpl",
]
