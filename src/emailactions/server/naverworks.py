"""NAVER WORKS mail: ``POST /users/{userId}/mail``, answered 202 Accepted.

``Authorization: Bearer <token>`` is one of the server's API keys (or a
user's Basic login) holding ``send``; ``userId`` is ``me`` or the key's own
name, any user's for a key with ``*``. Mail goes out from that user's
``[server.users.NAME] email`` (else the configured ``[email] from``), with
``userName`` as its display name. The JSON body is NAVER's: ``to`` / ``cc``
/ ``bcc`` separated by ``;``, ``subject`` (past 180 characters the rest is
dropped, as NAVER does), ``body`` as ``contentType`` ``html`` (default) or
``text``, ``isSendSeparately``, ``attachments`` (``data`` in base64, in
which MIME-style white space is allowed as in NAVER's own example), and:

* ``isSaveSentMail`` / ``isSaveTracking`` (default true): the mail goes
  through the outbox, where it stays as a ``sent`` entry (``emailactions
  outbox list --state sent``); both false: sent before the answer, no record.
* ``securityLevel``: checked against NAVER's four values; emailactions has
  no mailbox policies, so it changes nothing in the message.

Errors are NAVER's ``{"code", "description"}`` bodies.
"""

from __future__ import annotations

import re
from typing import Any

from emailactions.errors import EmailActionsError, InvalidParams, PermissionDenied
from emailactions.hookspecs import hookimpl
from emailactions.params.fields import refuse_unknown
from emailactions.server.app import Call, Endpoint, Reply
from emailactions.server.protocol import json_object

FIELDS = {"to", "cc", "bcc", "subject", "body", "contentType", "userName", "isSaveSentMail", "isSaveTracking",
          "isSendSeparately", "securityLevel", "attachments"}  # fmt: skip
#: NAVER keeps this many characters of a subject and ignores the rest.
MAX_SUBJECT_CHARS = 180
MAX_FILENAME_CHARS = 250
SECURITY_LEVELS = ("General", "Restricted", "Confidential", "Non-business")
CONTENT_TYPES = {"html": "text/html", "text": "text/plain"}
#: NAVER WORKS API error codes by HTTP status.
CODES = {400: "INVALID_PARAMETER", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "RESOURCE_NOT_FOUND",
         413: "REQUEST_ENTITY_TOO_LARGE", 429: "TOO_MANY_REQUESTS"}  # fmt: skip
# What MIME lets stand between base64 characters; anything else stays refused.
_MIME_SPACE = re.compile(r"[ \t\r\n]+")


def errors(exc: EmailActionsError) -> Reply:
    """NAVER's error body; a missing user is NAVER's 404, other 4xx keep their status."""
    code = CODES.get(exc.code, "INTERNAL_SERVER_ERROR")
    return Reply(exc.code, {"code": code, "description": exc.message})


def _addresses(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, str):
        raise InvalidParams(f"Field {name!r} must be a string of addresses separated by ';'", param=name)
    return [part.strip() for part in value.split(";") if part.strip()]


def _flag(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise InvalidParams(f"Field {name!r} must be true or false", param=name)
    return value


def _attachments(value: Any) -> Any:
    """NAVER's attachments with their base64 unwrapped; the rest is checked by the send params."""
    if not isinstance(value, list):
        return value
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            name = item.get("filename")
            if isinstance(name, str) and len(name) > MAX_FILENAME_CHARS:
                raise InvalidParams(f"Field 'attachments[{i}].filename' is longer than {MAX_FILENAME_CHARS} characters",
                                    param=f"attachments[{i}].filename")  # fmt: skip
            if isinstance(item.get("data"), str):
                item = {**item, "data": _MIME_SPACE.sub("", item["data"])}
        out.append(item)
    return out


async def send_mail(call: Call) -> Reply:
    """``POST /users/{userId}/mail``: check, then send or submit; 202 with no body."""
    call.require("send")
    principal = call.principal
    user_id = call.path_params["userId"]
    user = principal.name if user_id == "me" else user_id
    if user != principal.name and "*" not in principal.permissions:
        raise PermissionDenied(f"{principal.name!r} may send only as itself ('me' or {principal.name!r})", permission="*")
    data = json_object(await call.body())
    refuse_unknown(data, FIELDS, noun="field")
    subject = data.get("subject")
    if not isinstance(subject, str) or not subject:
        raise InvalidParams("Field 'subject' is required", param="subject")
    to = _addresses(data, "to")
    if not to:
        raise InvalidParams("Field 'to' is required", param="to")
    content_type = data.get("contentType", "html")
    if not isinstance(content_type, str) or content_type not in CONTENT_TYPES:  # (a JSON object is unhashable)
        raise InvalidParams("Field 'contentType' must be html or text", param="contentType")
    level = data.get("securityLevel", "General")
    if level not in SECURITY_LEVELS:
        raise InvalidParams(f"Field 'securityLevel' must be one of {', '.join(SECURITY_LEVELS)}", param="securityLevel")
    record = _flag(data, "isSaveSentMail", True) or _flag(data, "isSaveTracking", True)
    params: dict[str, Any] = {
        "to": to, "cc": _addresses(data, "cc"), "bcc": _addresses(data, "bcc"),
        "subject": subject[:MAX_SUBJECT_CHARS], "body": data.get("body") or "", "type": CONTENT_TYPES[content_type],
        "sendSeparately": _flag(data, "isSendSeparately", False),
    }  # fmt: skip
    account = call.state.settings.users.get(user)
    own: tuple[str, ...] = ()
    if account is not None and account.email:
        params["from"] = own_sender = account.email
        own = (own_sender,)  # the user's own address is a sender it may use
    if data.get("userName") is not None:
        params["fromName"] = data["userName"]
    if data.get("attachments") is not None:
        params["attachments"] = _attachments(data["attachments"])
    await call.run(call.host.action, "external/email", "send", params, wait_for_completion=not record, caller=principal.name, own_senders=own)
    return Reply(202)


@hookimpl
def register_api_routes(register: Any) -> None:
    """NAVER WORKS' send route, when ``[server] apis`` lists ``naverworks``."""
    register(Endpoint("/users/{userId}/mail", ("POST",), send_mail, errors=errors))
