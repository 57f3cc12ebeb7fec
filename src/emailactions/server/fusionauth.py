"""FusionAuth-style routes: ``/api/email/template`` CRUD, search, preview, and send.

Bodies wrap a template as ``{"emailTemplate": {...}}`` in the native format
(FusionAuth's key names); errors are ``{"fieldErrors", "generalErrors"}``,
and a 401 or 404 has an empty body, as FusionAuth documents. FusionAuth's own
checks (UUID ids, required fields) are in :mod:`.fusionauth_fields`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import jsonpatch

from emailactions.params.addresses import parse_address, parse_address_list
from emailactions.errors import EmailActionsError, InvalidParams, RenderError, TemplateExists
from emailactions.locales.tags import normalize
from emailactions.params.template import TemplateRequest
from emailactions.templates.formats import from_dict
from emailactions.templates.model import Template
from emailactions.hookspecs import hookimpl
from emailactions.server.app import Call, Endpoint, Reply
from emailactions.server.fusionauth_fields import PREVIEW_REQUIRED, REQUIRED, FieldErrors, blank, uuid_id
from emailactions.server.protocol import fusionauth_error, json_object, only_params, query_bool, query_int, require_content
from emailactions.services.email import EmailService

EMAIL = "external/email"
#: FusionAuth's ``orderBy`` fields -> the store's.
ORDER_FIELDS = {"name": "name", "id": "id", "insertInstant": "created"}
#: Preview error keys: our part names -> FusionAuth's template fields.
PART_FIELDS = {
    "subject": "emailTemplate.defaultSubject",
    "html": "emailTemplate.defaultHtmlTemplate",
    "text": "emailTemplate.defaultTextTemplate",
    "from": "emailTemplate.fromEmail",
}
SEND_KEYS = {"toAddresses", "ccAddresses", "bccAddresses", "requestData", "preferredLanguages", "userIds", "applicationId"}
#: A ``toAddresses`` item's keys beyond the address that become ``user`` fields.
USER_FIELDS = ("firstName", "username")
#: Set by the server only: a body's are ignored (a template read back and PUT carries them).
INSTANTS = ("insertInstant", "lastUpdateInstant")
#: ``PATCH`` with this media type is an RFC 6902 JSON Patch; any other JSON is merged.
JSON_PATCH = "application/json-patch+json"


#: The preview action's param names -> the preview body's field names.
PREVIEW_FIELDS = {"_locale": "locale", "object": "requestData", "templateName": "emailTemplateId", "template": "emailTemplate"}


@contextmanager
def _field(prefix: str, renames: Mapping[str, str] | None = None) -> Iterator[None]:
    """Name a bad param as FusionAuth does: ``emailTemplate.defaultSubject``."""
    try:
        yield
    except RenderError as exc:
        # A template that does not compile is a field error on the part's field.
        part = exc.detail.get("part")
        if part in PART_FIELDS and "param" not in exc.detail:
            exc.detail["param"] = PART_FIELDS[part]
        raise
    except InvalidParams as exc:
        param = exc.detail.get("param")
        if param and renames and param in renames:
            exc.detail["param"] = renames[param]
        elif param and not str(param).startswith(prefix):
            exc.detail["param"] = f"{prefix}.{param}"
        raise


def _wrapped(body: Any, key: str, allowed: set[str]) -> dict[str, Any]:
    """The object under ``key`` in ``{"key": {...}}``; other top-level keys refused."""
    data = json_object(body)
    only = sorted(set(data) - allowed)
    if only:
        raise InvalidParams(f"Unknown field {only[0][:80]!r}", param=only[0][:80])
    if key not in data:
        raise InvalidParams(f"Field {key!r} is required", param=key)
    return json_object(data[key], key)


def _with_engine(data: dict[str, Any]) -> dict[str, Any]:
    """FusionAuth's templates are FreeMarker: the default engine here, unless named.

    Kept for templates written for this server before it spoke FreeMarker: a
    template whose sources use Handlebars' ``{{`` and nothing of FreeMarker's
    stays Handlebars.
    """
    if "engine" in data:
        return data
    source = "\n".join(_texts(data))
    handlebars = "{{" in source and not any(mark in source for mark in ("${", "<#", "[#"))
    return data if handlebars else {**data, "engine": "freemarker"}


def _texts(value: Any) -> Iterator[str]:
    """Every string in a template body, in any format (FusionAuth's or IDM's keys)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)


