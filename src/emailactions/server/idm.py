"""IDM's REST routes: ``/openidm/external/email`` actions and email-template config.

The paths, query parameters, headers, bodies and errors of IDM's own API, so
the ``curl`` commands of IDM's documentation work unchanged.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from emailactions.config.loader import load_idm_conf
from emailactions.delivery.pool import TransportPool
from emailactions.errors import ConfigError, ForbiddenOperation, InvalidParams, TemplateExists, TemplateNotFound, UnknownResource
from emailactions.files import atomic_write
from emailactions.templates.model import Template
from emailactions.hookspecs import hookimpl
from emailactions.server.app import Call, Endpoint, Reply
from emailactions.server.protocol import check_api_version, json_object, only_params, query_bool, query_int, require_content

EMAIL = "external/email"
OUTBOX = "external/email/outbox"
#: Permission each ``external/email`` action needs; others need only a login.
ACTION_PERMISSIONS = {"send": "send", "sendTemplate": "sendTemplate", "preview": "preview"}
#: CREST verb of each HTTP method (for requests that are not actions).
VERBS = {"GET": "read", "HEAD": "read", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
FACTORY = "emailTemplate"
SMTP_CONFIG = "external.email"
# One replacement of external.email.json at a time: validate, write, swap.
_config_lock = threading.Lock()
# CREST query filters we answer: true/false, or _id compared with a string.
_FILTER = re.compile(r'\s*/?_id\s+(eq|sw|co)\s+"((?:[^"\\]|\\.)*)"\s*')


def _config(template: Template) -> dict[str, Any]:
    """A template as IDM's config endpoint shows it: ``_id`` then the file's content."""
    return {"_id": f"{FACTORY}/{template.id}", **template.to_idm()}


async def email(call: Call) -> Reply:
    """``POST /openidm/external/email?_action=send|sendTemplate|preview``; other verbs 403."""
    return await _action(call, EMAIL)


async def outbox(call: Call) -> Reply:
    """``POST /openidm/external/email/outbox?_action=list|show|retry|purge|drain``."""
    return await _action(call, OUTBOX)


async def _action(call: Call, resource: str) -> Reply:
    check_api_version(call.headers.get("accept-api-version"))
    action = call.query.get("_action")
    if call.request.method != "POST" or action is None:
        # IDM: the email service only acts; reading or writing it is forbidden.
        call.require_authenticated()
        await call.run(call.host.request, VERBS.get(call.request.method, "read"), resource)
    only_params(call.query, {"_action", "waitForCompletion", "_prettyPrint"})
    assert action is not None
    if resource == OUTBOX:
        call.require("outbox")
    elif action in ACTION_PERMISSIONS:
        call.require(ACTION_PERMISSIONS[action])
    elif action in call.host.actions.actions(resource):
        # An action a plugin added: no permission names it, so only callers
        # trusted with everything may run it.
        call.require("*")
    else:
        call.require_authenticated()  # the host answers 400 naming the valid actions
    wait = query_bool(call.query.get("waitForCompletion"), "waitForCompletion", True)
    params = json_object(await call.body())
    result = await call.run(
        call.host.action, resource, action, params,
        accept_language=call.headers.get("accept-language"), wait_for_completion=wait, caller=call.principal.name,
    )  # fmt: skip
    return Reply(200, result)


async def config_list(call: Call) -> Reply:
    """``GET /openidm/config``: the email templates, as IDM lists configurations,
    or with ``_queryFilter`` as a CREST query result."""
    call.require("templates:read")
    check_api_version(call.headers.get("accept-api-version"))
    only_params(call.query, {"_queryFilter", "_fields", "_pageSize", "_pagedResultsOffset", "_totalPagedResultsPolicy", "_sortKeys", "_prettyPrint"})
    templates = sorted(await call.run(call.host.templates.store.all), key=lambda t: t.id)
    query = call.query.get("_queryFilter")
    if query is None:
        configurations = [{"_id": f"{FACTORY}/{t.id}", "pid": f"{FACTORY}.{t.id}", "factoryPid": FACTORY} for t in templates]
        return Reply(200, {"_id": "", "configurations": configurations})
    matches = _filter(query)
    found = [t for t in templates if matches(f"{FACTORY}/{t.id}")]
    sort = call.query.get("_sortKeys")
    if sort not in (None, "_id", "+_id", "-_id"):
        raise InvalidParams("Parameter '_sortKeys' may only be _id or -_id", param="_sortKeys")
    if sort == "-_id":
        found.reverse()
    offset = query_int(call.query.get("_pagedResultsOffset"), "_pagedResultsOffset", 0)
    size = query_int(call.query.get("_pageSize"), "_pageSize", 0, maximum=1000)
    page = found[offset : offset + size] if size else found[offset:]
    fields = call.query.get("_fields")
    result = [_fields(_config(t), fields) for t in page]
    policy = call.query.get("_totalPagedResultsPolicy", "NONE")
    if policy not in ("NONE", "EXACT", "ESTIMATE"):
        raise InvalidParams("Parameter '_totalPagedResultsPolicy' must be NONE, EXACT or ESTIMATE", param="_totalPagedResultsPolicy")
    total = len(found) if policy != "NONE" else -1
    remaining = max(0, len(found) - offset - len(page)) if policy != "NONE" else -1
    cookie = str(offset + len(page)) if size and offset + len(page) < len(found) else None
    return Reply(200, {
        "result": result, "resultCount": len(result), "pagedResultsCookie": cookie,
        "totalPagedResultsPolicy": policy, "totalPagedResults": total, "remainingPagedResults": remaining,
    })  # fmt: skip


def _filter(query: str) -> Any:
    """A predicate on ``_id`` for the CREST filters we support; others are a 400."""
    text = query.strip()
    if text in ("true", "false"):
        return lambda _id: text == "true"
    match = _FILTER.fullmatch(query)
    if match is None:
        raise InvalidParams(
            "Parameter '_queryFilter' supports only true, false and _id eq|sw|co \"text\"", param="_queryFilter"
        )
    op, value = match.group(1), re.sub(r"\\(.)", r"\1", match.group(2))
    if op == "eq":
        return lambda _id: _id == value
    if op == "sw":
        return lambda _id: _id.startswith(value)
    return lambda _id: value in _id


def _fields(config: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """CREST ``_fields``: only the named top-level fields (``_id`` always)."""
    if not fields:
        return config
    wanted = {f.strip().lstrip("/") for f in fields.split(",")}
    return {k: v for k, v in config.items() if k == "_id" or k in wanted}


async def template_read(call: Call) -> Reply:
    """``GET /openidm/config/emailTemplate/<name>``."""
    call.require("templates:read")
    check_api_version(call.headers.get("accept-api-version"))
    only_params(call.query, {"_fields", "_prettyPrint"})
    template = await call.run(call.host.templates.store.get, call.path_params["name"])
    return Reply(200, _fields(_config(template), call.query.get("_fields")))


async def template_put(call: Call) -> Reply:
    """``PUT /openidm/config/emailTemplate/<name>``: create (201) or replace (200)."""
    call.require("templates:write")
    check_api_version(call.headers.get("accept-api-version"))
    only_params(call.query, {"_prettyPrint"})
    name = call.path_params["name"]
    data = json_object(await call.body())
    given = data.pop("_id", None)
    if given is not None and given not in (f"{FACTORY}/{name}", name):
        raise InvalidParams(f"Field '_id' {str(given)[:80]!r} does not match the path", param="_id")
    require_content(data, name, "message")

    def put() -> tuple[int, Template]:
        store = call.host.templates.store
        try:
            store.get(name)
        except TemplateNotFound:
            try:
                return 201, store.create(data, name)
            except TemplateExists:
                pass  # created meanwhile by someone else: replace it, as PUT means
        return 200, store.update(name, data)

    status, template = await call.run(put)
    return Reply(status, _config(template))


async def template_delete(call: Call) -> Reply:
    """``DELETE /openidm/config/emailTemplate/<name>``: answers what was deleted."""
    call.require("templates:write")
    check_api_version(call.headers.get("accept-api-version"))
    only_params(call.query, {"_prettyPrint"})
    template = await call.run(call.host.templates.store.delete, call.path_params["name"])
    return Reply(200, _config(template))


def _idm_conf(call: Call) -> Path:
    """The conf folder the host's config was loaded from; only there is
    ``external.email.json`` the host's own SMTP config."""
    config = call.host.config
    conf, source = config.conf_dir, Path(config.source)
    if conf is None or conf not in (source, source.parent):
        raise ForbiddenOperation(
            f"Config {SMTP_CONFIG!r} is served only by a host started from an IDM conf folder "
            f"(emailactions serve --config conf/); this host's config is {config.source}",
        )
    return conf


