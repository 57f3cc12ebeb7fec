"""What a loaded config is: frozen dataclasses, one per section, with their defaults.

Reading and checking them is elsewhere (:mod:`~emailactions.config.native`,
:mod:`~emailactions.config.idm`, :mod:`~emailactions.config.validate`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from emailactions.config.dkim import DKIMConfig
from emailactions.config.server import ServerConfig
from emailactions.config.smtp_server import SmtpServerConfig
from emailactions.errors import ConfigError

#: Outbox file when the config names none.
OUTBOX_ENV = "EMAILACTIONS_OUTBOX"


def is_database_url(value: str) -> bool:
    """``postgresql://...`` (or ``postgres://``), as opposed to a file path."""
    return value.startswith(("postgresql://", "postgres://"))


def env_outbox_settings() -> dict[str, Any]:
    """``[outbox]`` keys from ``EMAILACTIONS_OUTBOX``: a file ``path``, or a database ``url``."""
    env = os.environ.get(OUTBOX_ENV)
    if not env:
        return {}
    return {"url": env, "backend": "postgresql"} if is_database_url(env) else {"path": Path(env)}


@dataclass(frozen=True)
class Limits:
    """Size limits checked before anything is composed or sent."""

    #: Envelope recipients per message (RFC 5321 servers must take 100).
    max_recipients: int = 100
    #: Characters in a subject (one unfolded header line is 998 octets).
    max_subject_chars: int = 998
    #: UTF-8 bytes of one body.
    max_body_bytes: int = 10 * 1024 * 1024
    #: Decoded bytes of one attachment (a common mail-API default).
    max_attachment_bytes: int = 20 * 1024 * 1024
    #: Decoded bytes of all attachments of one message.
    max_message_bytes: int = 25 * 1024 * 1024
    #: Recipients of one ``sendSeparately`` / ``destination`` call.
    max_bulk_recipients: int = 100_000


@dataclass(frozen=True)
class OutboxConfig:
    """``[outbox]``: where submitted mail waits and how it is retried.

    Times are in seconds. See ``docs/outbox.md`` for why each default is what it is.
    """

    #: SQLite file; ``None`` is an in-memory outbox (not crash-safe, one process).
    path: Path | None = None
    #: A ``register_outbox_backends`` name; ``None``: ``sqlite`` with a path, else ``memory``
    #: (a ``url`` sets ``postgresql``).
    backend: str | None = None
    #: PostgreSQL outbox, ``postgresql://user@host/db``: shared by workers on many hosts.
    url: str | None = field(default=None, repr=False)  # may hold a password
    #: A worker silent this long is dead: live workers release its leases (PostgreSQL and SQLite).
    dead_after: float = 30.0
    #: Delivery threads; ``None`` follows the transport's ``pool_size``
    #: (IDM's ``threadPoolSize``); ``0`` leaves delivery to ``emailactions worker``.
    workers: int | None = None
    #: Start in-process delivery when the host is built (file outboxes) or on first submit.
    autostart: bool = True
    max_attempts: int = 12
    max_age: float = 2 * 86400.0
    #: First retry delay; doubles per attempt up to ``backoff_max``, with jitter.
    backoff: float = 30.0
    backoff_max: float = 3600.0
    #: How long a worker owns an in-flight message before others may reclaim it.
    lease: float = 900.0
    #: How often an idle worker looks for due mail written by other processes.
    poll_interval: float = 1.0
    #: SQLite ``synchronous`` pragma: ``full`` survives power loss, ``normal`` a crash.
    synchronous: str = "full"
    #: The synchronous path retries temporary failures until this many seconds have passed.
    sync_deadline: float = 15.0
    sync_backoff: float = 0.5


#: Default per-recipient limit in-process: none, as in IDM (a script mailing
#: every new user with a fixed ``bcc`` must not stop at the sixth). The REST
#: server has its own, ``[server] recipient_limit``.
DEFAULT_RECIPIENT_LIMIT: str | None = None
RATE_STRATEGIES = ("moving-window", "fixed-window", "sliding-window-counter")
STORAGE_FALLBACKS = ("memory", "refuse", "allow")