def template_data(host: Any, request_data: Mapping[str, Any], user: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a FusionAuth template sees: ``requestData``, ``application``, ``tenant``, ``user``.

    ``requestData``'s own keys stay at the top as well, so ``object.x`` (Handlebars,
    Jinja2) keeps reading them; FusionAuth's names win over them.
    """
    config = host.config.server.fusionauth
    data = {**request_data, "requestData": dict(request_data), "application": dict(config.application), "tenant": dict(config.tenant)}
    if user is not None:
        data["user"] = dict(user)
    return data


def _template(template: Template) -> dict[str, Any]:
    return template.to_dict()


async def list_all(call: Call) -> Reply:
    """``GET /api/email/template``: every template, by name."""
    call.require("templates:read")
    only_params(call.query, set())
    templates = await call.run(call.host.templates.store.all)
    templates.sort(key=lambda t: (t.name.casefold(), t.id))
    return Reply(200, {"emailTemplates": [_template(t) for t in templates]})


async def retrieve(call: Call) -> Reply:
    """``GET /api/email/template/{id}``."""
    call.require("templates:read")
    only_params(call.query, set())
    template = await call.run(call.host.templates.store.get, call.path_params["id"])
    return Reply(200, {"emailTemplate": _template(template)})


async def create(call: Call) -> Reply:
    """``POST /api/email/template[/{id}]``: the id from the path, the body, or generated.

    A given id must be a UUID, as FusionAuth's are; the fields the document
    marks required must be there. A taken id is FusionAuth's 400, not a 409.
    """
    call.require("templates:write")
    only_params(call.query, set())
    data = _wrapped(await call.body(), "emailTemplate", {"emailTemplate"})
    path_id, body_id = call.path_params.get("id"), data.get("id")
    field, given = ("emailTemplateId", path_id) if path_id is not None else ("emailTemplate.id", body_id)
    data = _with_engine({k: v for k, v in data.items() if k not in (*INSTANTS, "id")})
    await call.run(_compiles, call.host, data)
    problems = blank(data, REQUIRED)
    template_id = None
    if given is not None:
        try:
            template_id = uuid_id(given, field)
        except FieldErrors as exc:
            problems = exc.fields + problems
    if path_id is not None and body_id is not None and body_id != path_id:
        problems.append(("emailTemplate.id", "invalid", "Field 'emailTemplate.id' must be absent or the id of the path"))
    if problems:
        raise FieldErrors(problems)
    try:
        with _field("emailTemplate"):
            template = await call.run(call.host.templates.store.create, data, template_id)
    except TemplateExists:
        raise FieldErrors([(field, "duplicate", f"An email template with id {template_id!r} already exists")]) from None
    return Reply(200, {"emailTemplate": _template(template)})


def _compiles(host: Any, data: Mapping[str, Any]) -> None:
    """The one write path's checks first (types, every part compiles), so a broken
    template is refused alike through every door; FusionAuth's field checks follow."""
    with _field("emailTemplate"):
        host.templates.check(from_dict(data, "new"))


async def replace(call: Call) -> Reply:
    """``PUT /api/email/template/{id}``: replace the whole template."""
    return await _update(call, merge=False)


async def patch(call: Call) -> Reply:
    """``PATCH /api/email/template/{id}``: merge (RFC 7396: ``null`` removes a key),
    or with ``Content-Type: application/json-patch+json`` an RFC 6902 JSON Patch."""
    if call.headers.get("content-type", "").partition(";")[0].strip().lower() == JSON_PATCH:
        return await _json_patch(call)
    return await _update(call, merge=True)


async def _json_patch(call: Call) -> Reply:
    """Apply RFC 6902 operations to ``{"emailTemplate": {...}}`` as FusionAuth reads
    it (paths like ``/emailTemplate/defaultSubject``); the result replaces the template."""
    call.require("templates:write")
    only_params(call.query, set())
    operations = await call.body()
    template_id = call.path_params["id"]
    current = await call.run(call.host.templates.store.get, template_id)
    try:
        result = jsonpatch.JsonPatch(operations).apply({"emailTemplate": _template(current)})
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, ValueError, AttributeError) as exc:
        raise InvalidParams(f"The JSON Patch does not apply: {str(exc)[:200]}", param="patch") from None
    data = _wrapped(result, "emailTemplate", {"emailTemplate"})
    data = {k: v for k, v in data.items() if k not in INSTANTS}
    with _field("emailTemplate"):
        require_content(data, template_id, "emailTemplate")
        template = await call.run(call.host.templates.store.update, template_id, data, merge=False)
    return Reply(200, {"emailTemplate": _template(template)})


