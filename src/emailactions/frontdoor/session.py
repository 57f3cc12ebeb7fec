"""One SMTP connection: aiosmtpd's session with the front door's rules.

What it adds to aiosmtpd: AUTH only over TLS unless the client is on
loopback (:func:`auth_allowed`), credentials checked off the event loop,
enhanced status codes on every reply, and per-connection limits (messages,
refused commands), past which it answers ``421`` and hangs up.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Session

from emailactions.errors import NotAuthenticated, RateLimited
from emailactions.frontdoor.replies import enhanced

AUTH_THROTTLED = "454 4.7.0 Too many failed logins from this address; try again later"

#: Times a connection may send each command (aiosmtpd answers 421 past it): a
#: client cannot hold a connection open with endless NOOPs, or retry AUTH forever.
CALL_LIMITS = {"NOOP": 50, "RSET": 1000, "HELO": 10, "EHLO": 10, "STARTTLS": 2, "AUTH": 10, "HELP": 10, "VRFY": 10, "EXPN": 10, "*": 1_000_000}

# aiosmtpd logs every command line at INFO, AUTH PLAIN's base64 credentials
# included: its logger never goes below WARNING, whatever the root's level.
logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.getLogger("mail.log").level))


def auth_allowed(peer: Any, tls: bool) -> bool:
    """Whether a client at ``peer`` (an address, or aiosmtpd's ``(host, port, ...)``) may AUTH:
    over TLS always; in clear only from loopback, where no one else can listen."""
    host = peer[0] if isinstance(peer, (tuple, list)) else peer
    if tls:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False  # a Unix socket or something stranger: not known to be local
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class _Session(Session):
    """aiosmtpd's session without the deprecation warning its own AUTH code triggers at each login."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class FrontDoorSMTP(SMTP):
    """aiosmtpd's SMTP for one connection to the front door."""

    def __init__(self, door: Any, *, implicit_tls: bool, loop: asyncio.AbstractEventLoop) -> None:
        settings = door.settings
        super().__init__(
            door,
            data_size_limit=door.size,
            enable_SMTPUTF8=True,
            hostname=settings.hostname,
            ident="emailactions ESMTP",
            tls_context=None if implicit_tls else door.tls,
            timeout=settings.timeout,
            auth_required=True,
            command_call_limit=CALL_LIMITS,
            loop=loop,
        )
        self.door = door
        #: Messages committed over this connection.
        self.messages = 0
        self._refused = 0
        self._credentials: Any = None
        self._in_ehlo = False

    def _create_session(self) -> Session:
        return _Session(self.loop)

    @property
    def client(self) -> str:
        peer = self.session.peer if self.session is not None else None
        return str(peer[0]) if isinstance(peer, (tuple, list)) else "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        upgraded = self._original_transport is not None  # after STARTTLS
        super().connection_made(transport)
        self.door.sessions.add(self)
        tls = upgraded or transport.get_extra_info("ssl_object") is not None
        # aiosmtpd's own switch: AUTH advertised and accepted only when allowed.
        self._auth_require_tls = not auth_allowed(self.session.peer, tls)

    async def _handle_client(self) -> None:
        if len(self.door.sessions) > self.door.settings.max_connections:
            await super().push("421 4.7.0 Too many connections; try again later")
            self.transport.close()
            return
        await super()._handle_client()

    def connection_lost(self, error: Exception | None) -> None:
        self.door.sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        if isinstance(status, bytes) or self._in_ehlo:
            await super().push(status)
            return
        status = enhanced(status)
        await super().push(status)
        if status.startswith("5"):
            self._refused += 1
            if self._refused >= self.door.settings.max_bad_commands:
                await self._hang_up("421 4.7.0 Too many refused commands; closing the connection")

    async def _hang_up(self, reply: str) -> None:
        await super().push(reply)
        if self.transport is not None:
            self.transport.close()

    async def smtp_EHLO(self, hostname: str) -> None:
        self._in_ehlo = bool(hostname)  # the 501 for a missing name gets its enhanced code
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_ehlo = False

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self.messages >= self.door.settings.max_messages_per_connection:
            await self._hang_up("421 4.7.0 Too many messages on this connection; reconnect to send more")
            return
        await super().smtp_MAIL(arg)

    # -- AUTH: aiosmtpd decodes PLAIN and LOGIN, the check runs in a thread --

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        # Called synchronously by aiosmtpd's auth_PLAIN / auth_LOGIN: keep the
        # credentials; _checked verifies them off the loop (scrypt takes ~0.1 s).
        self._credentials = auth_data
        return AuthResult(success=False, handled=False)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._checked(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._checked(await super().auth_LOGIN(_, args))

    async def _checked(self, result: AuthResult) -> AuthResult:
        credentials, self._credentials = self._credentials, None
        if credentials is None:
            return result  # aborted or malformed: aiosmtpd has answered
        try:
            username, password = credentials.login.decode("utf-8"), credentials.password.decode("utf-8")
            principal = await asyncio.to_thread(self.door.identities.login, username, password, self.client)
        except RateLimited:
            return AuthResult(success=False, handled=False, message=AUTH_THROTTLED)
        except (NotAuthenticated, UnicodeDecodeError):
            return AuthResult(success=False, handled=False)
        if principal.anonymous:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=principal)
