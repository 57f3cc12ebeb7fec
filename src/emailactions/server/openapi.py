"""The OpenAPI 3.0 document of the REST API, served at ``/openapi.json``.

Written by hand (the routes are not typed models) and kept honest by the
tests: schemathesis generates requests from it against a running server,
and it lists exactly the routes served: each dialect's paths only when
``[server] apis`` names it. IDM's and FusionAuth's paths are here, the
other dialects' in :mod:`.openapi_dialects`.
"""

from __future__ import annotations

from typing import Any, Sequence

from emailactions.config.server import ServerConfig
from emailactions.hookspecs import hookimpl
from emailactions.server.app import Call, Endpoint, Reply
from emailactions.server.openapi_dialects import DIALECT_PATHS, DIALECT_SCHEMAS, DIALECT_SECURITY
from emailactions.server.openapi_parts import EMAIL as _EMAIL, STR as _STR, body as _body, json_reply as _json, ref as _ref

#: The stable path of the document.
PATH = "/openapi.json"

_LOCALE = {"type": "string", "pattern": "^[a-z]{2}([-_][A-Z]{2})?$", "example": "fr"}
_READ_ONLY_INT = {"type": "integer", "readOnly": True}
_LOCALES = {"type": "object", "additionalProperties": _STR, "description": "locale -> text"}
_ADDRESSES = {
    "description": "Comma-separated RFC 5322 addresses, or a list of strings or {address, display}",
    "anyOf": [_EMAIL, {"type": "array", "items": {"anyOf": [_EMAIL, {"$ref": "#/components/schemas/Address"}]}}],
}


def _errors(family: str, *codes: int) -> dict[str, Any]:
    """Error responses; FusionAuth's 401 and 404 are empty, as its document says."""
    schema = _ref("IdmError" if family == "idm" else "FusionAuthErrors")
    reasons = {400: "Bad request", 401: "No or wrong credentials", 403: "Permission missing", 404: "Not found",
               409: "Already exists", 413: "Body too large", 415: "Body is not JSON", 429: "Rate limited (Retry-After)",
               502: "The relay refused", 503: "The relay is unreachable", 504: "The relay timed out"}  # fmt: skip
    return {str(code): {"description": f"{reasons[code]} (empty body)"} if family == "fa" and code in (401, 404)
            else _json(schema, reasons[code]) for code in codes}  # fmt: skip


_IDM_HEADERS = [
    {"name": "Accept-API-Version", "in": "header", "required": False, "schema": {"type": "string", "example": "resource=1.0"}},
]
_COMMON = (400, 401, 403, 429)


def _idm_op(summary: str, ok: dict[str, Any], *, params: list[dict[str, Any]] = (), body: dict[str, Any] | None = None,  # type: ignore[assignment]
            extra: tuple[int, ...] = ()) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "parameters": [*_IDM_HEADERS, *params], "responses": {**ok, **_errors("idm", *_COMMON, *extra)}}
    if body is not None:
        op["requestBody"] = body
        op["responses"].update(_errors("idm", 413, 415))
    return op


def _fa_op(summary: str, ok: dict[str, Any], *, params: list[dict[str, Any]] = (), body: dict[str, Any] | None = None,  # type: ignore[assignment]
           extra: tuple[int, ...] = ()) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "parameters": list(params), "responses": {**ok, **_errors("fa", *_COMMON, *extra)}}
    if body is not None:
        op["requestBody"] = body
        op["responses"].update(_errors("fa", 413, 415))
    return op


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}}
#: Templates under names (folder, IDM) are read, changed and sent through the FusionAuth routes too.
_ID = {**_NAME, "name": "id", "description": "A template id: a UUID, or the name of a folder or IDM template"}
_NEW_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"},
           "description": "The id to create the template with: a UUID"}  # fmt: skip
_WAIT = {"name": "waitForCompletion", "in": "query", "required": False, "schema": {"type": "boolean"}}
_TEMPLATE_BODY = _body({"type": "object", "required": ["emailTemplate"], "properties": {"emailTemplate": _ref("EmailTemplateRequest")}})
_MERGE_BODY = _body({"type": "object", "required": ["emailTemplate"], "properties": {"emailTemplate": _ref("EmailTemplate")}})
_PATCH_BODY = {"required": True, "content": {
    **_MERGE_BODY["content"], "application/merge-patch+json": _MERGE_BODY["content"]["application/json"],
    "application/json-patch+json": {"schema": {"type": "array", "items": _ref("JsonPatchOperation")}}}}  # fmt: skip
