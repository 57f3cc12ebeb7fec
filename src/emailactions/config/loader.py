"""Load settings from a mapping, a TOML file or an IDM ``conf/`` folder.

Unknown keys and wrong types are refused at load, naming the key. Both
formats end up in one :class:`Config`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from emailactions.errors import ConfigError
from emailactions.params.send import Limits
from emailactions.config.server import ServerConfig, parse_server

#: Keys of IDM's ``external.email.json``.
IDM_KEYS = {
    "type", "host", "port", "from", "auth", "starttls", "ssl", "smtpProperties",
    "threadPoolSize", "connectiontimeout", "timeout", "writetimeout", "debug",
}  # fmt: skip
_IDM_DEFAULT_TIMEOUT_MS = 300_000
#: Outbox file when the config names none (IDM conf folders cannot name one).
OUTBOX_ENV = "EMAILACTIONS_OUTBOX"
#: In an IDM conf folder, the ``[server]`` settings of ``emailactions serve``
#: (IDM keeps its users elsewhere; this file holds only a ``[server]`` table).
SERVER_FILE = "emailactions-server.toml"


@dataclass(frozen=True)
class OutboxConfig:
    """``[outbox]``: where submitted mail waits and how it is retried.

    Times are in seconds. See ``docs/outbox.md`` for why each default is what it is.
    """

    #: SQLite file; ``None`` is an in-memory outbox (not crash-safe, one process).
    path: Path | None = None
    #: A ``register_outbox_backends`` name; ``None``: ``sqlite`` with a path, else ``memory``.
    backend: str | None = None
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


#: Default per-recipient limit: enough for a user retrying a password reset,
#: far too few to flood an inbox.
DEFAULT_RECIPIENT_LIMIT = "5 per 15 minutes; 40 per day"
RATE_STRATEGIES = ("moving-window", "fixed-window", "sliding-window-counter")


@dataclass(frozen=True)
class RateLimitConfig:
    """``[rate_limits]``: "N per period" strings (``limits`` notation) per key kind."""

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


@dataclass(frozen=True)
class Config:
    """Everything an :class:`~emailactions.ActionHost` needs to know."""

    #: Default sender when neither the request nor the template gives one.
    sender: str | None = None
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
    outbox: OutboxConfig = field(default_factory=lambda: OutboxConfig(path=_env_outbox()))
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    #: ``emailactions serve``: listen address, credentials, API limits.
    server: ServerConfig = field(default_factory=ServerConfig)

    def transport_options(self, alias: str | None = None) -> tuple[str, dict[str, Any]]:
        """(backend, options) for a transport alias."""
        alias = alias or self.transport
        if alias not in self.transports:
            raise ConfigError(f"No transport configured as {alias!r}", key=f"transports.{alias}")
        options = dict(self.transports[alias])
        return options.pop("backend"), options


def _typed(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    if isinstance(value, bool) and kind in (int, (int, float)):
        raise ConfigError(f"Config key {key!r} must be a number", key=key)
    if not isinstance(value, kind):
        raise ConfigError(f"Config key {key!r} has the wrong type: {type(value).__name__}", key=key)
    return value


def _unknown(data: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        key = f"{prefix}{extra[0]}"
        raise ConfigError(f"Unknown config key {key!r} (known: {', '.join(sorted(allowed))})", key=key)


def _limits(data: Any, prefix: str) -> Limits:
    _typed(data, dict, prefix.rstrip("."))
    names = {f.name for f in fields(Limits)}
    _unknown(data, names, prefix)
    values = {}
    for name, value in data.items():
        _typed(value, int, prefix + name)
        if value < 1:
            raise ConfigError(f"Config key {prefix + name!r} must be positive", key=prefix + name)
        values[name] = value
    return Limits(**values)


def _env_outbox() -> Path | None:
    env = os.environ.get(OUTBOX_ENV)
    return Path(env) if env else None


def _seconds(value: Any, key: str, *, minimum: float = 0.0) -> float:
    _typed(value, (int, float), key)
    if value < minimum:
        raise ConfigError(f"Config key {key!r} must be at least {minimum}", key=key)
    return float(value)


def _count(value: Any, key: str, *, minimum: int = 1) -> int:
    _typed(value, int, key)
    if value < minimum:
        raise ConfigError(f"Config key {key!r} must be at least {minimum}", key=key)
    return value


def _choice(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        raise ConfigError(f"Config key {key!r} must be one of {', '.join(choices)}", key=key)
    return value


def _outbox(data: Any, base: Path | None) -> OutboxConfig:
    _typed(data, Mapping, "outbox")
    names = {f.name for f in fields(OutboxConfig)}
    _unknown(data, names, "outbox.")
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"outbox.{name}"
        if name == "path":
            path = Path(_typed(value, str, key))
            values[name] = base / path if base is not None and not path.is_absolute() else path
        elif name == "workers":
            values[name] = _count(value, key, minimum=0)
        elif name == "max_attempts":
            values[name] = _count(value, key)
        elif name == "autostart":
            values[name] = _typed(value, bool, key)
        elif name == "synchronous":
            values[name] = _choice(value, ("full", "normal"), key)
        elif name == "backend":
            values[name] = _typed(value, str, key)
        else:
            # lease and poll_interval of 0 would spin or steal live work.
            values[name] = _seconds(value, key, minimum=0.001 if name in ("lease", "poll_interval") else 0.0)
    values.setdefault("path", _env_outbox())
    settings = OutboxConfig(**values)
    if settings.backoff_max < settings.backoff:
        raise ConfigError("Config key 'outbox.backoff_max' must not be below 'outbox.backoff'", key="outbox.backoff_max")
    return settings


def _limit_string(value: Any, key: str) -> str | None:
    """A ``limits`` "N per period" string, checked now so a typo fails at load."""
    if value is None or value == "":
        return None  # "" switches a default limit off
    from limits import parse_many

    try:
        parse_many(_typed(value, str, key))
    except ValueError:
        raise ConfigError(f"Config key {key!r} is not a rate like '5 per minute; 100 per day': {value!r}", key=key) from None
    return value


def _storage_uri(value: Any, key: str) -> str:
    """A ``limits`` storage URI whose scheme ``limits`` knows (``memory://``, ``redis://``...)."""
    from limits.storage import SCHEMES

    scheme = _typed(value, str, key).partition("://")[0]
    if scheme not in SCHEMES:
        raise ConfigError(f"Config key {key!r}: unknown storage {scheme!r} (known: {', '.join(sorted(SCHEMES))})", key=key)
    return value


def _rate_limits(data: Any) -> RateLimitConfig:
    _typed(data, Mapping, "rate_limits")
    allowed = {"enabled", "recipient", "sender", "template", "templates", "global", "strategy", "storage", "on_limit"}
    _unknown(data, allowed, "rate_limits.")
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"rate_limits.{name}"
        if name == "enabled":
            values[name] = _typed(value, bool, key)
        elif name == "templates":
            _typed(value, Mapping, key)
            values[name] = {str(t): _limit_string(v, f"{key}.{t}") for t, v in value.items()}
        elif name == "strategy":
            values[name] = _choice(value, RATE_STRATEGIES, key)
        elif name == "on_limit":
            values[name] = _choice(value, ("refuse", "defer"), key)
        elif name == "storage":
            values[name] = _storage_uri(value, key)
        else:
            values["global_" if name == "global" else name] = _limit_string(value, key)
    return RateLimitConfig(**values)


def from_mapping(data: Mapping[str, Any], *, source: str = "mapping", base: Path | None = None) -> Config:
    """The native schema (as in ``emailactions.toml``)::

        [email]               from, transport, conf, [email.limits]
        [templates]           store = "idm-folder" | "folder" | "memory" | a plugin's
        [transports.<alias>]  backend = "smtp" | "file" | ..., then its options
        [outbox]              path, backend, workers, max_attempts, max_age, backoff, ...
        [rate_limits]         recipient, sender, template, global, on_limit, ...
        [server]              host, port, users, api_keys, anonymous, ... (docs/server.md)
    """
    _typed(data, Mapping, "config")
    _unknown(data, {"email", "templates", "transports", "groups", "outbox", "rate_limits", "server"}, "")
    email = data.get("email", {})
    _typed(email, Mapping, "email")
    _unknown(email, {"from", "transport", "limits", "conf", "templates", "default_locale"}, "email.")
    sender = email.get("from")
    if sender is not None:
        _typed(sender, str, "email.from")
    transports: dict[str, dict[str, Any]] = {}
    for alias, options in _typed(data.get("transports", {}), Mapping, "transports").items():
        _typed(options, Mapping, f"transports.{alias}")
        if not isinstance(options.get("backend"), str):
            raise ConfigError(f"Config key 'transports.{alias}.backend' is required", key=f"transports.{alias}.backend")
        transports[alias] = dict(options)
    if not transports:
        transports = {"default": {"backend": "console"}}
    transport = _typed(email.get("transport", "default" if "default" in transports else next(iter(transports))), str, "email.transport")
    if transport not in transports:
        raise ConfigError(f"Config key 'email.transport' names no transport: {transport!r}", key="email.transport")
    groups: dict[str, list[Any]] = {}
    for name, members in _typed(data.get("groups", {}), Mapping, "groups").items():
        if not isinstance(members, list) or not all(isinstance(m, (str, Mapping)) for m in members):
            raise ConfigError(f"Config key 'groups.{name}' must be a list of addresses", key=f"groups.{name}")
        groups[name] = list(members)
    conf_dir = _folder(email, "conf", base)
    templates_dir = _folder(email, "templates", base)
    templates = _typed(data.get("templates", {}), Mapping, "templates")
    _unknown(templates, {"store"}, "templates.")
    store = templates.get("store")
    return Config(
        templates_dir=templates_dir,
        template_store=None if store is None else _typed(store, str, "templates.store"),
        default_locale=_locale(email.get("default_locale", "en"), "email.default_locale"),
        sender=sender,
        transport=transport,
        transports=transports,
        limits=_limits(email.get("limits", {}), "email.limits."),
        groups=groups,
        conf_dir=conf_dir,
        source=source,
        outbox=_outbox(data.get("outbox", {}), base),
        rate_limits=_rate_limits(data.get("rate_limits", {})),
        server=parse_server(data.get("server", {}), base=base),
    )


def _folder(email: Mapping[str, Any], name: str, base: Path | None) -> Path | None:
    """A folder key, relative to the config file's own folder."""
    if name not in email:
        return None
    folder = Path(_typed(email[name], str, f"email.{name}"))
    return base / folder if base is not None and not folder.is_absolute() else folder


def _locale(value: Any, key: str) -> str:
    from emailactions.errors import InvalidParams
    from emailactions.locales.tags import normalize

    try:
        return normalize(_typed(value, str, key), key)
    except InvalidParams as exc:
        raise ConfigError(f"Config key {key!r}: {exc.message}", key=key) from None


def _ms(value: Any, key: str) -> float:
    """IDM timeouts: milliseconds as a number or numeric string; 0 means none."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return _typed(value, int, key) / 1000.0


def from_idm(data: Mapping[str, Any], *, source: str = "external.email.json") -> dict[str, Any]:
    """Map IDM's ``external.email.json`` onto SMTP transport options."""
    _typed(data, Mapping, "external.email.json")
    _unknown(data, IDM_KEYS, "")
    kind = data.get("type", "smtp")
    if kind != "smtp":
        raise ConfigError(f"Config key 'type': {kind!r} is not supported (only 'smtp')", key="type")
    if "host" not in data:
        raise ConfigError("Config key 'host' is required", key="host")
    port = data.get("port", 25)
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port)
    options: dict[str, Any] = {"backend": "smtp", "host": _typed(data["host"], str, "host"), "port": _typed(port, int, "port")}
    for section, option in (("starttls", "starttls"), ("ssl", "ssl")):
        value = _typed(data.get(section, {}), Mapping, section)
        _unknown(value, {"enable"}, f"{section}.")
        options[option] = _typed(value.get("enable", False), bool, f"{section}.enable")
    auth = _typed(data.get("auth", {}), Mapping, "auth")
    _unknown(auth, {"enable", "username", "password"}, "auth.")
    if _typed(auth.get("enable", False), bool, "auth.enable"):
        password = auth.get("password")
        if isinstance(password, Mapping):
            raise ConfigError("Config key 'auth.password': IDM-encrypted values cannot be read; give the clear text", key="auth.password")
        options["username"] = _typed(auth.get("username"), str, "auth.username")
        options["password"] = _typed(password, str, "auth.password")
    timeouts = {k: _ms(data.get(k, _IDM_DEFAULT_TIMEOUT_MS), k) for k in ("connectiontimeout", "timeout", "writetimeout")}
    options["connect_timeout"] = timeouts["connectiontimeout"]
    # smtplib has one socket timeout for reads and writes: take the stricter.
    nonzero = [t for t in (timeouts["timeout"], timeouts["writetimeout"]) if t]
    options["timeout"] = min(nonzero) if nonzero else 0
    pool = data.get("threadPoolSize", 20)
    if isinstance(pool, str) and pool.strip().isdigit():
        pool = int(pool)
    options["pool_size"] = _typed(pool, int, "threadPoolSize")
    options["debug"] = _typed(data.get("debug", False), bool, "debug")
    for i, prop in enumerate(_typed(data.get("smtpProperties", []), list, "smtpProperties")):
        key = f"smtpProperties[{i}]"
        if not isinstance(prop, str) or "=" not in prop:
            raise ConfigError(f"Config key {key!r} must be a 'name=value' string", key=key)
        name, _, value = (part.strip() for part in prop.partition("="))
        if name == "mail.smtp.ssl.protocols":
            # Java lists allowed protocols; the oldest one is our minimum.
            versions = sorted(v.strip() for v in value.split() if v.strip())
            options["min_tls_version"] = versions[0] if versions else None
        elif name == "mail.smtp.localhost":
            options["local_hostname"] = value
        # Other JavaMail properties (mail.mime.allowutf8, ...) need no setting here.
    return options