@dataclass(frozen=True)
class RateLimitConfig:
    """``[rate_limits]``: "N per period" strings (``limits`` notation) per key kind; none by default."""

    enabled: bool = True
    #: Per envelope recipient, normalized (case, trailing dot of the domain).
    recipient: str | None = DEFAULT_RECIPIENT_LIMIT
    #: Per envelope sender.
    sender: str | None = None
    #: Per template name (every template its own counter); ``templates`` overrides by name.
    template: str | None = None
    templates: Mapping[str, str] = field(default_factory=dict)
    #: All mail through this host (or every host sharing ``storage``).
    global_: str | None = None
    strategy: str = "moving-window"
    #: A ``limits`` storage URI; ``redis://...`` shares counters between hosts.
    #: Left out of repr: a URI may carry a password.
    storage: str = field(default="memory://", repr=False)
    #: Over a limit, a submitted message is ``refuse``d (429) or ``defer``red.
    on_limit: str = "refuse"
    #: While ``storage`` is unreachable: count in ``memory`` per host, ``refuse``
    #: (429) or ``allow`` everything (see docs/ratelimits.md).
    storage_fallback: str = "memory"
    #: The relay's quota, taken per recipient before each send by whoever
    #: delivers; over it delivery waits, it does not fail.
    delivery: str | None = None


@dataclass(frozen=True)
class ScriptsConfig:
    """``[scripts]``: how scripts run."""

    #: ``"in-process"`` (trusted code, the default) or ``"process"``: each Python
    #: script in a child process with JavaScript's time and memory limits.
    python_isolation: str = "in-process"


@dataclass(frozen=True)
class Config:
    """Everything an :class:`~emailactions.ActionHost` needs to know."""

    #: Default sender when neither the request nor the template gives one.
    sender: str | None = None
    #: ``[email] allowed_senders``: patterns every ``from`` must fit; ``None``: any
    #: (see :mod:`emailactions.params.senders`).
    allowed_senders: tuple[str, ...] | None = None
    #: Alias (a key of ``transports``) that ``send`` uses.
    transport: str = "default"
    #: alias -> {"backend": name, **options}. Left out of repr: options hold passwords.
    transports: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {"default": {"backend": "console"}}, repr=False
    )
    limits: Limits = field(default_factory=Limits)
    #: An IDM conf folder, where ``emailTemplate-*.json`` live.
    conf_dir: Path | None = None
    #: Static recipient groups: name -> addresses (for ``destination``).
    groups: Mapping[str, list[Any]] = field(default_factory=dict)
    #: A folder of native templates (``<id>.json``); used instead of ``conf_dir``'s.
    templates_dir: Path | None = None
    #: ``[templates] store``, a ``register_template_stores`` name; ``None``:
    #: ``folder`` with ``templates_dir``, ``idm-folder`` with ``conf_dir``, else ``memory``.
    template_store: str | None = None
    #: Last locale tried for templates, after the request's and the template's.
    default_locale: str = "en"
    #: Where this config came from, for error messages.
    source: str = "defaults"
    outbox: OutboxConfig = field(default_factory=lambda: OutboxConfig(**env_outbox_settings()))
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    #: ``emailactions serve``: listen address, credentials, API limits.
    server: ServerConfig = field(default_factory=ServerConfig)
    scripts: ScriptsConfig = field(default_factory=ScriptsConfig)
    #: ``[dkim]``: sign every outgoing message; ``None``: no signing.
    dkim: DKIMConfig | None = None
    #: ``emailactions smtp-serve``: the SMTP submission front door.
    smtp_server: SmtpServerConfig = field(default_factory=SmtpServerConfig)

    def transport_options(self, alias: str | None = None) -> tuple[str, dict[str, Any]]:
        """(backend, options) for a transport alias."""
        alias = alias or self.transport
        if alias not in self.transports:
            raise ConfigError(f"No transport configured as {alias!r}", key=f"transports.{alias}")
        options = dict(self.transports[alias])
        return options.pop("backend"), options
