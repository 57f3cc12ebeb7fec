"""The ``[smtp_server]`` config section: the SMTP submission front door (``emailactions smtp-serve``).

Checked like every other section (:mod:`emailactions.config.validate`):
unknown keys and wrong types are refused at load, naming the dotted key.
Identities come from ``[server]`` (users, API keys, ``jwt_secret``), so one
set of credentials serves REST and SMTP alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emailactions.config import validate
from emailactions.errors import ConfigError

if TYPE_CHECKING:
    from emailactions.config.model import Limits

#: Room for the header block of a message beyond its bodies and attachments.
HEADER_ROOM = 256 * 1024


@dataclass(frozen=True)
class SmtpServerConfig:
    """Everything ``emailactions smtp-serve`` needs beyond ``[server]``'s identities."""

    host: str = "127.0.0.1"
    #: The port cloudflare_temp_email's SMTP proxy documents (no root needed).
    port: int = 8025
    #: Name in the greeting and EHLO reply; ``None``: this machine's FQDN.
    hostname: str | None = None
    #: PEM certificate chain and key: STARTTLS is offered (both or neither).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Speak TLS from the first byte (port 465 style) instead of offering STARTTLS.
    implicit_tls: bool = False
    #: The SIZE advertised and enforced; ``None``: :func:`message_limit` of ``[email.limits]``.
    max_message_bytes: int | None = None
    #: Connections served at once; more are greeted with 421 and closed.
    max_connections: int = 100
    #: Messages one connection may submit before it is closed (421).
    max_messages_per_connection: int = 100
    #: Refused commands (5xx replies) one connection may collect before it is closed (421).
    max_bad_commands: int = 10
    #: Messages per identity (user, API key or address); ``None`` switches it off.
    identity_limit: str | None = "100 per minute"
    #: Seconds of client silence before the connection is dropped.
    timeout: float = 300.0


def message_limit(limits: Limits) -> int:
    """The default SIZE: the largest message ``[email.limits]`` admit, its
    attachments base64-encoded (4 bytes per 3), one body text at its limit,
    and :data:`HEADER_ROOM` (43.6 MiB with the defaults)."""
    return 4 * -(-limits.max_message_bytes // 3) + limits.max_body_bytes + HEADER_ROOM


def parse_smtp_server(data: Any, base: Path | None = None, prefix: str = "smtp_server") -> SmtpServerConfig:
    """The ``[smtp_server]`` table (see ``docs/smtp-server.md``), checked key by key."""
    values = validate.section(data, {
        "host": lambda value, key: validate.typed(value, str, key),
        "port": partial(validate.count, minimum=0, maximum=65535),
        "hostname": lambda value, key: validate.typed(value, str, key),
        "tls_cert": lambda value, key: _file(value, key, base),
        "tls_key": lambda value, key: _file(value, key, base),
        "implicit_tls": validate.flag,
        "max_message_bytes": partial(validate.count, minimum=1024),
        "max_connections": validate.count,
        "max_messages_per_connection": validate.count,
        "max_bad_commands": validate.count,
        "identity_limit": validate.limit_string,
        "timeout": partial(validate.seconds, minimum=1.0),
    }, prefix)  # fmt: skip
    if ("tls_cert" in values) != ("tls_key" in values):
        raise ConfigError(f"Config keys '{prefix}.tls_cert' and '{prefix}.tls_key' go together", key=f"{prefix}.tls_cert")
    if values.get("implicit_tls") and "tls_cert" not in values:
        raise ConfigError(f"Config key '{prefix}.implicit_tls' needs '{prefix}.tls_cert' and '{prefix}.tls_key'", key=f"{prefix}.implicit_tls")
    return SmtpServerConfig(**values)


def _file(value: Any, key: str, base: Path | None) -> Path:
    path = validate.path(value, key, base)
    if not path.is_file():
        raise ConfigError(f"Config key {key!r}: no such file {str(path)!r}", key=key)
    return path