def load_idm_conf(conf_dir: Path) -> Config:
    """An IDM ``conf/`` folder: ``external.email.json`` plus templates beside it."""
    path = conf_dir / "external.email.json"
    server = _server_file(conf_dir / SERVER_FILE)
    if not path.is_file():
        return Config(conf_dir=conf_dir, source=str(conf_dir), server=server)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", key=str(path)) from exc
    options = from_idm(data, source=str(path))
    sender = data.get("from") or None
    if sender is not None:
        _typed(sender, str, "from")
    return Config(sender=sender, transports={"default": options}, conf_dir=conf_dir, source=str(path), server=server)


def _server_file(path: Path) -> ServerConfig:
    """``emailactions-server.toml`` beside IDM's files, if there is one."""
    if not path.is_file():
        return ServerConfig()
    data = _read_toml(path)
    _unknown(data, {"server"}, "")
    return parse_server(data.get("server", {}), base=path.parent)


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", key=str(path)) from exc


def load_toml(path: Path) -> Config:
    """A native ``emailactions.toml`` file."""
    return from_mapping(_read_toml(path), source=str(path), base=path.parent)


def load_config(config: Config | Mapping[str, Any] | str | os.PathLike[str] | None) -> Config:
    """Whatever ``ActionHost(config)`` was given, as a :class:`Config`."""
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return from_mapping(config)
    path = Path(config)
    if path.is_dir():
        return load_idm_conf(path)
    if path.is_file():
        if path.name.endswith(".json"):
            return load_idm_conf(path.parent) if path.name == "external.email.json" else _bad_file(path)
        return load_toml(path)
    raise ConfigError(f"Config path does not exist: {str(path)!r}", key="config")


def _bad_file(path: Path) -> Config:
    raise ConfigError(f"Config file must be TOML or an IDM conf folder: {str(path)!r}", key="config")


def default_config_source() -> str | None:
    """``EMAILACTIONS_CONFIG``, else ``./emailactions.toml`` if present, else none."""
    env = os.environ.get("EMAILACTIONS_CONFIG")
    if env:
        return env
    return "emailactions.toml" if Path("emailactions.toml").is_file() else None