async def _update(call: Call, *, merge: bool) -> Reply:
    """``PUT`` needs the fields FusionAuth's create needs; a merge ``PATCH`` takes any
    of them, as FusionAuth's document says ("all parameters are optional")."""
    call.require("templates:write")
    only_params(call.query, set())
    data = _wrapped(await call.body(), "emailTemplate", {"emailTemplate"})
    if not merge:
        data = _with_engine({k: v for k, v in data.items() if k not in INSTANTS})
        await call.run(_compiles, call.host, {k: v for k, v in data.items() if k != "id"})
        if problems := blank(data, REQUIRED):
            raise FieldErrors(problems)
    with _field("emailTemplate"):
        template = await call.run(call.host.templates.store.update, call.path_params["id"], data, merge=merge)
    return Reply(200, {"emailTemplate": _template(template)})


async def delete(call: Call) -> Reply:
    """``DELETE /api/email/template/{id}``: 200 with no body, as FusionAuth."""
    call.require("templates:write")
    only_params(call.query, set())
    await call.run(call.host.templates.store.delete, call.path_params["id"])
    return Reply(200)


async def search_get(call: Call) -> Reply:
    """``GET /api/email/template/search?name=&numberOfResults=&startRow=&orderBy=``."""
    call.require("templates:read")
    only_params(call.query, {"name", "numberOfResults", "startRow", "orderBy"})
    criteria = {k: call.query[k] for k in ("name", "orderBy") if k in call.query}
    criteria["numberOfResults"] = query_int(call.query.get("numberOfResults"), "numberOfResults", 25, minimum=1, maximum=1000)
    criteria["startRow"] = query_int(call.query.get("startRow"), "startRow", 0)
    return await _search(call, criteria)


async def search_post(call: Call) -> Reply:
    """``POST /api/email/template/search`` with ``{"search": {...}}``."""
    call.require("templates:read")
    only_params(call.query, set())
    criteria = _wrapped(await call.body(), "search", {"search"})
    return await _search(call, criteria)


async def _search(call: Call, criteria: Mapping[str, Any]) -> Reply:
    with _field("search"):
        only = sorted(set(criteria) - {"name", "numberOfResults", "startRow", "orderBy"})
        if only:
            raise InvalidParams(f"Unknown search field {only[0][:80]!r}", param=only[0][:80])
        order_by, descending = _order(criteria.get("orderBy"))
        page = await call.run(
            call.host.templates.store.search, criteria.get("name"),
            page_size=criteria.get("numberOfResults", 25), start_row=criteria.get("startRow", 0),
            order_by=order_by, descending=descending,
        )  # fmt: skip
    return Reply(200, {"emailTemplates": [_template(t) for t in page["templates"]], "total": page["total"]})


def _order(value: Any) -> tuple[str, bool]:
    """FusionAuth's ``orderBy``: ``"name ASC"``, ``"insertInstant DESC"``, ..."""
    if value is None:
        return "name", False
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidParams("Parameter 'orderBy' must be a string like 'name ASC'", param="orderBy")
    name, _, direction = value.strip().partition(" ")
    direction = direction.strip().upper() or "ASC"
    if name not in ORDER_FIELDS or direction not in ("ASC", "DESC"):
        raise InvalidParams(f"Parameter 'orderBy' must be one of {', '.join(ORDER_FIELDS)} then ASC or DESC", param="orderBy")
    return ORDER_FIELDS[name], direction == "DESC"


