"""The ``[server]`` config section: listen address, credentials, permissions, limits.

Checked by the same validator as the rest of the config
(:mod:`emailactions.config.validate`): unknown keys and wrong types are
refused at load, naming the full dotted key. Password hashes and API-key
digests are checked here too, so a typo fails at start, not at the first login.
No web framework is imported: ``import emailactions`` stays light.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from emailactions.config import validate
from emailactions.errors import ConfigError, EmailActionsError

if TYPE_CHECKING:
    from emailactions.config.model import Limits
    # hashlib and secrets cost ~8 ms to import; only configs with users need them.
    from emailactions.config.passwords import PasswordHash

#: Permission -> what it allows. ``templates`` and ``*`` expand to several.
PERMISSIONS: dict[str, str] = {
    "send": "external/email send",
    "sendTemplate": "external/email sendTemplate, and FusionAuth-style /api/email/send",
    "preview": "render a template without sending",
    "templates:read": "read, list and search templates",
    "templates:write": "create, replace, merge and delete templates",
    "templates": "templates:read, templates:write and preview",
    "outbox": "external/email/outbox actions (list, show, retry, purge, drain)",
    "*": "everything",
}
_EXPANDS = {
    "templates": {"templates", "templates:read", "templates:write", "preview"},
    "*": set(PERMISSIONS),
}
#: ``X-OpenIDM-Username: anonymous`` is how IDM clients ask for anonymous access.
ANONYMOUS = "anonymous"
#: Per-recipient limit on mail sent by REST callers without ``*``: enough for a
#: user retrying a password reset, far too few to flood an inbox.
SERVER_RECIPIENT_LIMIT = "5 per 15 minutes; 40 per day"
#: Room in a request body beyond attachments and one body text: addresses,
#: subject, template data, JSON syntax.
JSON_OVERHEAD_BYTES = 1024 * 1024
SERVER_KEYS = {
    "host", "port", "max_body_bytes", "shutdown_timeout", "anonymous", "roles", "users", "api_keys",
    "rate_limits", "recipient_limit", "trusted_proxies", "tls_cert", "tls_key", "apis", "jwt_secret", "fusionauth",
}  # fmt: skip
#: The REST dialects that ship with emailactions (``[server] apis`` picks among them).
APIS = ("idm", "fusionauth", "enswitch", "tempmail", "naverworks")
#: Where ``emailactions address-token`` and the tempmail dialect find the
#: signing secret when ``[server] jwt_secret`` is not set.
JWT_SECRET_ENV = "EMAILACTIONS_JWT_SECRET"
#: Shortest secret accepted: an HMAC key shorter than its SHA-256 output is guessable offline.
MIN_JWT_SECRET = 32


def body_limit(limits: Limits) -> int:
    """The default request body limit: room for the largest message ``limits``
    admit, its attachments base64-encoded (4 bytes per 3), one body text at
    its limit, and :data:`JSON_OVERHEAD_BYTES` (44.3 MiB with the defaults)."""
    return 4 * -(-limits.max_message_bytes // 3) + limits.max_body_bytes + JSON_OVERHEAD_BYTES


def expand(permissions: set[str]) -> frozenset[str]:
    """Permissions with ``templates`` and ``*`` spelled out."""
    out: set[str] = set()
    for name in permissions:
        out |= _EXPANDS.get(name, {name})
    return frozenset(out)


@dataclass(frozen=True)
class User:
    """A user for IDM's header auth (or HTTP Basic), with a hashed password."""

    name: str
    password: PasswordHash = field(repr=False)
    permissions: frozenset[str] = frozenset()
    #: The user's own address: what ``destination = "me"`` and the
    #: NAVER WORKS dialect send from or to.
    email: str | None = None
    #: Sender patterns this user may send as; ``None``: see :data:`Principal.senders`.
    senders: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ApiKey:
    """A FusionAuth-style API key, kept as its SHA-256 only."""

    name: str
    digest: bytes = field(repr=False)
    permissions: frozenset[str] = frozenset()
    #: Sender patterns this key may send as (one address binds it to that address).
    senders: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ApiRateLimits:
    """``[server.rate_limits]``: "N per period" strings; ``None`` switches one off."""

    enabled: bool = True
    #: Per authenticated user or API key.
    caller: str | None = "600 per minute"
    #: Per client address, for requests without credentials.
    anonymous: str | None = "60 per minute"
    #: Failed logins per client address; past it, logins are not even checked.
    auth_failures: str | None = "10 per minute"


