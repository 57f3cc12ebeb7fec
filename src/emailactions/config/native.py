"""The native schema (``emailactions.toml``, or the same as a mapping) -> :class:`Config`.

Every value goes through :mod:`emailactions.config.validate`, so unknown keys
and wrong types are refused at load, naming the full dotted key.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from emailactions.config import validate
from emailactions.config.model import RATE_STRATEGIES, STORAGE_FALLBACKS, Config, OutboxConfig, RateLimitConfig, ScriptsConfig, env_outbox_settings, is_database_url
from emailactions.config.dkim import parse_dkim
from emailactions.config.server import parse_server, sender_patterns
from emailactions.config.smtp_server import parse_smtp_server
from emailactions.errors import ConfigError
from emailactions.config.model import Limits

#: The top-level tables.
SECTIONS = {"email", "templates", "transports", "groups", "outbox", "rate_limits", "server", "scripts", "dkim", "smtp_server"}
EMAIL_KEYS = {"from", "transport", "limits", "conf", "templates", "default_locale", "allowed_senders"}


def from_mapping(data: Mapping[str, Any], *, source: str = "mapping", base: Path | None = None) -> Config:
    """The native schema (as in ``emailactions.toml``); ``base`` anchors relative paths::

        [email]               from, transport, conf, allowed_senders, [email.limits]
        [templates]           store = "idm-folder" | "folder" | "memory" | a plugin's
        [transports.<alias>]  backend = "smtp" | "file" | ..., then its options
        [outbox]              path, url, backend, workers, max_attempts, max_age, backoff, ...
        [rate_limits]         recipient, sender, template, global, on_limit, delivery, storage, ...
        [server]              host, port, users, api_keys, anonymous, ... (docs/server.md)
        [scripts]             python_isolation = "in-process" | "process"
        [dkim]                domain, selector, private_key, algorithm, headers, oversign (docs/dkim.md)
        [smtp_server]         host, port, tls_cert, tls_key, ... (docs/smtp-server.md)
    """
    validate.typed(data, Mapping, "config")
    validate.known(data, SECTIONS, "")
    email = validate.table(data.get("email", {}), EMAIL_KEYS, "email")
    sender = email.get("from")
    if sender is not None:
        validate.typed(sender, str, "email.from")
    transports = _transports(data.get("transports", {}))
    transport = validate.typed(email.get("transport", "default" if "default" in transports else next(iter(transports))), str, "email.transport")
    if transport not in transports:
        raise ConfigError(f"Config key 'email.transport' names no transport: {transport!r}", key="email.transport")
    templates = validate.table(data.get("templates", {}), {"store"}, "templates")
    return Config(
        template_store=validate.typed(templates["store"], str, "templates.store") if "store" in templates else None,
        templates_dir=validate.path(email["templates"], "email.templates", base) if "templates" in email else None,
        default_locale=validate.locale(email.get("default_locale", "en"), "email.default_locale"),
        sender=sender,
        allowed_senders=sender_patterns(email["allowed_senders"], "email.allowed_senders") if "allowed_senders" in email else None,
        transport=transport,
        transports=transports,
        limits=_limits(email.get("limits", {}), "email.limits"),
        groups=_groups(data.get("groups", {})),
        conf_dir=validate.path(email["conf"], "email.conf", base) if "conf" in email else None,
        source=source,
        outbox=_outbox(data.get("outbox", {}), base),
        rate_limits=_rate_limits(data.get("rate_limits", {})),
        server=parse_server(data.get("server", {}), base=base),
        scripts=ScriptsConfig(**validate.section(data.get("scripts", {}), {
            "python_isolation": partial(validate.choice, choices=("in-process", "process")),
        }, "scripts")),  # fmt: skip
        dkim=parse_dkim(data["dkim"], base) if "dkim" in data else None,
        smtp_server=parse_smtp_server(data.get("smtp_server", {}), base=base),
    )


def _transports(data: Any) -> dict[str, dict[str, Any]]:
    """``[transports.<alias>]``: each needs a ``backend``; none at all is the console."""
    transports: dict[str, dict[str, Any]] = {}
    for alias, options in validate.typed(data, Mapping, "transports").items():
        validate.typed(options, Mapping, f"transports.{alias}")
        if not isinstance(options.get("backend"), str):
            raise ConfigError(f"Config key 'transports.{alias}.backend' is required", key=f"transports.{alias}.backend")
        transports[alias] = dict(options)
    return transports or {"default": {"backend": "console"}}


def _groups(data: Any) -> dict[str, list[Any]]:
    """``[groups]``: name -> a list of addresses (strings or address objects)."""
    groups: dict[str, list[Any]] = {}
    for name, members in validate.typed(data, Mapping, "groups").items():
        if not isinstance(members, list) or not all(isinstance(m, (str, Mapping)) for m in members):
            raise ConfigError(f"Config key 'groups.{name}' must be a list of addresses", key=f"groups.{name}")
        groups[name] = list(members)
    return groups


def _limits(data: Any, key: str) -> Limits:
    """``[email.limits]``: positive whole numbers."""
    validate.table(data, {f.name for f in fields(Limits)}, key)
    for name, value in data.items():
        if validate.typed(value, int, f"{key}.{name}") < 1:
            raise ConfigError(f"Config key '{key}.{name}' must be positive", key=f"{key}.{name}")
    return Limits(**data)


def _outbox(data: Any, base: Path | None) -> OutboxConfig:
    """``[outbox]``: where submitted mail waits and how it is retried."""
    # lease and poll_interval of 0 would spin or steal live work.
    live = partial(validate.seconds, minimum=0.001)
    values = validate.section(data, {
        "path": lambda value, key: validate.path(value, key, base),
        "backend": lambda value, key: validate.typed(value, str, key),
        "url": _database_url, "dead_after": partial(validate.seconds, minimum=0.1),
        "workers": partial(validate.count, minimum=0), "max_attempts": validate.count, "autostart": validate.flag,
        "max_age": validate.seconds, "backoff": validate.seconds, "backoff_max": validate.seconds,
        "lease": live, "poll_interval": live,
        "synchronous": partial(validate.choice, choices=("full", "normal")),
        "sync_deadline": validate.seconds, "sync_backoff": validate.seconds,
    }, "outbox")  # fmt: skip
    if "path" in values and "url" in values:
        raise ConfigError("Config keys 'outbox.path' and 'outbox.url' name two outboxes: give one", key="outbox.url")
    if "path" not in values and "url" not in values:
        values.update(env_outbox_settings())
    if "url" in values:
        values.setdefault("backend", "postgresql")
    settings = OutboxConfig(**values)
    if settings.backoff_max < settings.backoff:
        raise ConfigError("Config key 'outbox.backoff_max' must not be below 'outbox.backoff'", key="outbox.backoff_max")
    return settings


def _database_url(value: Any, key: str) -> str:
    """A ``postgresql://`` URL (libpq's forms; the driver reads the rest)."""
    if not is_database_url(validate.typed(value, str, key)):
        raise ConfigError(f"Config key {key!r} must be a postgresql:// URL", key=key)
    return value


def _rate_limits(data: Any) -> RateLimitConfig:
    """``[rate_limits]``: "N per period" strings per key kind, and how to count."""
    values = validate.section(data, {
        "enabled": validate.flag, "recipient": validate.limit_string, "sender": validate.limit_string,
        "template": validate.limit_string, "templates": _template_limits, "global": validate.limit_string,
        "strategy": partial(validate.choice, choices=RATE_STRATEGIES),
        "on_limit": partial(validate.choice, choices=("refuse", "defer")),
        "storage": validate.storage_uri,
        "storage_fallback": partial(validate.choice, choices=STORAGE_FALLBACKS),
        "delivery": validate.limit_string,
    }, "rate_limits")  # fmt: skip
    if "global" in values:
        values["global_"] = values.pop("global")
    return RateLimitConfig(**values)


def _template_limits(value: Any, key: str) -> dict[str, str | None]:
    """``[rate_limits.templates]``: template name -> its own limit."""
    return {str(name): validate.limit_string(limit, f"{key}.{name}") for name, limit in validate.typed(value, Mapping, key).items()}
