"""Every exception emailactions raises, in one hierarchy, and the refusals they carry.

::

    EmailActionsError                 500  internal_error
    ├── ConfigError                   500  config_error
    │   ├── UnknownTransport          500  unknown_transport
    │   └── EngineUnavailable         500  engine_unavailable
    ├── PluginError                   500  plugin_error
    │   └── DuplicateRegistration     500  duplicate_registration
    ├── ActionError                   400  bad_request
    │   ├── UnknownResource           404  unknown_resource
    │   ├── UnknownDestination        404  unknown_destination
    │   ├── UnknownAction             400  unknown_action
    │   ├── ForbiddenOperation        403  forbidden
    │   ├── InvalidParams             400  invalid_params
    │   ├── TooLarge                  413  too_large
    │   ├── NotAuthenticated          401  unauthorized
    │   ├── PermissionDenied          403  permission_denied
    │   │   └── SenderNotAllowed      403  sender_not_allowed
    │   ├── MethodNotAllowed          405  method_not_allowed
    │   └── UnsupportedMediaType      415  unsupported_media_type
    ├── RateLimited                   429  rate_limited
    ├── OutboxError                   500  outbox_error
    │   ├── OutboxEntryNotFound       404  outbox_entry_not_found
    │   └── OutboxUnavailable         503  outbox_unavailable
    ├── TemplateError                 400  template_error
    │   ├── TemplateNotFound          404  template_not_found
    │   ├── TemplateDisabled          400  template_disabled
    │   ├── TemplateExists            409  template_exists
    │   └── RenderError               400  render_error
    ├── TransportError                502  transport_error
    │   ├── ConnectError              503  connect_error
    │   ├── DeliveryTimeout           504  timeout
    │   ├── TLSError                  502  tls_error
    │   ├── AuthError                 502  auth_error
    │   ├── SMTPUTF8Unsupported       502  smtputf8_unsupported
    │   └── RecipientsRefused         502  recipients_refused
    └── ScriptError                   500  script_error   (code: the thrown object's, if it has one)
        ├── UnknownLanguage           400  unknown_language
        ├── ScriptNotFound            404  script_not_found
        ├── ScriptTimeout             500  script_timeout
        └── ScriptMemoryError         500  script_memory_limit

``code`` is the HTTP-like status IDM puts in its error body; ``kind`` is a
stable string for scripts that treat errors as data. ``to_dict()`` gives IDM's
shape ``{"code", "reason", "message", "detail"}``.

Context travels in ``detail``, the one record of it (what ``to_dict`` sends,
in the order the raiser gave it); each class declares the context code may
read as typed attributes over it (``InvalidParams.param``,
``TransportError.permanent``...). A refused recipient is a :class:`Refusal`
wherever it travels; ``refusals_dict`` is its one conversion to the shape
results and error bodies show.
"""

from __future__ import annotations

import re
from typing import Any, Generic, Mapping, NamedTuple, TypeVar

_T = TypeVar("_T")

# The reason phrases IDM puts beside each code (http.HTTPStatus, without
# importing the http package on every start).
_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    413: "Request Entity Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip

__all__ = [
    "EmailActionsError",
    "ConfigError",
    "UnknownTransport",
    "EngineUnavailable",
    "PluginError",
    "DuplicateRegistration",
    "ActionError",
    "UnknownResource",
    "UnknownDestination",
    "UnknownAction",
    "ForbiddenOperation",
    "InvalidParams",
    "TooLarge",
    "NotAuthenticated",
    "PermissionDenied",
    "SenderNotAllowed",
    "MethodNotAllowed",
    "UnsupportedMediaType",
    "RateLimited",
    "OutboxError",
    "OutboxEntryNotFound",
    "OutboxUnavailable",
    "TemplateError",
    "TemplateNotFound",
    "TemplateDisabled",
    "TemplateExists",
    "RenderError",
    "TransportError",
    "ConnectError",
    "DeliveryTimeout",
    "TLSError",
    "AuthError",
    "SMTPUTF8Unsupported",
    "RecipientsRefused",
    "ScriptError",
    "UnknownLanguage",
    "ScriptNotFound",
    "ScriptTimeout",
    "ScriptMemoryError",
    "Refusal",
    "Refusals",
    "refusals_dict",
]


class Refusal(NamedTuple):
    """A recipient the server refused: its SMTP reply code and text.

    A tuple, so it is stored as ``[code, text]`` JSON as it always was.
    """

    code: int
    text: str

    @classmethod
    def of(cls, reply: Any) -> "Refusal":
        """From any shape a refusal arrives in: ``(code, text)``, stored
        ``[code, text]``, or the result shape ``{"code", "message"}``."""
        if isinstance(reply, cls):
            return reply
        if isinstance(reply, Mapping):
            return cls(int(reply.get("code", 0)), str(reply.get("message", "")))
        code, text = reply
        return cls(int(code), str(text))


#: Refused recipients: address -> the server's reply.
Refusals = dict[str, Refusal]


