"""Enswitch's JSON API ``emails/send``: one call, many recipients, a count back.

``GET`` or ``POST /api/json/emails/send/`` with the parameters in the query
string (separated by ``;`` as Enswitch's documented examples are, or ``&``),
in a form body or in a JSON object. The caller logs in with
``auth_username`` / ``auth_password`` (the ``[server.users]``) and needs the
``send`` permission. Mail goes to the ``emails`` list, or to a named
``destination`` resolved through the ``resolve_recipients`` hook with the
caller's name; each recipient gets a message of their own, through the outbox.

Every answer is Enswitch's envelope, ``{"responses": [{"code", "key",
"message"}], "data": {...}}``, with the HTTP status equal to its code:
400 (``key`` names the parameter), 401 bad credentials, 402 the role lacks
``send``, 403 a rate limit (Enswitch's "rate plan") refuses.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool

from emailactions.errors import EmailActionsError, InvalidParams, UnsupportedMediaType
from emailactions.hookspecs import hookimpl
from emailactions.server.app import Call, Endpoint, Reply
from emailactions.server.protocol import check_media_type, json_object, parse_json

PATH = "/api/json/emails/send/"
PARAMS = ("auth_username", "auth_password", "destination", "emails", "from", "subject", "body", "customer")
#: Enswitch's destination types; ``""`` (or none) means the ``emails`` list.
DESTINATIONS = ("me", "customer", "recursive", "billing", "billing_recursive")
#: Our error codes -> Enswitch's: permission 402, rate plan 403; other 4xx are a 400.
_CODES = {401: 401, 403: 402, 429: 403}
_SEPARATORS = re.compile(r"[;&]")
_EMAILS = re.compile(r"[\s,]+")


def envelope(code: int, key: str = "", message: str = "OK", data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Enswitch's answer: one response entry and the data."""
    return {"responses": [{"code": str(code), "key": key, "message": message}], "data": data or {}}


def errors(exc: EmailActionsError) -> Reply:
    """An error in Enswitch's envelope, ``Retry-After`` kept for a rate limit."""
    code = _CODES.get(exc.code, 400 if exc.code < 500 else exc.code)
    key = str(exc.detail.get("param") or "") if code == 400 else ""
    retry_after = exc.detail.get("retry_after")
    headers = {"Retry-After": str(max(1, int(-(-float(retry_after) // 1))))} if exc.code == 429 and retry_after is not None else {}
    return Reply(code, envelope(code, key, exc.message), headers)


def _pairs(text: str) -> list[tuple[str, str]]:
    """``a=1;b=2`` or ``a=1&b=2``, percent-decoded, blank values kept."""
    return [pair for part in _SEPARATORS.split(text) for pair in parse_qsl(part, keep_blank_values=True)]


async def _params(call: Call) -> dict[str, str]:
    """The parameters from the query string and the body; one given twice is a 400."""
    pairs = _pairs(call.request.url.query)
    raw = await call.raw_body()
    if raw.strip():
        media = (call.headers.get("content-type") or "").partition(";")[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            try:
                pairs += _pairs(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidParams("The request body is not UTF-8", param="body") from None
        elif media == "multipart/form-data":
            raise UnsupportedMediaType("Send the parameters in the query string, a form (urlencoded) or JSON")
        else:
            check_media_type(call.headers.get("content-type"))
            pairs += [(k, v if isinstance(v, str) else _scalar(v, k)) for k, v in json_object(parse_json(raw)).items()]
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in PARAMS:
            raise InvalidParams(f"Unknown parameter {name[:80]!r}", param=name[:80])
        if name in params:
            raise InvalidParams(f"Parameter {name!r} is given twice", param=name)
        params[name] = value
    return params


def _scalar(value: Any, name: str) -> str:
    """A JSON number as the text a query string would carry (``customer``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidParams(f"Parameter {name!r} must be a string", param=name)


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value.strip():
        raise InvalidParams(f"Parameter {name!r} is required", param=name)
    return value


async def send(call: Call) -> Reply:
    """``emails/send``: log in, check, submit one message per recipient, answer the count."""
    params = await _params(call)
    client = call.request.client.host if call.request.client else "-"
    login = {"x-openidm-username": params.get("auth_username", ""), "x-openidm-password": params.get("auth_password", "")}
    # A login costs ~0.1 s of scrypt on a cache miss: not on the loop.
    call.principal = await run_in_threadpool(call.state.auth.authenticate, login, client)
    call.state.limiter.request(None if call.principal.anonymous else call.principal.name, client)
    call.require("send")
    action: dict[str, Any] = {"from": _required(params, "from"), "subject": _required(params, "subject"),
                              "body": _required(params, "body"), "sendSeparately": True}  # fmt: skip
    customer = params.get("customer", "").strip()
    if customer and not customer.isdigit():
        raise InvalidParams("Parameter 'customer' must be a customer id (an integer)", param="customer")
    destination = params.get("destination", "")
    if destination:
        if destination not in DESTINATIONS:
            raise InvalidParams(f"Parameter 'destination' must be one of {', '.join(DESTINATIONS)} or empty", param="destination")
        action["destination"] = destination
    else:
        emails = [e for e in _EMAILS.split(params.get("emails", "")) if e]
        if not emails:
            raise InvalidParams("Parameter 'emails' is required when 'destination' is empty", param="emails")
        action["to"] = emails
    result = await call.run(call.host.action, "external/email", "send", action, wait_for_completion=False, caller=call.principal.name)
    failed = [r["error"] for r in result.get("results", ()) if r.get("status") == "failed"]
    if failed and len(failed) == result.get("count"):
        # Nothing went out: the first recipient's error says why.
        first = failed[0]
        code = _CODES.get(first.get("code", 400), 400)
        return Reply(code, envelope(code, "emails" if code == 400 else "", first.get("message", "Not sent")))
    return Reply(200, envelope(200, data={"count": result.get("count", 1) - len(failed)}))


@hookimpl
def register_api_routes(register: Any) -> None:
    """Enswitch's ``emails/send``, when ``[server] apis`` lists ``enswitch``."""
    register(Endpoint(PATH, ("GET", "POST"), send, public=True, errors=errors))
