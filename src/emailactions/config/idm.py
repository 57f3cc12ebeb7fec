"""IDM's ``external.email.json`` -> SMTP transport options (or msgraph's, for ``"type": "msgraph"``).

IDM's keys, its millisecond timeouts, its numbers written as strings and
its JavaMail properties, mapped onto :class:`~emailactions.transports.smtp.SMTPTransport`
options. Keys are named as IDM's file has them (``auth.password``).
:func:`as_native` gives what the file defines in the native schema, so an
``emailactions.toml`` beside it can add the rest.
"""

from __future__ import annotations

from typing import Any, Mapping

from emailactions.config import validate
from emailactions.errors import ConfigError

#: Keys of IDM's ``external.email.json``.
IDM_KEYS = {
    "_id", "type", "host", "port", "from", "auth", "starttls", "ssl", "smtpProperties",
    "threadPoolSize", "connectiontimeout", "timeout", "writetimeout", "debug",
    "mailEndpoint", "proxy",
}  # fmt: skip
#: ``auth`` keys of ``"type": "msgraph"`` (OAuth2 client credentials).
MSGRAPH_AUTH_KEYS = {"enable", "type", "clientId", "clientSecret", "tokenEndpoint", "scope", "scopeDelimiter", "grantType"}
_IDM_DEFAULT_TIMEOUT_MS = 300_000


def _whole(value: Any, key: str) -> int:
    """IDM writes numbers as numbers or as numeric strings (``"587"``)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return validate.typed(value, int, key)


def _flag(value: Any, key: str) -> bool:
    """IDM booleans, also as ``"true"``/``"false"`` (what ``&{property}`` gives)."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    return validate.typed(value, bool, key)


def _refuse_crypto(value: Any, key: str) -> None:
    """IDM's ``{"$crypto": ...}`` values need IDM's keystore: say how to give the value instead."""
    if isinstance(value, Mapping):
        if "$crypto" in value:
            raise ConfigError(
                f"Config key {key!r} is encrypted with IDM's keystore ($crypto), which emailactions cannot read: "
                f"put the clear value in an environment variable and write \"&{{VARIABLE_NAME}}\" here instead",
                key=key,
            )
        for name, inner in value.items():
            _refuse_crypto(inner, f"{key}.{name}" if key else str(name))


def _ms(value: Any, key: str) -> float:
    """IDM timeouts: milliseconds as a number or numeric string; 0 means none."""
    return _whole(value, key) / 1000.0


def as_native(data: Mapping[str, Any], *, source: str = "external.email.json") -> dict[str, Any]:
    """``external.email.json`` as native sections: ``[transports.default]``, the
    transport ``send`` uses, and ``[email] from`` when the file names one."""
    options = from_idm(data, source=source)
    email = {"transport": "default"}
    sender = data.get("from") or None  # IDM writes "" for none
    if sender is not None:
        email["from"] = validate.typed(sender, str, "from")
    return {"email": email, "transports": {"default": options}}


def from_idm(data: Mapping[str, Any], *, source: str = "external.email.json") -> dict[str, Any]:
    """Map IDM's ``external.email.json`` onto SMTP transport options."""
    validate.typed(data, Mapping, "external.email.json")
    validate.known(data, IDM_KEYS, "")
    if data.get("_id", "external.email") != "external.email":
        raise ConfigError(f"Config key '_id' must be 'external.email', not {data['_id']!r}", key="_id")
    _refuse_crypto(data, "")
    kind = data.get("type", "smtp")
    if kind == "msgraph":
        return _msgraph(data)
    if kind != "smtp":
        raise ConfigError(f"Config key 'type': {kind!r} is not supported (only 'smtp' and 'msgraph')", key="type")
    if "mailEndpoint" in data or "proxy" in data:
        key = "mailEndpoint" if "mailEndpoint" in data else "proxy"
        raise ConfigError(f"Config key {key!r} applies to \"type\": \"msgraph\" only", key=key)
    if "host" not in data:
        raise ConfigError("Config key 'host' is required", key="host")
    options: dict[str, Any] = {"backend": "smtp", "host": validate.typed(data["host"], str, "host"), "port": _whole(data.get("port", 25), "port")}
    for section in ("starttls", "ssl"):
        value = validate.table(data.get(section, {}), {"enable"}, section)
        options[section] = _flag(value.get("enable", False), f"{section}.enable")
    auth = validate.table(data.get("auth", {}), {"enable", "type", "username", "password"}, "auth")
    if auth.get("type", "basic") != "basic":
        # IDM's other type, oauth2, is for its msgraph transport.
        raise ConfigError(f"Config key 'auth.type': {auth['type']!r} is not supported (only 'basic')", key="auth.type")
    if _flag(auth.get("enable", False), "auth.enable"):
        options["username"] = validate.typed(auth.get("username"), str, "auth.username")
        options["password"] = validate.typed(auth.get("password"), str, "auth.password")
    timeouts = {k: _ms(data.get(k, _IDM_DEFAULT_TIMEOUT_MS), k) for k in ("connectiontimeout", "timeout", "writetimeout")}
    options["connect_timeout"] = timeouts["connectiontimeout"]
    # smtplib has one socket timeout for reads and writes: take the stricter.
    nonzero = [t for t in (timeouts["timeout"], timeouts["writetimeout"]) if t]
    options["timeout"] = min(nonzero) if nonzero else 0
    options["pool_size"] = _whole(data.get("threadPoolSize", 20), "threadPoolSize")
    options["debug"] = _flag(data.get("debug", False), "debug")
    for i, prop in enumerate(validate.typed(data.get("smtpProperties", []), list, "smtpProperties")):
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
        elif name == "mail.smtp.starttls.required":
            # Only "false" changes anything: IDM's fallback to clear text, asked for explicitly.
            options["starttls_required"] = _flag(value, key)
        # Other JavaMail properties (mail.mime.allowutf8, ...) need no setting here.
    return options