def refusals_dict(refused: Mapping[str, Refusal]) -> dict[str, dict[str, Any]]:
    """Refusals in the shape of results and error bodies: ``{addr: {"code": 550, "message": "..."}}``."""
    return {address: {"code": reply.code, "message": reply.text} for address, reply in refused.items()}


class _Context(Generic[_T]):
    """A context attribute of an error, read from and written to ``detail``.

    ``detail`` stays the one record, so an attribute never disagrees with
    the error body, even when a caller adds context on the way up.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, error: "EmailActionsError | None", owner: type | None = None) -> _T | None:
        if error is None:
            return self  # type: ignore[return-value]  # on the class: the descriptor, for introspection
        return error.detail.get(self.name)

    def __set__(self, error: "EmailActionsError", value: _T | None) -> None:
        if value is None:
            error.detail.pop(self.name, None)
        else:
            error.detail[self.name] = value


# What could forge a log line or drive a terminal: C0/C1 controls (CR and LF
# included), DEL, and the bidi overrides that reorder what a reader sees.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {10: "\\n", 13: "\\r", 9: "\\t"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters as Python-style escapes (``\\r``, ``\\x1b``)."""
    return _CONTROLS.sub(_escaped, text)


class EmailActionsError(Exception):
    """Base of every emailactions error; carries an HTTP-like ``code``.

    The message is always one line of visible text, whatever the input it
    quotes: a host that logs ``str(error)`` cannot be handed a forged line.
    """

    code: int = 500
    kind: str = "internal_error"

    def __init__(self, message: str, **detail: Any) -> None:
        message = escape_controls(str(message))
        super().__init__(message)
        self.message = message
        #: Context for scripts and logs (param, transport, template, ...), JSON-ready.
        self.detail = {k: v for k, v in detail.items() if v is not None}

    @property
    def reason(self) -> str:
        """The HTTP reason phrase for ``code``, as IDM reports it."""
        return _REASONS.get(self.code, "Error")

    def to_dict(self) -> dict[str, Any]:
        """IDM's error body: ``{"code", "reason", "message", "detail"}``."""
        return {
            "code": self.code,
            "reason": self.reason,
            "message": self.message,
            "detail": {"kind": self.kind, **self.detail},
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"


class ConfigError(EmailActionsError):
    """Configuration that cannot be used; names the offending ``key``."""

    kind = "config_error"

    #: The dotted config key at fault (``transports.default.port``).
    key = _Context[str]()


class UnknownTransport(ConfigError):
    """The configured transport backend is not registered by any plugin."""

    kind = "unknown_transport"


class EngineUnavailable(ConfigError):
    """An optional engine or language whose library is not installed."""

    kind = "engine_unavailable"

    #: The template engine or script language whose library is missing.
    engine = _Context[str]()
    language = _Context[str]()


class PluginError(EmailActionsError):
    """A plugin misbehaved while registering or running."""

    kind = "plugin_error"

    #: The plugin at fault.
    plugin = _Context[str]()


class DuplicateRegistration(PluginError):
    """Two plugins registered the same name; never renamed silently."""

    kind = "duplicate_registration"


class ActionError(EmailActionsError):
    """The request itself is wrong (IDM's 4xx family)."""

    code = 400
    kind = "bad_request"

    #: The param at fault, as the caller named it, when one is.
    param = _Context[str]()


class UnknownResource(ActionError):
    """No service is registered at the resource path."""

    code = 404
    kind = "unknown_resource"


class UnknownDestination(ActionError):
    """No resolver knows the ``destination`` group."""

    code = 404
    kind = "unknown_destination"


class UnknownAction(ActionError):
    """The service exists but has no such action; lists the valid ones."""

    kind = "unknown_action"

    #: The actions the resource does offer.
    valid = _Context[list]()


class ForbiddenOperation(ActionError):
    """A verb other than ``action`` on a service that only takes actions."""

    code = 403
    kind = "forbidden"


class InvalidParams(ActionError):
    """A parameter is missing, mistyped or malformed; names it in ``param``."""

    kind = "invalid_params"

    #: What is wrong with it, where inside it (``object.user``), and params nobody knows.
    problem = _Context[str]()
    path = _Context[str]()
    unknown = _Context[list]()


class TooLarge(ActionError):
    """A size limit was exceeded before anything was sent."""

    code = 413
    kind = "too_large"


class NotAuthenticated(ActionError):
    """A REST request without valid credentials (``emailactions serve``)."""

    code = 401
    kind = "unauthorized"


class PermissionDenied(ActionError):
    """Valid credentials that lack the ``permission`` the request needs."""

    code = 403
    kind = "permission_denied"


class SenderNotAllowed(PermissionDenied):
    """A ``from`` the sender policy (``[email] allowed_senders``, a REST caller's
    ``senders``) does not allow; ``param`` is ``from``, ``sender`` the address."""

    kind = "sender_not_allowed"

    #: The refused address.
    sender = _Context[str]()


class MethodNotAllowed(ActionError):
    """An HTTP method the REST route does not offer."""

    code = 405
    kind = "method_not_allowed"


class UnsupportedMediaType(ActionError):
    """A REST request body that is not ``application/json``."""

    code = 415
    kind = "unsupported_media_type"


class RateLimited(EmailActionsError):
    """A configured rate limit was hit; ``retry_after`` is in seconds."""

    code = 429
    kind = "rate_limited"

    #: Seconds until the limit lets the request through.
    retry_after = _Context[float]()
    #: What is limited (``sender``, ``template``...), whose counter, and the limit hit.
    scope = _Context[str]()
    key = _Context[str]()
    limit = _Context[str]()


class OutboxError(EmailActionsError):
    """The outbox database cannot be opened, read or written; names its ``path``."""

    kind = "outbox_error"


class OutboxEntryNotFound(OutboxError):
    """No outbox entry has that ``id``."""

    code = 404
    kind = "outbox_entry_not_found"


class OutboxUnavailable(OutboxError):
    """The outbox database cannot be reached (restarting, failing over): nothing
    was stored, so the caller may submit again (with an ``idempotencyKey`` to be
    sure of one message)."""

    code = 503
    kind = "outbox_unavailable"


class TemplateError(EmailActionsError):
    """A template cannot be used."""

    code = 400
    kind = "template_error"

    #: The template id at fault, and the engine or field in it that is.
    template = _Context[str]()
    engine = _Context[str]()
    key = _Context[str]()


class TemplateNotFound(TemplateError):
    """No template by that name."""

    code = 404
    kind = "template_not_found"


class TemplateDisabled(TemplateError):
    """The template exists but has ``enabled: false``."""

    kind = "template_disabled"


class TemplateExists(TemplateError):
    """A template with that id is already stored (create never overwrites)."""

    code = 409
    kind = "template_exists"


class RenderError(TemplateError):
    """A template part failed to compile or render; names the ``part``."""

    kind = "render_error"

    #: The part that failed (``subject``, ``html``...) and the line in it, when known.
    part = _Context[str]()
    line = _Context[int]()


class TransportError(EmailActionsError):
    """Delivery failed after the message was composed."""

    code = 502
    kind = "transport_error"

    #: The transport alias that failed.
    transport = _Context[str]()
    #: The server's reply code: 4xx is temporary, 5xx permanent (RFC 5321 4.2.1).
    smtp_code = _Context[int]()
    #: Said by a transport that knows better than a reply code: True fails at
    #: once, False is retried (``emailactions.delivery.retry`` decides).
    permanent = _Context[bool]()
    #: Where in the session it failed (``connect``, ``DATA``...).
    stage = _Context[str]()
    #: What an operator must change, naming the config key (``ca_file``,
    #: ``username``...). Only a config change fixes such a failure, so a
    #: synchronous send raises it at once; the outbox keeps retrying it.
    hint = _Context[str]()
    #: Set by a synchronous send: how many attempts it made, and the seconds they took.
    attempts = _Context[int]()
    elapsed = _Context[float]()


class ConnectError(TransportError):
    """The relay could not be reached."""

    code = 503
    kind = "connect_error"


class DeliveryTimeout(TransportError):
    """The relay did not answer within the configured time."""

    code = 504
    kind = "timeout"


class TLSError(TransportError):
    """TLS could not be negotiated or the certificate did not verify."""

    kind = "tls_error"


class AuthError(TransportError):
    """The relay refused our credentials."""

    kind = "auth_error"


class SMTPUTF8Unsupported(TransportError):
    """An address needs SMTPUTF8 and the relay does not offer it."""

    kind = "smtputf8_unsupported"


class RecipientsRefused(TransportError):
    """The relay refused every recipient; ``refused`` maps each to its reply."""

    kind = "recipients_refused"

    def __init__(self, message: str, **detail: Any) -> None:
        #: Each refused address and the server's reply.
        self.refused: Refusals = {a: Refusal.of(r) for a, r in (detail.get("refused") or {}).items()}
        if "refused" in detail:  # same place in the body as the raiser gave it
            detail["refused"] = refusals_dict(self.refused)
        super().__init__(message, **detail)


class ScriptError(EmailActionsError):
    """A script failed: it threw, did not compile, or broke a limit.

    Names the ``script`` and, when known, the ``line`` and the ``stack``. A
    script that throws an object with a numeric ``code`` (IDM's ``throw
    {code: 403, message: "..."}``) gives that code to this error, as IDM
    gives it to the HTTP response.
    """

    kind = "script_error"

    #: The script, and where in it the error was raised, when known.
    script = _Context[str]()
    line = _Context[int]()
    stack = _Context[str]()

    def __init__(self, message: str, *, code: int | None = None, **detail: Any) -> None:
        super().__init__(message, **detail)
        if code is not None:
            self.code = code


class UnknownLanguage(ScriptError):
    """No registered script language has that name or file extension."""

    code = 400
    kind = "unknown_language"


class ScriptNotFound(ScriptError):
    """The script file does not exist or cannot be read."""

    code = 404
    kind = "script_not_found"


class ScriptTimeout(ScriptError):
    """The script ran past its time limit and was stopped."""

    kind = "script_timeout"


class ScriptMemoryError(ScriptError):
    """The script tried to use more memory than its limit allows."""

    kind = "script_memory_limit"
