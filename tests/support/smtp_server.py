"""A real SMTP server on loopback (aiosmtpd) for the tests, with TLS and AUTH.

Besides scripted replies (``rcpt_reply``, ``data_reply``) a test can make the
server stall before answering DATA (``stall``) or drop the connection in the
middle of DATA or after the final dot without replying (``drop``).
:class:`HostileServer` is no SMTP server at all: it never greets, or trickles.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER, PASSWORD = "idm", "s3cr3t-pa55"


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]


class Handler:
    """Stores messages; ``rcpt_reply`` / ``data_reply`` let a test script refusals.

    ``stall(received)`` returns seconds to wait before answering DATA;
    ``drop(stage)`` returning True for ``"mid-data"`` closes the connection
    after the 354 while the client sends, and for ``"after-data"`` stores the
    message and then closes without the final reply (the server took it, the
    client cannot know).
    """

    def __init__(self) -> None:
        #: Advertise PIPELINING (aiosmtpd reads pipelined commands fine but never offers it).
        self.pipelining = False
        self.messages: list[Received] = []
        self.rcpt_reply: Callable[[str], str | None] = lambda address: None
        self.data_reply: Callable[[Received], str | None] = lambda received: None
        self.stall: Callable[[Received], float] = lambda received: 0.0
        self.drop: Callable[[str], bool] = lambda stage: False
        self.lock = threading.Lock()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content, list(envelope.mail_options))
        delay = self.stall(received)
        if delay:
            await asyncio.sleep(delay)
        reply = self.data_reply(received)
        if reply:
            return reply
        with self.lock:
            self.messages.append(received)
        if self.drop("after-data"):
            server.transport.abort()
        return "250 Message accepted for delivery"


class _ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP, able to hang up in the middle of DATA."""

    async def smtp_DATA(self, arg: str) -> None:
        handler = self.event_handler
        if self.envelope is not None and self.envelope.rcpt_tos and handler.drop("mid-data"):
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readuntil(b"\r\n")  # the first line of the message, then gone
            self.transport.abort()
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _ScriptedSMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outward_address() -> str | None:
    """This machine's address on its default route (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # UDP: sets the route, sends nothing
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SMTPServer:
    """Start/stop an aiosmtpd server in a thread; ``.handler.messages`` holds mail."""

    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        auth: bool = False,
        smtputf8: bool = True,
        hostname: str = "127.0.0.1",
    ) -> None:
        self.handler = Handler()
        self.hostname = hostname
        self.port = free_port()
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if auth:
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=starttls is not None)
        if implicit_tls is not None:
            kwargs["ssl_context"] = implicit_tls
        self.controller = _Controller(self.handler, hostname=hostname, port=self.port, server_hostname="localhost", **kwargs)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class HostileServer:
    """A TCP listener on loopback that never lets an SMTP session start.

    ``mode``: ``"unaccepted"`` never calls ``accept()`` (the kernel's backlog
    completes the TCP handshake, then nothing); ``"silent"`` accepts and never
    says a word; ``"trickle"`` sends an endless multi-line greeting, one byte
    every ``interval`` seconds, so no single read ever times out;
    ``"after-dot"`` answers every command at once, takes the whole message,
    then trickles its final reply the same way (the send's outcome unknown).
    """

    def __init__(self, mode: str, *, interval: float = 1.0) -> None:
        assert mode in ("unaccepted", "silent", "trickle", "after-dot"), mode
        self.mode, self.interval = mode, interval
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        #: Connections accepted so far.
        self.accepted = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "HostileServer":
        if self.mode != "unaccepted":
            self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.listener.close()

    def __enter__(self) -> "HostileServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            handler = {"trickle": self._trickle, "after-dot": self._after_dot}.get(self.mode, self._hold)
            self._spawn(handler, conn)

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            self._stop.wait()

    def _after_dot(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            reader = conn.makefile("rb")
            try:
                conn.sendall(b"220 relay.example.com ESMTP\r\n")
                while not self._stop.is_set():
                    command = reader.readline().upper()
                    if not command:
                        return
                    if command.startswith(b"DATA"):
                        conn.sendall(b"354 go ahead\r\n")
                        while reader.readline() not in (b".\r\n", b""):
                            pass
                        break
                    conn.sendall(b"250 ok\r\n")
            except OSError:
                return
            self._trickle(conn, b"250-slow.example.com " + b"x" * 40 + b"\r\n")

    def _trickle(self, conn: socket.socket, line: bytes = b"220-slow.example.com " + b"x" * 40 + b"\r\n") -> None:
        with conn:
            while not self._stop.is_set():
                for byte in line:
                    if self._stop.wait(self.interval):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return