async def preview(call: Call) -> Reply:
    """``POST /api/email/template/preview``: render an inline (or stored) template.

    Body: ``emailTemplate`` (or our ``emailTemplateId``), ``locale``,
    ``requestData``, and our ``user`` (the recipient to preview for); the
    template sees them as a send does (:func:`template_data`).
    """
    call.require("preview")
    only_params(call.query, set())
    body = json_object(await call.body())
    only = sorted(set(body) - {"emailTemplate", "emailTemplateId", "locale", "requestData", "user"})
    if only:
        raise InvalidParams(f"Unknown field {only[0][:80]!r}", param=only[0][:80])
    if ("emailTemplate" in body) == ("emailTemplateId" in body):
        raise InvalidParams("Give exactly one of 'emailTemplate' or 'emailTemplateId'", param="emailTemplate")
    params: dict[str, Any] = {}
    if "emailTemplate" in body:
        inline = json_object(body["emailTemplate"], "emailTemplate")
        if problems := blank(inline, PREVIEW_REQUIRED):
            raise FieldErrors(problems)
        params["template"] = _with_engine(inline)
    else:
        params["templateName"] = body["emailTemplateId"]
    if body.get("locale") is not None:
        params["_locale"] = body["locale"]
    request_data = json_object(body["requestData"], "requestData") if body.get("requestData") is not None else {}
    user = json_object(body["user"], "user") if body.get("user") is not None else None
    params["object"] = template_data(call.host, request_data, user)
    with _field("emailTemplate", PREVIEW_FIELDS):
        result = await call.run(call.host.action, EMAIL, "preview", params, caller=call.principal.name)
    email: dict[str, Any] = {"subject": result["subject"], "html": result["html"], "text": result["text"], "from": None}
    if result["from"]:
        email["from"] = parse_address(result["from"], "from").to_dict()
    out: dict[str, Any] = {"email": email, "errors": {}, "locale": result["locale"], "missing": result["missing"]}
    if result["errors"]:
        out["errors"] = {"fieldErrors": {
            PART_FIELDS.get(part, f"emailTemplate.{part}"): [{"code": f"[invalidTemplate]{PART_FIELDS.get(part, part)}", "message": error["message"]}]
            for part, error in result["errors"].items()
        }}  # fmt: skip
    return Reply(200, out)


async def send(call: Call) -> Reply:
    """``POST /api/email/send/{id}``: one message per ``toAddresses`` entry (202).

    Addresses, languages and the template are checked first (400/404, nothing
    sent). Then the service's template send renders and submits each
    recipient's message (``waitForCompletion=true`` sends it now); a
    recipient whose message fails is reported under ``anonymousResults``
    with ``parseErrors`` (the template does not compile: nobody's is sent),
    ``renderErrors`` (it failed for this data) or ``error`` (rate limit,
    relay), by part.
    """
    call.require("sendTemplate")
    only_params(call.query, {"waitForCompletion"})
    wait = query_bool(call.query.get("waitForCompletion"), "waitForCompletion", False)
    body = json_object(await call.body())
    only = sorted(set(body) - SEND_KEYS)
    if only:
        raise InvalidParams(f"Unknown field {only[0][:80]!r}", param=only[0][:80])
    to = body.get("toAddresses") or []
    if not isinstance(to, list) or not (to or body.get("userIds")):
        raise InvalidParams("Field 'toAddresses' is required: a list of {address, display}", param="toAddresses")
    users: dict[str, dict[str, Any]] = {}  # address key -> the template's user
    by_user: dict[str, str] = {}  # address -> the userId it came from
    found = []
    for i, item in enumerate(to):
        fields = {k: item[k] for k in USER_FIELDS if isinstance(item, dict) and isinstance(item.get(k), str)}
        if fields:
            item = {k: v for k, v in item.items() if k not in fields}
        address = parse_address(item, f"toAddresses[{i}]")
        users[address.key] = {"email": address.addr, **fields}
        found.append(address)
    for i, user_id in enumerate(_strings(body, "userIds") or []):
        for address in _user_addresses(call.host, user_id, f"userIds[{i}]", call.principal.name):
            users[address.key] = {"id": user_id, "email": address.addr, **({"fullName": address.display} if address.display else {})}
            by_user[address.addr] = user_id
            found.append(address)
    recipients = tuple(found)
    cc = tuple(parse_address_list(_strings(body, "ccAddresses"), "ccAddresses"))
    bcc = tuple(parse_address_list(_strings(body, "bccAddresses"), "bccAddresses"))
    limits = call.host.config.limits
    if len(recipients) > limits.max_bulk_recipients:
        raise InvalidParams(f"Too many recipients: {len(recipients)} (limit {limits.max_bulk_recipients})", param="toAddresses")
    if 1 + len(cc) + len(bcc) > limits.max_recipients:
        raise InvalidParams(f"Too many recipients per message (limit {limits.max_recipients})", param="ccAddresses")
    languages = _strings(body, "preferredLanguages") or []
    for i, language in enumerate(languages):
        normalize(language, f"preferredLanguages[{i}]")
    accept_language = ", ".join(language.replace("_", "-") for language in languages) or None
    data = body.get("requestData")
    if data is not None and not isinstance(data, dict):
        raise InvalidParams("Field 'requestData' must be an object", param="requestData")
    personal = {key: ({"user": user}, None) for key, user in users.items()}
    request = TemplateRequest(call.path_params["id"], to=recipients, cc=cc, bcc=bcc, data=template_data(call.host, data or {}),
                              separately=True, personal=personal)  # fmt: skip

    def run() -> dict[str, Any]:
        failures: dict[str, Any] = {}
        messages = []
        try:
            outcomes = EmailService(call.host).deliver_template(request, accept_language, wait)["results"]
        except RenderError as exc:
            # The template does not compile: refused before anyone's message was rendered.
            broken = {str(exc.detail.get("part", "template")): exc.message}
            failures = {address.addr: {"parseErrors": broken, "renderErrors": {}} for address in recipients}
            outcomes = []
        for outcome in outcomes:
            address, error = outcome["address"], outcome.get("error")
            if error is None:
                messages.append({k: outcome[k] for k in ("address", "status", "messageId", "outboxId", "locale") if outcome.get(k) is not None})
            elif error["detail"]["kind"] == RenderError.kind:
                failures[address] = {"parseErrors": {}, "renderErrors": {str(error["detail"].get("part", "template")): error["message"]}}
            else:
                failures[address] = {"parseErrors": {}, "renderErrors": {}, "error": error}
        # Failures of a userIds recipient are FusionAuth's results[userId].
        results = {by_user[a]: failures.pop(a) for a in list(failures) if a in by_user}
        return {
            "anonymousResults": failures, "results": results,
            "count": len(recipients), "sent": len(messages), "failed": len(failures), "messages": messages,
        }  # fmt: skip

    return Reply(202, await call.run(run))


