"""A fake Microsoft identity platform token endpoint and Graph ``sendMail``, on loopback.

A small Starlette app served by uvicorn in a thread (:class:`support.server.LiveServer`).
It checks what the real ones check that our transport relies on: the client
credentials and grant type, the Bearer token, the base64 MIME body with
``Content-Type: text/plain``. Like Exchange it takes recipients from the
To, Cc and Bcc headers and removes Bcc from the message it keeps.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from support.server import LiveServer

CLIENT_ID, CLIENT_SECRET = "app-0000-1111", "graph-secret-value"
SCOPE = "https://graph.microsoft.com/.default"
MAILBOX = "noreply@contoso.example"


@dataclass
class Sent:
    """One message Graph accepted: the bytes as delivered (no Bcc) and every recipient."""

    data: bytes
    recipients: list[str]
    token: str

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]


@dataclass
class GraphState:
    """What the fake saw, and what a test scripts it to answer."""

    sent: list[Sent] = field(default_factory=list)
    token_requests: int = 0
    #: Seconds each issued token lives (``expires_in``).
    lifetime: int = 3600
    #: Tokens Graph accepts; a test empties it to revoke them.
    valid: set[str] = field(default_factory=set)
    #: Answers given to sendMail before accepting: (status, headers, json body).
    script: list[tuple[int, dict[str, str], dict]] = field(default_factory=list)
    #: Seconds the token endpoint waits before answering (to overlap threads).
    token_delay: float = 0.0
    #: A token to hand out instead of a fresh one (a hostile token endpoint).
    forged_token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: itertools.count = field(default_factory=itertools.count)


def make_app(state: GraphState) -> Starlette:
    async def token(request: Request) -> Response:
        # urlencoded, parsed with the stdlib (Starlette's form parser needs python-multipart)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        with state.lock:
            state.token_requests += 1
        if state.token_delay:
            import asyncio

            await asyncio.sleep(state.token_delay)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("scope") != SCOPE:
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        value = state.forged_token or f"token-{next(state._serial)}"
        with state.lock:
            state.valid.add(value)
        return JSONResponse({"token_type": "Bearer", "expires_in": state.lifetime, "access_token": value})

    async def send_mail(request: Request) -> Response:
        if request.path_params["user"] != MAILBOX:
            return JSONResponse({"error": {"code": "ErrorInvalidUser"}}, status_code=404)
        auth = request.headers.get("authorization", "")
        value = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or value not in state.valid:
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        with state.lock:
            scripted = state.script.pop(0) if state.script else None
        if scripted is not None:
            status, headers, body = scripted
            return JSONResponse(body, status_code=status, headers=headers)
        if request.headers.get("content-type") != "text/plain":
            return JSONResponse({"error": {"code": "ErrorInvalidContentType"}}, status_code=415)
        try:
            raw = base64.b64decode(await request.body(), validate=True)
        except binascii.Error:
            return JSONResponse({"error": {"code": "ErrorMimeContentInvalidBase64String"}}, status_code=400)
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        recipients = [a for _, a in getaddresses([str(v) for h in ("To", "Cc", "Bcc") for v in parsed.get_all(h, [])])]
        # Exchange delivers without the Bcc header; the rest of the bytes stay ours.
        head, _, rest = raw.partition(b"\r\n\r\n")
        kept = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"bcc:"))
        with state.lock:
            state.sent.append(Sent(kept + b"\r\n\r\n" + rest, recipients, value))
        return Response(status_code=202, headers={"request-id": f"req-{len(state.sent)}"})

    return Starlette(routes=[
        Route("/tenant/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/v1.0/users/{user}/sendMail", send_mail, methods=["POST"]),
    ])  # fmt: skip


class GraphServer:
    """The fake, started on a free loopback port; ``options()`` configures a transport for it."""

    def __init__(self) -> None:
        self.state = GraphState()
        self.live = LiveServer(make_app(self.state)).start()
        self.url = self.live.url

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/tenant/oauth2/v2.0/token"

    @property
    def mail_endpoint(self) -> str:
        return f"{self.url}/v1.0/users/{MAILBOX}/sendMail"

    def options(self, **extra) -> dict:
        return {
            "backend": "msgraph", "mail_endpoint": self.mail_endpoint, "token_endpoint": self.token_endpoint,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra,
        }  # fmt: skip

    def reset(self) -> None:
        with self.state.lock:
            self.state.sent.clear()
            self.state.script.clear()
            self.state.valid.clear()
            self.state.token_requests = 0
            self.state.lifetime = 3600
            self.state.token_delay = 0.0
            self.state.forged_token = None

    def stop(self) -> None:
        self.live.stop()