def _msgraph(data: Mapping[str, Any]) -> dict[str, Any]:
    """``"type": "msgraph"``: Graph sendMail with OAuth2 client credentials -> msgraph transport options.

    IDM refuses basic auth for msgraph; so do we. SMTP-only keys are ignored,
    as IDM ignores them (a file switched from smtp may keep them).
    """
    auth = validate.table(data.get("auth", {}), MSGRAPH_AUTH_KEYS | {"username", "password"}, "auth")
    if auth.get("type", "basic") != "oauth2":
        raise ConfigError(
            "Config key 'auth.type' must be 'oauth2' with \"type\": \"msgraph\": Graph takes no basic auth "
            "(set auth.clientId, auth.clientSecret and auth.tokenEndpoint)",
            key="auth.type",
        )
    if "username" in auth or "password" in auth:
        key = "auth.username" if "username" in auth else "auth.password"
        raise ConfigError(f"Config key {key!r} is basic auth, which \"type\": \"msgraph\" does not use", key=key)
    if not _flag(auth.get("enable", True), "auth.enable"):
        raise ConfigError("Config key 'auth.enable' must be true with \"type\": \"msgraph\": Graph needs a token", key="auth.enable")
    if "mailEndpoint" not in data:
        raise ConfigError("Config key 'mailEndpoint' is required with \"type\": \"msgraph\"", key="mailEndpoint")
    for key in ("clientId", "clientSecret", "tokenEndpoint"):
        if key not in auth:
            raise ConfigError(f"Config key 'auth.{key}' is required with \"type\": \"msgraph\"", key=f"auth.{key}")
    grant = validate.typed(auth.get("grantType", "client_credentials"), str, "auth.grantType")
    if grant != "client_credentials":
        raise ConfigError(f"Config key 'auth.grantType' must be 'client_credentials', not {grant!r}", key="auth.grantType")
    delimiter = validate.typed(auth.get("scopeDelimiter", " "), str, "auth.scopeDelimiter")
    scope = auth.get("scope", ["https://graph.microsoft.com/.default"])
    if isinstance(scope, list):
        scope = delimiter.join(validate.typed(s, str, f"auth.scope[{i}]") for i, s in enumerate(scope))
    options: dict[str, Any] = {
        "backend": "msgraph",
        "mail_endpoint": validate.typed(data["mailEndpoint"], str, "mailEndpoint"),
        "token_endpoint": validate.typed(auth["tokenEndpoint"], str, "auth.tokenEndpoint"),
        "client_id": validate.typed(auth["clientId"], str, "auth.clientId"),
        "client_secret": validate.typed(auth["clientSecret"], str, "auth.clientSecret"),
        "scope": validate.typed(scope, str, "auth.scope"),
        "connect_timeout": _ms(data.get("connectiontimeout", _IDM_DEFAULT_TIMEOUT_MS), "connectiontimeout"),
        "timeout": _ms(data.get("timeout", _IDM_DEFAULT_TIMEOUT_MS), "timeout"),
        "pool_size": _whole(data.get("threadPoolSize", 20), "threadPoolSize"),
    }
    if data.get("proxy"):
        options["proxy"] = _proxy(data["proxy"])
    return options


def _proxy(value: Any) -> str:
    """IDM's external REST ``proxy`` (``proxyUri``, ``userName``, ``password``) as one proxy URL."""
    from urllib.parse import quote, urlsplit

    proxy = validate.table(value, {"proxyUri", "userName", "password"}, "proxy")
    uri = validate.typed(proxy.get("proxyUri"), str, "proxy.proxyUri")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ConfigError("Config key 'proxy.proxyUri' must be a URL such as http://proxy:3128, without credentials", key="proxy.proxyUri")
    if "userName" not in proxy:
        return uri
    user = quote(validate.typed(proxy["userName"], str, "proxy.userName"), safe="")
    password = quote(validate.typed(proxy.get("password", ""), str, "proxy.password"), safe="")
    return f"{parts.scheme}://{user}:{password}@{parts.netloc}{parts.path}"
