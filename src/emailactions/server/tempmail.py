"""cloudflare_temp_email's send API: mail from one address, proven by an address token.

``POST /api/send_mail`` with ``Authorization: Bearer <address JWT>``, and
``POST /external/api/send_mail`` with the token as ``token`` in the JSON
body; fields ``from_name``, ``to_name``, ``to_mail``, ``subject``,
``is_html``, ``content``. The token (HS256, from ``emailactions
address-token``, signed with ``[server] jwt_secret`` or
``EMAILACTIONS_JWT_SECRET``) carries one ``address``: the mail goes out from
it, whatever the body says, sent before the answer as that system does.

Answers as cloudflare_temp_email's worker does: ``{"status": "ok"}``; a
plain-text ``Failed to send mail <reason>`` with 400 for anything refused
(a bad token on the external route too), and a plain-text 401 for a bad
bearer token on ``/api/send_mail``.
"""

from __future__ import annotations

import logging
from typing import Any

from emailactions.errors import EmailActionsError, InvalidParams, NotAuthenticated
from emailactions.hookspecs import hookimpl
from emailactions.params.fields import refuse_unknown
from emailactions.server import address_tokens
from emailactions.server.app import Call, Endpoint, Reply
from emailactions.server.protocol import json_object

log = logging.getLogger("emailactions.server")

FIELDS = {"from_name", "to_name", "to_mail", "subject", "is_html", "content"}
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def errors(exc: EmailActionsError) -> Reply:
    """The worker's plain-text refusals: 401 for a bad bearer token, else 400."""
    if exc.code == 401:
        return Reply(401, b"Invalid address token", dict(_TEXT))
    return Reply(400, f"Failed to send mail {exc.message}".encode(), dict(_TEXT))


def address_of(call: Call, token: Any) -> str:
    """The sender address an address token was issued for; 401 if the token is not good."""
    secret = call.state.settings.address_token_secret()
    if secret is None:
        log.error("an address token came in, but neither [server] jwt_secret nor EMAILACTIONS_JWT_SECRET is set")
        raise NotAuthenticated("Address tokens are not configured on this server")
    return address_tokens.address_of(token, secret)


async def _send(call: Call, address: str, data: dict[str, Any]) -> Reply:
    client = call.request.client.host if call.request.client else "-"
    call.state.limiter.request(address, client)
    refuse_unknown(data, FIELDS, noun="field")
    for name in ("to_mail", "subject", "content"):
        if not data.get(name):
            raise InvalidParams(f"Field {name!r} is required", param=name)
    is_html = data.get("is_html", False)
    if not isinstance(is_html, bool):
        raise InvalidParams("Field 'is_html' must be true or false", param="is_html")
    to_name = data.get("to_name")
    params = {
        "from": {"address": address, "display": data["from_name"]} if data.get("from_name") else address,
        "to": [{"address": data["to_mail"], "display": to_name} if to_name else data["to_mail"]],
        "subject": data["subject"],
        "body": data["content"],
        "type": "text/html" if is_html else "text/plain",
    }
    await call.run(call.host.action, "external/email", "send", params, wait_for_completion=True, caller=address, own_senders=(address,))
    return Reply(200, {"status": "ok"})


async def send_mail(call: Call) -> Reply:
    """``POST /api/send_mail``: the address token in ``Authorization: Bearer``."""
    scheme, _, token = (call.headers.get("authorization") or "").strip().partition(" ")
    address = address_of(call, token.strip() if scheme.lower() == "bearer" else None)
    return await _send(call, address, json_object(await call.body()))


async def external_send_mail(call: Call) -> Reply:
    """``POST /external/api/send_mail``: the address token as ``token`` in the body."""
    data = json_object(await call.body())
    try:
        address = address_of(call, data.pop("token", None))
    except NotAuthenticated as exc:
        # The worker verifies this token inside its send, so a bad one is a failed send.
        raise InvalidParams(exc.message, param="token") from None
    return await _send(call, address, data)


@hookimpl
def register_api_routes(register: Any) -> None:
    """cloudflare_temp_email's two send routes, when ``[server] apis`` lists ``tempmail``."""
    register(Endpoint("/api/send_mail", ("POST",), send_mail, public=True, errors=errors))
    register(Endpoint("/external/api/send_mail", ("POST",), external_send_mail, public=True, errors=errors))