@dataclass(frozen=True)
class FusionAuthData:
    """``[server.fusionauth]``: what FusionAuth templates see as ``application`` and ``tenant``."""

    application: Mapping[str, Any] = field(default_factory=lambda: {"name": "emailactions"})
    tenant: Mapping[str, Any] = field(default_factory=lambda: {"name": "Default"})


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``emailactions serve`` needs beyond the host's own config."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Largest request body read; more is a 413 before it is parsed. ``None``:
    #: :func:`body_limit` of the host's ``[email.limits]``.
    max_body_bytes: int | None = None
    #: Seconds a stopping server waits for requests in flight.
    shutdown_timeout: float = 30.0
    #: What a request without credentials may do (nothing by default).
    anonymous: frozenset[str] = frozenset()
    users: Mapping[str, User] = field(default_factory=dict)
    api_keys: Mapping[str, ApiKey] = field(default_factory=dict)
    rate_limits: ApiRateLimits = field(default_factory=ApiRateLimits)
    #: Mail per recipient from callers without the ``*`` permission (on top of
    #: ``[rate_limits]``); ``None`` (``""`` in the file) switches it off.
    recipient_limit: str | None = SERVER_RECIPIENT_LIMIT
    #: Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (none by
    #: default: otherwise any local client could pick its own address for the limits).
    trusted_proxies: tuple[str, ...] = ()
    #: PEM certificate chain and key: serve HTTPS (both or neither).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: The REST dialects served, among :data:`APIS`.
    apis: tuple[str, ...] = ("idm", "fusionauth")
    #: HS256 secret of address tokens (``emailactions address-token``, the
    #: tempmail dialect); ``None``: ``EMAILACTIONS_JWT_SECRET``.
    jwt_secret: str | None = field(default=None, repr=False)

    def address_token_secret(self) -> str | None:
        """``jwt_secret``, else the environment's :data:`JWT_SECRET_ENV`, else ``None``."""
        return self.jwt_secret or os.environ.get(JWT_SECRET_ENV) or None
    fusionauth: FusionAuthData = field(default_factory=FusionAuthData)


def parse_server(data: Any, prefix: str = "server", base: Path | None = None) -> ServerConfig:
    """The ``[server]`` table (see ``docs/server.md``), checked key by key."""
    validate.table(data, SERVER_KEYS, prefix)
    roles: dict[str, set[str]] = {}
    for name, perms in validate.typed(data.get("roles", {}), Mapping, f"{prefix}.roles").items():
        roles[name] = _permissions(perms, f"{prefix}.roles.{name}")

    def grants(entry: Mapping[str, Any], key: str) -> frozenset[str]:
        perms = _permissions(entry.get("permissions", []), f"{key}.permissions")
        for i, role in enumerate(validate.typed(entry.get("roles", []), list, f"{key}.roles")):
            if role not in roles:
                raise ConfigError(f"Config key '{key}.roles[{i}]' names no role in [{prefix}.roles]: {role!r}", key=f"{key}.roles")
            perms |= roles[role]
        return expand(perms)

    users: dict[str, User] = {}
    for name, entry in validate.typed(data.get("users", {}), Mapping, f"{prefix}.users").items():
        key = f"{prefix}.users.{name}"
        validate.table(entry, {"password", "permissions", "roles", "email", "senders"}, key)
        if name == ANONYMOUS or not name or ":" in name:
            raise ConfigError(f"Config key {key!r}: a user may not be called {name!r}", key=key)
        if "password" not in entry:
            raise ConfigError(f"Config key '{key}.password' is required (a hash from `emailactions hash-password`)", key=f"{key}.password")
        try:
            from emailactions.config.passwords import parse_hash

            password = parse_hash(validate.typed(entry["password"], str, f"{key}.password"))
        except ValueError as exc:
            raise ConfigError(f"Config key '{key}.password': {exc}", key=f"{key}.password") from None
        email = None
        if "email" in entry:
            from emailactions.params.addresses import parse_address

            try:
                email = parse_address(validate.typed(entry["email"], str, f"{key}.email"), "email").addr
            except EmailActionsError as exc:
                raise ConfigError(f"Config key '{key}.email': {exc.message}", key=f"{key}.email") from None
        users[name] = User(name, password, grants(entry, key), email, _senders(entry, key))

    api_keys: dict[str, ApiKey] = {}
    digests: set[bytes] = set()
    for name, entry in validate.typed(data.get("api_keys", {}), Mapping, f"{prefix}.api_keys").items():
        key = f"{prefix}.api_keys.{name}"
        validate.table(entry, {"key", "key_sha256", "permissions", "roles", "senders"}, key)
        digest = _key(entry, key)
        if digest in digests:
            raise ConfigError(f"Config key {key!r}: the same key is configured twice", key=key)
        digests.add(digest)
        api_keys[name] = ApiKey(name, digest, grants(entry, key), _senders(entry, key))

    values: dict[str, Any] = {"users": users, "api_keys": api_keys}
    if "host" in data:
        values["host"] = validate.typed(data["host"], str, f"{prefix}.host")
    if "port" in data:
        values["port"] = validate.count(data["port"], f"{prefix}.port", minimum=0, maximum=65535)
    if "max_body_bytes" in data:
        values["max_body_bytes"] = validate.count(data["max_body_bytes"], f"{prefix}.max_body_bytes", minimum=2)
    if "shutdown_timeout" in data:
        values["shutdown_timeout"] = validate.seconds(data["shutdown_timeout"], f"{prefix}.shutdown_timeout")
    if "anonymous" in data:
        values["anonymous"] = expand(_permissions(data["anonymous"], f"{prefix}.anonymous"))
    values["rate_limits"] = ApiRateLimits(**validate.section(data.get("rate_limits", {}), {
        "enabled": validate.flag, "caller": validate.limit_string,
        "anonymous": validate.limit_string, "auth_failures": validate.limit_string,
    }, f"{prefix}.rate_limits"))  # fmt: skip
    if "recipient_limit" in data:
        values["recipient_limit"] = validate.limit_string(data["recipient_limit"], f"{prefix}.recipient_limit")
    proxies = validate.typed(data.get("trusted_proxies", []), list, f"{prefix}.trusted_proxies")
    if not all(isinstance(p, str) and p for p in proxies):
        raise ConfigError(f"Config key '{prefix}.trusted_proxies' must be a list of addresses", key=f"{prefix}.trusted_proxies")
    values["trusted_proxies"] = tuple(proxies)
    if ("tls_cert" in data) != ("tls_key" in data):
        raise ConfigError(f"Config keys '{prefix}.tls_cert' and '{prefix}.tls_key' go together", key=f"{prefix}.tls_cert")
    for name in ("tls_cert", "tls_key"):
        if name in data:
            path = validate.path(data[name], f"{prefix}.{name}", base)
            if not path.is_file():
                raise ConfigError(f"Config key '{prefix}.{name}': no such file {str(path)!r}", key=f"{prefix}.{name}")
            values[name] = path
    apis = validate.typed(data.get("apis", list(ServerConfig.apis)), list, f"{prefix}.apis")
    for i, api in enumerate(apis):
        if api not in APIS:
            raise ConfigError(f"Config key '{prefix}.apis[{i}]': unknown API {api!r} (known: {', '.join(APIS)})", key=f"{prefix}.apis")
    values["apis"] = tuple(dict.fromkeys(apis))
    if "jwt_secret" in data:
        secret = validate.typed(data["jwt_secret"], str, f"{prefix}.jwt_secret")
        if len(secret) < MIN_JWT_SECRET:
            raise ConfigError(f"Config key '{prefix}.jwt_secret' must be at least {MIN_JWT_SECRET} characters", key=f"{prefix}.jwt_secret")
        values["jwt_secret"] = secret
    fusionauth = validate.typed(data.get("fusionauth", {}), Mapping, f"{prefix}.fusionauth")
    validate.table(fusionauth, {"application", "tenant"}, f"{prefix}.fusionauth")
    values["fusionauth"] = FusionAuthData(**{
        name: dict(validate.typed(fusionauth[name], Mapping, f"{prefix}.fusionauth.{name}")) for name in ("application", "tenant") if name in fusionauth
    })  # fmt: skip
    return ServerConfig(**values)