#: Where external.email.json keeps secrets: never shown by GET, kept by a PUT that omits them.
SECRETS = (("auth", "password"), ("auth", "clientSecret"), ("proxy", "password"))


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"&\{[^}]+\}", value) is not None


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    """The file as GET shows it: every secret omitted unless it is a ``&{property}`` reference."""
    shown = {"_id": SMTP_CONFIG, **{k: v for k, v in data.items() if k != "_id"}}
    for section, key in SECRETS:
        table = shown.get(section)
        if isinstance(table, dict) and key in table and not _is_reference(table[key]):
            shown[section] = {k: v for k, v in table.items() if k != key}
    return shown


def _keep_stored_secrets(data: dict[str, Any], stored: dict[str, Any]) -> None:
    """Put back the stored secrets a PUT body leaves out (GET never shows them),
    unless the body changes the transport type: an SMTP password means nothing to Graph."""
    if data.get("type", "smtp") != stored.get("type", "smtp"):
        return
    for section, key in SECRETS:
        given, kept = data.get(section), stored.get(section)
        if isinstance(given, dict) and key not in given and isinstance(kept, dict) and key in kept:
            data[section] = {**given, key: kept[key]}


def _read_smtp_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UnknownResource(f"Config {SMTP_CONFIG!r} not found: {path.name} does not exist", resource=f"config/{SMTP_CONFIG}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}", key=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object", key=str(path))
    return data


async def smtp_config_read(call: Call) -> Reply:
    """``GET /openidm/config/external.email``: the mail config, without its secrets."""
    call.require("*")
    check_api_version(call.headers.get("accept-api-version"))
    only_params(call.query, {"_fields", "_prettyPrint"})
    data = await call.run(_read_smtp_config, _idm_conf(call) / f"{SMTP_CONFIG}.json")
    return Reply(200, _fields(_shown(data), call.query.get("_fields")))


async def smtp_config_put(call: Call) -> Reply:
    """``PUT /openidm/config/external.email``: checked as loading checks it, written
    atomically, and used by the next message. A body without a secret
    (``auth.password``, ``auth.clientSecret``, ``proxy.password``) keeps the stored
    one, so what GET gave can be edited and put back."""
    call.require("*")
    check_api_version(call.headers.get("accept-api-version"))
    only_params(call.query, {"_prettyPrint"})
    conf = _idm_conf(call)
    data = json_object(await call.body())
    given = data.pop("_id", SMTP_CONFIG)
    if given != SMTP_CONFIG:
        raise InvalidParams(f"Field '_id' {str(given)[:80]!r} does not match the path", param="_id")

    def put() -> dict[str, Any]:
        path = conf / f"{SMTP_CONFIG}.json"
        host = call.host
        with _config_lock:
            if path.is_file():
                _keep_stored_secrets(data, _read_smtp_config(path))
            try:
                loaded = load_idm_conf(conf, idm=data)
            except ConfigError as exc:
                raise InvalidParams(exc.message, param=exc.detail.get("key")) from None
            # A new file may hold the relay password: readable by its owner only.
            atomic_write(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode(), new_mode=0o600)
            old = host.transports
            host.config = replace(host.config, sender=loaded.sender, transports=loaded.transports, transport=loaded.transport)
            host.transports = TransportPool(host.transport_classes, loaded.transports, loaded.transport)
            old.close()
        return data

    return Reply(200, _shown(await call.run(put)))


async def ping(call: Call) -> Reply:
    """``GET /openidm/info/ping``: IDM's health check, open to anyone."""
    return Reply(200, {"_id": "", "state": "ACTIVE_READY", "shortDesc": "OpenIDM ready"})


ENDPOINTS = [
    Endpoint("/openidm/external/email", ("GET", "POST", "PUT", "PATCH", "DELETE"), email),
    Endpoint("/openidm/external/email/outbox", ("POST",), outbox),
    Endpoint("/openidm/config", ("GET",), config_list),
    Endpoint(f"/openidm/config/{SMTP_CONFIG}", ("GET",), smtp_config_read),
    Endpoint(f"/openidm/config/{SMTP_CONFIG}", ("PUT",), smtp_config_put),
    Endpoint("/openidm/config/emailTemplate/{name}", ("GET",), template_read),
    Endpoint("/openidm/config/emailTemplate/{name}", ("PUT",), template_put),
    Endpoint("/openidm/config/emailTemplate/{name}", ("DELETE",), template_delete),
    Endpoint("/openidm/info/ping", ("GET",), ping, public=True),
]


@hookimpl
def register_api_routes(register: Any) -> None:
    """IDM's routes, as any API dialect adds its own."""
    for endpoint in ENDPOINTS:
        register(endpoint)
