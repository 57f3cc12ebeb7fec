"""The OpenAPI 3.0 document of the REST API, served at ``/openapi.json``.

Written by hand (the routes are not typed models) and kept honest by the
tests: schemathesis generates requests from it against a running server,
and every route in :mod:`.app` must appear here.
"""

from __future__ import annotations

from typing import Any

from emailactions.hookspecs import hookimpl
from emailactions.server.app import Call, Endpoint, Reply

#: The stable path of the document.
PATH = "/openapi.json"

_STR = {"type": "string"}
_EMAIL = {"type": "string", "format": "email"}
_LOCALE = {"type": "string", "pattern": "^[a-z]{2}([-_][A-Z]{2})?$", "example": "fr"}
_READ_ONLY_INT = {"type": "integer", "readOnly": True}
_LOCALES = {"type": "object", "additionalProperties": _STR, "description": "locale -> text"}
_ADDRESSES = {
    "description": "Comma-separated RFC 5322 addresses, or a list of strings or {address, display}",
    "anyOf": [_EMAIL, {"type": "array", "items": {"anyOf": [_EMAIL, {"$ref": "#/components/schemas/Address"}]}}],
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


def _errors(family: str, *codes: int) -> dict[str, Any]:
    schema = _ref("IdmError" if family == "idm" else "FusionAuthErrors")
    reasons = {400: "Bad request", 401: "No or wrong credentials", 403: "Permission missing", 404: "Not found",
               409: "Already exists", 413: "Body too large", 415: "Body is not JSON", 429: "Rate limited (Retry-After)",
               502: "The relay refused", 503: "The relay is unreachable", 504: "The relay timed out"}  # fmt: skip
    return {str(code): _json(schema, reasons[code]) for code in codes}


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


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
_ID = {**_NAME, "name": "id"}
_WAIT = {"name": "waitForCompletion", "in": "query", "required": False, "schema": {"type": "boolean"}}
_TEMPLATE_BODY = _body({"type": "object", "required": ["emailTemplate"], "properties": {"emailTemplate": _ref("EmailTemplate")}})
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
        "id": {"type": "string", "readOnly": True}, "name": _STR, "enabled": {"type": "boolean"},
        "engine": {"type": "string", "enum": ["handlebars", "jinja2"]}, "fromEmail": _EMAIL, "defaultLocale": {**_LOCALE, "nullable": True},
        "defaultSubject": _STR, "localizedSubjects": _LOCALES, "defaultHtmlTemplate": _STR, "localizedHtmlTemplates": _LOCALES,
        "defaultTextTemplate": _STR, "localizedTextTemplates": _LOCALES, "defaultFromName": _STR, "localizedFromNames": _LOCALES,
        "insertInstant": _READ_ONLY_INT, "lastUpdateInstant": _READ_ONLY_INT}},
    "Search": {"type": "object", "properties": {
        "name": _STR, "numberOfResults": {"type": "integer", "minimum": 1, "maximum": 1000},
        "startRow": {"type": "integer", "minimum": 0}, "orderBy": {"type": "string", "example": "name ASC"}}},
    "SendRequest": {"type": "object", "required": ["toAddresses"], "properties": {
        "toAddresses": {"type": "array", "minItems": 1, "items": _ref("Address")},
        "ccAddresses": {"type": "array", "items": _EMAIL}, "bccAddresses": {"type": "array", "items": _EMAIL},
        "requestData": {"type": "object"}, "preferredLanguages": {"type": "array", "items": _LOCALE}}},
    "SendResponse": {"type": "object", "properties": {
        "anonymousResults": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "parseErrors": {"type": "object"}, "renderErrors": {"type": "object"}, "error": _ref("IdmError")}}},
        "results": {"type": "object"}, "count": {"type": "integer"}, "sent": {"type": "integer"}, "failed": {"type": "integer"},
        "messages": {"type": "array", "items": {"type": "object"}}}},
}  # fmt: skip

#: IDM refuses every verb but ``action`` on the email service.
_REFUSED = {"summary": "Refused: the email service only takes actions (403)", "parameters": _IDM_HEADERS,
            "responses": _errors("idm", 401, 403, 429)}  # fmt: skip

PATHS: dict[str, Any] = {
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
    "/api/email/template": {
        "get": _fa_op("Retrieve all templates", {"200": _TEMPLATES_REPLY}),
        "post": _fa_op("Create a template (id generated unless given)", _TEMPLATE_REPLY, body=_TEMPLATE_BODY, extra=(409,))},
    "/api/email/template/search": {
        "get": _fa_op("Search templates by name", {"200": _TEMPLATES_REPLY}, params=[
            {"name": "name", "in": "query", "required": False, "schema": _STR},
            {"name": "numberOfResults", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            {"name": "startRow", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
            {"name": "orderBy", "in": "query", "required": False, "schema": {"type": "string", "example": "name ASC"}}]),
        "post": _fa_op("Search templates by name", {"200": _TEMPLATES_REPLY},
                       body=_body({"type": "object", "required": ["search"], "properties": {"search": _ref("Search")}}))},
    "/api/email/template/preview": {"post": _fa_op(
        "Render a template without sending", {"200": _json({"type": "object"})}, extra=(404,),
        body=_body({"type": "object", "properties": {"emailTemplate": _ref("EmailTemplate"), "emailTemplateId": _STR,
                                                     "locale": _STR, "requestData": {"type": "object"}}}))},
    "/api/email/template/{id}": {
        "get": _fa_op("Retrieve a template", _TEMPLATE_REPLY, params=[_ID], extra=(404,)),
        "post": _fa_op("Create a template with this id", _TEMPLATE_REPLY, params=[_ID], body=_TEMPLATE_BODY, extra=(409,)),
        "put": _fa_op("Replace a template", _TEMPLATE_REPLY, params=[_ID], body=_TEMPLATE_BODY, extra=(404,)),
        "patch": _fa_op("Merge into a template (null removes a key)", _TEMPLATE_REPLY, params=[_ID], body=_TEMPLATE_BODY, extra=(404,)),
        "delete": _fa_op("Delete a template", {"200": {"description": "Deleted (no body)"}}, params=[_ID], extra=(404,))},
    "/api/email/send/{id}": {"post": _fa_op(
        "Send a template to each address (202, per-address errors)", {"202": _json(_ref("SendResponse"), "Accepted")},
        params=[_ID, _WAIT], body=_body(_ref("SendRequest")), extra=(404, 502, 503, 504))},
    PATH: {"get": {"summary": "This document", "security": [], "responses": {"200": _json({"type": "object"})}}},
}  # fmt: skip


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    from emailactions import __version__

    return {
        "openapi": "3.0.3",
        "info": {"title": "emailactions", "version": __version__,
                 "description": "IDM- and FusionAuth-compatible email API. See docs/server.md."},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "FusionAuth-style API key"},
                "idmUsername": {"type": "apiKey", "in": "header", "name": "X-OpenIDM-Username"},
                "idmPassword": {"type": "apiKey", "in": "header", "name": "X-OpenIDM-Password"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
        "security": [{"apiKey": []}, {"idmUsername": [], "idmPassword": []}, {"basic": []}],
        "paths": PATHS,
    }  # fmt: skip


async def serve_document(call: Call) -> Reply:
    """``GET /openapi.json``: open to anyone, it holds no secrets."""
    return Reply(200, document())


ENDPOINTS = [Endpoint(PATH, ("GET",), serve_document, public=True)]


@hookimpl
def register_api_routes(register: Any) -> None:
    """The OpenAPI document's route, as any API dialect adds its own."""
    for endpoint in ENDPOINTS:
        register(endpoint)