def _user_addresses(host: Any, user_id: str, param: str, caller: str | None) -> list[Any]:
    """A ``userIds`` entry's addresses, through ``resolve_recipients`` (there is no user store)."""
    members = host.hook.resolve_recipients(destination=user_id, host=host, caller=caller)
    if not members:
        raise InvalidParams(f"Field {param!r}: no recipient resolver knows user {user_id[:80]!r}", param=param)
    return parse_address_list(members, param)


def _strings(body: Mapping[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParams(f"Field {key!r} must be a list of strings", param=key)
    return value


def errors(exc: EmailActionsError) -> Reply:
    """FusionAuth's error bodies; a 401 or 404 is empty, as documented ("The response will be empty")."""
    if exc.code in (401, 404):
        return Reply(exc.code)
    if isinstance(exc, FieldErrors):
        return Reply(400, exc.body())
    retry_after = exc.detail.get("retry_after")
    headers = {"Retry-After": str(max(1, int(-(-float(retry_after) // 1))))} if exc.code == 429 and retry_after is not None else {}
    return Reply(exc.code, fusionauth_error(exc), headers)


ENDPOINTS = [
    Endpoint(path, methods, handler, errors=errors)
    for path, methods, handler in (
        ("/api/email/template", ("GET",), list_all),
        ("/api/email/template", ("POST",), create),
        # Before /{id}: these names are routes, not template ids.
        ("/api/email/template/search", ("GET",), search_get),
        ("/api/email/template/search", ("POST",), search_post),
        ("/api/email/template/preview", ("POST",), preview),
        ("/api/email/template/{id}", ("GET",), retrieve),
        ("/api/email/template/{id}", ("POST",), create),
        ("/api/email/template/{id}", ("PUT",), replace),
        ("/api/email/template/{id}", ("PATCH",), patch),
        ("/api/email/template/{id}", ("DELETE",), delete),
        ("/api/email/send/{id}", ("POST",), send),
    )
]


@hookimpl
def register_api_routes(register: Any) -> None:
    """FusionAuth's email-template routes, as any API dialect adds its own."""
    for endpoint in ENDPOINTS:
        register(endpoint)