def _senders(entry: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    return sender_patterns(entry["senders"], f"{key}.senders") if "senders" in entry else None


def sender_patterns(value: Any, key: str) -> tuple[str, ...]:
    """Sender patterns (``*``, ``*@example.com``, ``noreply@example.com``), lower-cased."""
    patterns = []
    for i, pattern in enumerate(validate.typed(value, list, key)):
        local, at, domain = pattern.rpartition("@") if isinstance(pattern, str) else ("", "", "")
        if pattern != "*" and not (at and local and domain and "*" not in domain and (local == "*" or "*" not in local)):
            raise ConfigError(
                f"Config key '{key}[{i}]' must be '*', '*@domain' or an address: {pattern!r}", key=key
            )
        patterns.append(pattern.lower())
    return tuple(patterns)


def _permissions(value: Any, key: str) -> set[str]:
    """Permission names from a list, each one known."""
    out = set()
    for i, name in enumerate(validate.typed(value, list, key)):
        if name not in PERMISSIONS:
            raise ConfigError(f"Config key '{key}[{i}]': unknown permission {name!r} (known: {', '.join(PERMISSIONS)})", key=key)
        out.add(name)
    return out


def _key(entry: Mapping[str, Any], key: str) -> bytes:
    """An API key's digest, from ``key_sha256`` (preferred) or a plain ``key``."""
    if ("key" in entry) == ("key_sha256" in entry):
        raise ConfigError(f"Config key {key!r} needs exactly one of 'key_sha256' or 'key'", key=key)
    if "key" in entry:
        plain = validate.typed(entry["key"], str, f"{key}.key")
        if len(plain) < 16:
            raise ConfigError(f"Config key '{key}.key' must be at least 16 characters (use `emailactions api-key`)", key=f"{key}.key")
        from emailactions.config.passwords import key_digest

        return key_digest(plain)
    hexdigest = validate.typed(entry["key_sha256"], str, f"{key}.key_sha256").lower()
    if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
        raise ConfigError(f"Config key '{key}.key_sha256' must be 64 hexadecimal digits", key=f"{key}.key_sha256")
    return bytes.fromhex(hexdigest)