_TEMPLATE_REPLY = {"200": _json({"type": "object", "properties": {"emailTemplate": _ref("EmailTemplate")}})}
_TEMPLATES_REPLY = _json({"type": "object", "properties": {"emailTemplates": {"type": "array", "items": _ref("EmailTemplate")},
                                                            "total": {"type": "integer"}}})  # fmt: skip

SCHEMAS: dict[str, Any] = {
    "IdmError": {"type": "object", "required": ["code", "reason", "message"], "properties": {
        "code": {"type": "integer"}, "reason": _STR, "message": _STR, "detail": {"type": "object"}}},
    "FusionAuthErrors": {"type": "object", "properties": {
        "fieldErrors": {"type": "object", "additionalProperties": {"type": "array", "items": _ref("FusionAuthError")}},
        "generalErrors": {"type": "array", "items": _ref("FusionAuthError")}}},
    "FusionAuthError": {"type": "object", "properties": {"code": _STR, "message": _STR, "data": {"type": "object"}}},
    "Address": {"type": "object", "required": ["address"], "properties": {"address": _EMAIL, "display": _STR}},
    "SendParams": {"type": "object", "description": "IDM's send params (plus text/html, attachments, ...)", "properties": {
        "from": _EMAIL, "to": _ADDRESSES, "cc": _ADDRESSES, "bcc": _ADDRESSES, "subject": _STR, "body": _STR,
        "type": {"type": "string", "enum": ["text/plain", "text/html", "text/xml"]}, "_locale": _LOCALE}},
    "SendTemplateParams": {"type": "object", "required": ["templateName"], "properties": {
        "templateName": _STR, "to": _ADDRESSES, "cc": _ADDRESSES, "bcc": _ADDRESSES, "from": _EMAIL,
        "object": {"type": "object"}, "_locale": _LOCALE, "sendSeparately": {"type": "boolean"}}},
    "PreviewParams": {"type": "object", "properties": {
        "templateName": _STR, "template": {"type": "object"}, "object": {"type": "object"}, "_locale": _LOCALE}},
    "ActionResult": {"type": "object", "required": ["status", "message"], "properties": {
        "status": {"type": "string", "example": "OK"}, "message": {"type": "string", "example": "Email sent"}}},
    "IdmTemplate": {"type": "object", "description": "IDM's emailTemplate-<name>.json", "properties": {
        "_id": _STR, "enabled": {"type": "boolean"}, "from": _STR, "subject": _LOCALES, "message": _LOCALES,
        "mimeType": {"type": "string", "enum": ["text/html", "text/plain"]}, "defaultLocale": _STR}},
    "EmailTemplate": {"type": "object", "description": "Native (FusionAuth) template form", "properties": {
        "id": {"type": "string", "description": "A UUID (given or generated), or a folder or IDM template's name"},
        "name": _STR, "enabled": {"type": "boolean"},
        "engine": {"type": "string", "enum": ["freemarker", "handlebars", "jinja2"]}, "fromEmail": _EMAIL, "defaultLocale": {**_LOCALE, "nullable": True},
        "defaultSubject": _STR, "localizedSubjects": _LOCALES, "defaultHtmlTemplate": _STR, "localizedHtmlTemplates": _LOCALES,
        "defaultTextTemplate": _STR, "localizedTextTemplates": _LOCALES, "defaultFromName": _STR, "localizedFromNames": _LOCALES,
        "insertInstant": _READ_ONLY_INT, "lastUpdateInstant": _READ_ONLY_INT}},
    "EmailTemplateRequest": {"allOf": [_ref("EmailTemplate"), {
        "type": "object", "required": ["name", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate"],
        "properties": {"id": {"type": "string", "format": "uuid"}}}]},
    "PreviewTemplate": {"allOf": [_ref("EmailTemplate"), {
        "type": "object", "required": ["defaultFromName", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate", "fromEmail"]}]},
    "PreviewResponse": {"type": "object", "required": ["email", "errors"], "properties": {
        "email": {"type": "object", "properties": {"from": {**_ref("Address"), "nullable": True}, "subject": _STR, "html": _STR, "text": _STR}},
        "errors": {"type": "object", "description": "{} when every part rendered, else {fieldErrors}"},
        "locale": _STR, "missing": {"type": "array", "items": _STR}}},
    "JsonPatchOperation": {"type": "object", "required": ["op", "path"], "properties": {
        "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
        "path": {"type": "string", "example": "/emailTemplate/defaultSubject"}, "from": _STR, "value": {}}},
    "Search": {"type": "object", "properties": {
        "name": _STR, "numberOfResults": {"type": "integer", "minimum": 1, "maximum": 1000},
        "startRow": {"type": "integer", "minimum": 0}, "orderBy": {"type": "string", "example": "name ASC"}}},
    "SendRequest": {"type": "object", "description": "toAddresses and/or userIds (resolved by resolve_recipients)", "properties": {
        "toAddresses": {"type": "array", "items": _ref("Address")}, "userIds": {"type": "array", "items": _STR},
        "ccAddresses": {"type": "array", "items": _EMAIL}, "bccAddresses": {"type": "array", "items": _EMAIL},
        "requestData": {"type": "object"}, "preferredLanguages": {"type": "array", "items": _LOCALE},
        "applicationId": {"type": "string", "format": "uuid"}}},
    "SendResponse": {"type": "object", "properties": {
        "anonymousResults": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "parseErrors": {"type": "object"}, "renderErrors": {"type": "object"}, "error": _ref("IdmError")}}},
        "results": {"type": "object"}, "count": {"type": "integer"}, "sent": {"type": "integer"}, "failed": {"type": "integer"},
        "messages": {"type": "array", "items": {"type": "object"}}}},
}  # fmt: skip

#: IDM refuses every verb but ``action`` on the email service.
_REFUSED = {"summary": "Refused: the email service only takes actions (403)", "parameters": _IDM_HEADERS,
            "responses": _errors("idm", 401, 403, 429)}  # fmt: skip

IDM_PATHS: dict[str, Any] = {
    "/openidm/external/email": {**{m: _REFUSED for m in ("get", "put", "patch", "delete")}, "post": _idm_op(
        "Run an external/email action (IDM)", {"200": _json(_ref("ActionResult"))},
        params=[{"name": "_action", "in": "query", "required": True, "schema": {"type": "string", "enum": ["send", "sendTemplate", "preview"]}},
                _WAIT, {"name": "Accept-Language", "in": "header", "required": False, "schema": _STR}],
        body=_body({"anyOf": [_ref("SendParams"), _ref("SendTemplateParams"), _ref("PreviewParams")]}),
        extra=(404, 502, 503, 504))},
    "/openidm/external/email/outbox": {"post": _idm_op(
        "Inspect and control the outbox", {"200": _json({"type": "object"})},
        params=[{"name": "_action", "in": "query", "required": True, "schema": {"type": "string", "enum": ["list", "show", "retry", "purge", "drain"]}}],
        body=_body({"type": "object"}, required=False), extra=(404,))},
    "/openidm/config": {"get": _idm_op(
        "List email-template configurations, or query them with _queryFilter", {"200": _json({"type": "object"})},
        params=[{"name": n, "in": "query", "required": False, "schema": s} for n, s in (
            ("_queryFilter", {"type": "string", "example": '_id sw "emailTemplate"'}), ("_fields", _STR),
            ("_pageSize", {"type": "integer", "minimum": 0}), ("_pagedResultsOffset", {"type": "integer", "minimum": 0}),
            ("_totalPagedResultsPolicy", {"type": "string", "enum": ["NONE", "EXACT", "ESTIMATE"]}),
            ("_sortKeys", {"type": "string", "enum": ["_id", "-_id"]}))])},
    "/openidm/config/emailTemplate/{name}": {
        "get": _idm_op("Read an email template (IDM format)", {"200": _json(_ref("IdmTemplate"))}, params=[_NAME], extra=(404,)),
        "put": _idm_op("Create or replace an email template", {"200": _json(_ref("IdmTemplate"), "Replaced"), "201": _json(_ref("IdmTemplate"), "Created")},
                       params=[_NAME], body=_body(_ref("IdmTemplate")), extra=(409,)),
        "delete": _idm_op("Delete an email template", {"200": _json(_ref("IdmTemplate"))}, params=[_NAME], extra=(404,))},
    "/openidm/config/external.email": {
        "get": _idm_op("Read the SMTP config (external.email.json), auth.password omitted", {"200": _json({"type": "object"})}, extra=(404,)),
        "put": _idm_op("Replace the SMTP config, checked as loading checks it", {"200": _json({"type": "object"})},
                       body=_body({"type": "object"}))},
    "/openidm/info/ping": {"get": {"summary": "Health check", "security": [], "responses": {"200": _json({"type": "object"})}}},
}  # fmt: skip

FUSIONAUTH_PATHS: dict[str, Any] = {
    "/api/email/template": {
        "get": _fa_op("Retrieve all templates", {"200": _TEMPLATES_REPLY}),
        "post": _fa_op("Create a template (a UUID id generated unless the body gives one; a taken id is a 400)", _TEMPLATE_REPLY,
                       body=_TEMPLATE_BODY)},
    "/api/email/template/search": {
        "get": _fa_op("Search templates by name", {"200": _TEMPLATES_REPLY}, params=[
            {"name": "name", "in": "query", "required": False, "schema": _STR},
            {"name": "numberOfResults", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            {"name": "startRow", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
            {"name": "orderBy", "in": "query", "required": False, "schema": {"type": "string", "example": "name ASC"}}]),
        "post": _fa_op("Search templates by name", {"200": _TEMPLATES_REPLY},
                       body=_body({"type": "object", "required": ["search"], "properties": {"search": _ref("Search")}}))},
    "/api/email/template/preview": {"post": _fa_op(
        "Render a template without sending", {"200": _json(_ref("PreviewResponse"))}, extra=(404,),
        body=_body({"type": "object", "description": "emailTemplate or emailTemplateId", "properties": {
            "emailTemplate": _ref("PreviewTemplate"), "emailTemplateId": _STR, "locale": _STR,
            "requestData": {"type": "object"}, "user": {"type": "object"}}}))},
    "/api/email/template/{id}": {
        "get": _fa_op("Retrieve a template", _TEMPLATE_REPLY, params=[_ID], extra=(404,)),
        "post": _fa_op("Create a template with this id (a UUID; a taken one is a 400)", _TEMPLATE_REPLY, params=[_NEW_ID], body=_TEMPLATE_BODY),
        "put": _fa_op("Replace a template", _TEMPLATE_REPLY, params=[_ID], body=_TEMPLATE_BODY, extra=(404,)),
        "patch": _fa_op("Merge into a template (null removes a key), or apply a JSON Patch (RFC 6902)", _TEMPLATE_REPLY,
                        params=[_ID], body=_PATCH_BODY, extra=(404,)),
        "delete": _fa_op("Delete a template", {"200": {"description": "Deleted (no body)"}}, params=[_ID], extra=(404,))},
    "/api/email/send/{id}": {"post": _fa_op(
        "Send a template to each address (202, per-address errors)", {"202": _json(_ref("SendResponse"), "Accepted")},
        params=[_ID, _WAIT], body=_body(_ref("SendRequest")), extra=(404, 502, 503, 504))},
}  # fmt: skip

#: Each dialect's paths, by its ``[server] apis`` name.
PATHS_BY_API: dict[str, dict[str, Any]] = {"idm": IDM_PATHS, "fusionauth": FUSIONAUTH_PATHS, **DIALECT_PATHS}
_SELF = {PATH: {"get": {"summary": "This document", "security": [], "responses": {"200": _json({"type": "object"})}}}}


def document(apis: Sequence[str] | None = None) -> dict[str, Any]:
    """The OpenAPI document of the dialects ``apis`` names (default: ``[server] apis``' default)."""
    from emailactions import __version__

    chosen = ServerConfig.apis if apis is None else apis
    paths = {path: item for api in PATHS_BY_API if api in chosen for path, item in PATHS_BY_API[api].items()}
    return {
        "openapi": "3.0.3",
        "info": {"title": "emailactions", "version": __version__,
                 "description": f"An email API in the dialects of {', '.join(a for a in PATHS_BY_API if a in chosen)}. See docs/server.md."},
        "components": {
            "schemas": {**SCHEMAS, **DIALECT_SCHEMAS},
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "FusionAuth-style API key"},
                "idmUsername": {"type": "apiKey", "in": "header", "name": "X-OpenIDM-Username"},
                "idmPassword": {"type": "apiKey", "in": "header", "name": "X-OpenIDM-Password"},
                "basic": {"type": "http", "scheme": "basic"},
                **DIALECT_SECURITY,
            },
        },
        "security": [{"apiKey": []}, {"idmUsername": [], "idmPassword": []}, {"basic": []}],
        "paths": {**paths, **_SELF},
    }  # fmt: skip


async def serve_document(call: Call) -> Reply:
    """``GET /openapi.json``: open to anyone, it holds no secrets; it lists the dialects served."""
    return Reply(200, document(call.state.settings.apis))


ENDPOINTS = [Endpoint(PATH, ("GET",), serve_document, public=True)]


@hookimpl
def register_api_routes(register: Any) -> None:
    """The OpenAPI document's route, as any API dialect adds its own."""
    for endpoint in ENDPOINTS:
        register(endpoint)
