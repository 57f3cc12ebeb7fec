"""The OpenAPI description of the Enswitch, cloudflare_temp_email and NAVER WORKS dialects.

Each answers in its own shapes (docs/server.md): Enswitch's envelope,
the temp-mail worker's ``{"status": "ok"}`` and plain-text refusals,
NAVER's empty 202 and ``{"code", "description"}``.
"""

from __future__ import annotations

from typing import Any

from emailactions.server.enswitch import DESTINATIONS, PATH as ENSWITCH_PATH
from emailactions.server.naverworks import CONTENT_TYPES, MAX_FILENAME_CHARS, MAX_SUBJECT_CHARS, SECURITY_LEVELS
from emailactions.server.openapi_parts import EMAIL, STR, body, json_reply, ref

_TEXT = {"text/plain": {"schema": {"type": "string", "example": "Failed to send mail Field 'to_mail' is required"}}}

_ENSWITCH_FIELDS: dict[str, Any] = {
    "auth_username": STR, "auth_password": {"type": "string", "format": "password"},
    "destination": {"type": "string", "enum": ["", *DESTINATIONS], "description": "empty: the emails list"},
    "emails": {"type": "string", "description": "addresses separated by spaces and/or commas"},
    "from": EMAIL, "subject": STR, "body": STR, "customer": {"type": "string", "pattern": "^[0-9]*$"},
}  # fmt: skip
_ENSWITCH_OBJECT = {"type": "object", "properties": _ENSWITCH_FIELDS, "additionalProperties": False}
#: Enswitch's codes: 400 (key: the parameter), 401 credentials, 402 permission, 403 rate plan.
_ENSWITCH_REPLIES = {
    str(code): json_reply(ref("EnswitchEnvelope"), reason)
    for code, reason in ((200, "Submitted; data.count is the number of messages"), (400, "A parameter is wrong (key names it)"),
                         (401, "Bad credentials"), (402, "The role lacks the send permission"), (403, "The rate plan refuses"))
}  # fmt: skip
_ENSWITCH_OP = {"security": [{"enswitchUsername": [], "enswitchPassword": []}], "responses": _ENSWITCH_REPLIES}

_TEMPMAIL_FIELDS: dict[str, Any] = {
    "from_name": STR, "to_name": STR, "to_mail": EMAIL, "subject": STR, "is_html": {"type": "boolean"}, "content": STR}
_TEMPMAIL_REPLIES = {"200": json_reply(ref("TempMailOk"), "Sent"), "400": {"description": "Refused (plain text)", "content": _TEXT}}

_NAVER_ERRORS = {str(code): json_reply(ref("NaverError"), reason) for code, reason in (
    (400, "INVALID_PARAMETER"), (401, "UNAUTHORIZED"), (403, "FORBIDDEN: no send permission, or another user's userId"),
    (413, "REQUEST_ENTITY_TOO_LARGE"), (415, "The body is not JSON"), (429, "TOO_MANY_REQUESTS (Retry-After)"),
    (502, "The relay refused"), (503, "The relay is unreachable"), (504, "The relay timed out"))}  # fmt: skip

DIALECT_PATHS: dict[str, dict[str, Any]] = {
    "enswitch": {ENSWITCH_PATH: {
        "get": {**_ENSWITCH_OP, "summary": "Enswitch emails/send: parameters in the query string (';' or '&')",
                "parameters": [{"name": n, "in": "query", "required": False, "schema": s}
                               for n, s in _ENSWITCH_FIELDS.items() if not n.startswith("auth_")]},
        "post": {**_ENSWITCH_OP, "summary": "Enswitch emails/send: parameters in a form or JSON body",
                 "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": _ENSWITCH_OBJECT},
                                                                "application/json": {"schema": _ENSWITCH_OBJECT}}}},
    }},
    "tempmail": {
        "/api/send_mail": {"post": {
            "summary": "cloudflare_temp_email: send from the address the bearer token was issued for",
            "security": [{"addressToken": []}], "requestBody": body(ref("TempMailSend")),
            "responses": {**_TEMPMAIL_REPLIES, "401": {"description": "Bad address token (plain text)", "content": _TEXT}}}},
        "/external/api/send_mail": {"post": {
            "summary": "cloudflare_temp_email: send, the address token in the body",
            "security": [], "requestBody": body({"allOf": [ref("TempMailSend"), {"type": "object", "required": ["token"],
                                                                                 "properties": {"token": STR}}]}),
            "responses": _TEMPMAIL_REPLIES}},
    },
    "naverworks": {"/users/{userId}/mail": {"post": {
        "summary": "NAVER WORKS: send a message as userId ('me' or the key's own user)",
        "security": [{"naverToken": []}, {"basic": []}],
        "parameters": [{"name": "userId", "in": "path", "required": True, "schema": {"type": "string", "example": "me"}}],
        "requestBody": body(ref("NaverMail")),
        "responses": {"202": {"description": "Accepted (no body)"}, **_NAVER_ERRORS}}}},
}  # fmt: skip

DIALECT_SCHEMAS: dict[str, Any] = {
    "EnswitchEnvelope": {"type": "object", "required": ["responses", "data"], "properties": {
        "responses": {"type": "array", "items": {"type": "object", "properties": {"code": STR, "key": STR, "message": STR}}},
        "data": {"type": "object", "properties": {"count": {"type": "integer"}}}}},
    "TempMailSend": {"type": "object", "required": ["to_mail", "subject", "content"], "properties": _TEMPMAIL_FIELDS},
    "TempMailOk": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}},
    "NaverMail": {"type": "object", "required": ["to", "subject"], "additionalProperties": False, "properties": {
        "to": {"type": "string", "minLength": 1, "example": "admin@example.com; admin1@example.com"}, "cc": STR, "bcc": STR,
        "subject": {"type": "string", "minLength": 1, "description": f"past {MAX_SUBJECT_CHARS} characters the rest is dropped"},
        "body": STR, "contentType": {"type": "string", "enum": list(CONTENT_TYPES), "default": "html"}, "userName": STR,
        "isSaveSentMail": {"type": "boolean", "default": True}, "isSaveTracking": {"type": "boolean", "default": True},
        "isSendSeparately": {"type": "boolean", "default": False},
        "securityLevel": {"type": "string", "enum": list(SECURITY_LEVELS), "default": "General"},
        "attachments": {"type": "array", "items": {"type": "object", "properties": {
            "data": {"type": "string", "description": "base64; MIME-style white space allowed"},
            "filename": {"type": "string", "minLength": 1, "maxLength": MAX_FILENAME_CHARS}, "fileType": STR, "cid": STR,
            "inline": {"type": "boolean", "default": False}}}}}},
    "NaverError": {"type": "object", "required": ["code", "description"], "properties": {"code": STR, "description": STR}},
}  # fmt: skip

DIALECT_SECURITY: dict[str, Any] = {
    "enswitchUsername": {"type": "apiKey", "in": "query", "name": "auth_username", "description": "Enswitch: a [server.users] user"},
    "enswitchPassword": {"type": "apiKey", "in": "query", "name": "auth_password"},
    "addressToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "cloudflare_temp_email: an address token (emailactions address-token)"},
    "naverToken": {"type": "http", "scheme": "bearer", "description": "NAVER WORKS: one of [server.api_keys]"},
}  # fmt: skip
