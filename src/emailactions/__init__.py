"""emailactions: host IDM-style ``action("external/email", ...)`` calls anywhere."""

from emailactions.errors import (
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
    MethodNotAllowed,
    NotAuthenticated,
    OutboxEntryNotFound,
    OutboxUnavailable,
    OutboxError,
    PermissionDenied,
    PluginError,
    RateLimited,
    RecipientsRefused,
    RenderError,
    ScriptError,
    ScriptMemoryError,
    ScriptNotFound,
    ScriptTimeout,
    SenderNotAllowed,
    SMTPUTF8Unsupported,
    TemplateDisabled,
    TemplateError,
    TemplateExists,
    TemplateNotFound,
    TLSError,
    TooLarge,
    TransportError,
    UnknownAction,
    UnknownDestination,
    UnknownLanguage,
    UnknownResource,
    UnknownTransport,
    UnsupportedMediaType,
)
from emailactions.api import Attachment, EmailResult, RecipientResult
from emailactions.hookspecs import hookimpl
from emailactions.host import ActionContext, ActionHost, action
from emailactions.mime.message import Message
from emailactions.transports.base import BaseTransport, SendResult

__version__ = "0.1.0"

#: Exported, imported on first access: a process that renders no template and
#: runs no script never loads the engine or scripting base (PEP 562).
_LAZY = {"TemplateEngine": "emailactions.engines.base", "ScriptLanguage": "emailactions.scripting"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emailactions' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionHost",
    "Attachment",
    "AuthError",
    "BaseTransport",
    "ConfigError",
    "ConnectError",
    "DeliveryTimeout",
    "DuplicateRegistration",
    "EmailActionsError",
    "EmailResult",
    "EngineUnavailable",
    "ForbiddenOperation",
    "InvalidParams",
    "Message",
    "MethodNotAllowed",
    "NotAuthenticated",
    "OutboxEntryNotFound",
    "OutboxUnavailable",
    "OutboxError",
    "PermissionDenied",
    "PluginError",
    "RateLimited",
    "RecipientResult",
    "RecipientsRefused",
    "RenderError",
    "SMTPUTF8Unsupported",
    "SenderNotAllowed",
    "ScriptError",
    "ScriptLanguage",
    "ScriptMemoryError",
    "ScriptNotFound",
    "ScriptTimeout",
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
    "UnknownDestination",
    "UnknownLanguage",
    "UnknownResource",
    "UnknownTransport",
    "UnsupportedMediaType",
    "action",
    "hookimpl",
]
