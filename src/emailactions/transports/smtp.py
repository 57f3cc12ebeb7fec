"""SMTPTransport: delivery over SMTP with smtplib, pooled connections and TLS.

The only module that imports smtplib: its exceptions become
:mod:`emailactions.errors` here, with the password never in a message.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import smtplib
    import ssl

from emailactions.errors import (
    AuthError,
    ConfigError,
    ConnectError,
    DeliveryTimeout,
    RecipientsRefused,
    Refusal,
    Refusals,
    SMTPUTF8Unsupported,
    TLSError,
    TransportError,
)
from emailactions.hookspecs import hookimpl
from emailactions.mime.message import Message
from emailactions.transports.base import BaseTransport, SendResult, caller_deadline, option
from emailactions.transports.smtp_dialogue import log_dialogue
from emailactions.transports.watchdog import WATCHDOG, Watch, within

log = logging.getLogger("emailactions.smtp")

# smtplib and ssl are imported where they are used: the console and file
# transports should not pay ~10 ms of start-up for them.
_TLS_VERSIONS = {"TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3"}


class Secret(str):
    """A string that never shows itself in a repr or a log line."""

    def __repr__(self) -> str:
        return "'********'"


class _Reply(Exception):
    """An unexpected SMTP reply, raised inside a transaction."""

    def __init__(self, stage: str, code: int, text: str) -> None:
        super().__init__(f"{stage}: {code} {text}")
        self.stage, self.code, self.text = stage, code, text


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


class SMTPTransport(BaseTransport):
    """Sends through an SMTP relay, reusing up to ``pool_size`` connections.

    Certificates and host names are verified unless ``verify = false``;
    ``ca_file`` adds a CA bundle (the ``SSL_CERT_FILE`` environment variable
    works too). Timeouts are in seconds; ``0`` means none. ``timeout`` bounds
    each read or write, ``deadline`` a whole message (connect to final reply),
    so a server that trickles bytes cannot hold a send past it. A caller's
    deadline (``sync_deadline``, see :func:`~.base.answer_by`) caps all three.

    A failure only a config change can fix (an untrusted certificate, refused
    credentials, a missing STARTTLS or AUTH) carries a ``hint`` naming the key.

    Credentials go only over TLS (``ssl`` or ``starttls``), or to a relay on a
    loopback address (judged by the connected peer, not the host name), unless
    ``allow_plaintext_auth = true``: AUTH PLAIN on plain TCP hands the password
    to anyone on the path.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int | None = None,
        ssl: bool = False,
        starttls: bool = False,
        starttls_required: bool = True,
        username: str | None = None,
        password: str | None = None,
        allow_plaintext_auth: bool = False,
        timeout: float = 300.0,
        connect_timeout: float | None = None,
        local_hostname: str | None = None,
        ca_file: str | None = None,
        verify: bool = True,
        min_tls_version: str | None = None,
        pool_size: int = 20,
        idle_timeout: float = 30.0,
        deadline: float | None = None,
        pipelining: bool = True,
        debug: bool = False,
    ) -> None:
        super().__init__()
        self.host = option(host, str, "host")
        self.use_ssl = option(ssl, bool, "ssl")
        self.port = option(port if port is not None else (465 if ssl else 25), int, "port")
        if not 0 < self.port < 65536:
            raise ConfigError(f"Option 'port' out of range: {self.port}", key="port")
        self.starttls = option(starttls, bool, "starttls")
        if self.use_ssl and self.starttls:
            raise ConfigError("Options 'ssl' and 'starttls' exclude each other", key="starttls")
        # IDM's JavaMail goes on in clear text when STARTTLS is missing; we refuse unless told.
        self.starttls_required = option(starttls_required, bool, "starttls_required")
        self.username = option(username, (str, type(None)), "username")
        self.password = Secret(option(password, str, "password")) if password is not None else None
        if (self.username is None) != (self.password is None):
            raise ConfigError("Options 'username' and 'password' go together", key="password")
        self.allow_plaintext_auth = option(allow_plaintext_auth, bool, "allow_plaintext_auth")
        self.timeout = float(option(timeout, (int, float), "timeout")) or None
        ct = connect_timeout if connect_timeout is not None else timeout
        self.connect_timeout = float(option(ct, (int, float), "connect_timeout")) or None
        self.local_hostname = option(local_hostname, (str, type(None)), "local_hostname")
        self.ca_file = option(ca_file, (str, type(None)), "ca_file")
        self.verify = option(verify, bool, "verify")
        if min_tls_version is not None and min_tls_version not in _TLS_VERSIONS:
            raise ConfigError(
                f"Option 'min_tls_version' must be one of {sorted(_TLS_VERSIONS)}", key="min_tls_version"
            )
        self.min_tls_version = min_tls_version
        self.pool_size = option(pool_size, int, "pool_size")
        if self.pool_size < 1:
            raise ConfigError("Option 'pool_size' must be at least 1", key="pool_size")
        self.idle_timeout = float(option(idle_timeout, (int, float), "idle_timeout"))
        # One message, connect to final reply; default: both timeouts together.
        total = deadline if deadline is not None else (self.connect_timeout or 0) + (self.timeout or 0)
        self.deadline = float(option(total, (int, float), "deadline")) or None
        self.pipelining = option(pipelining, bool, "pipelining")
        self.debug = option(debug, bool, "debug")
        self._tls: ssl.SSLContext | None = None
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._slots = threading.BoundedSemaphore(self.pool_size)
        self._lock = threading.Lock()
        #: Connections opened so far (for tests and benchmarks).
        self.connections_opened = 0

    def __repr__(self) -> str:
        user = f" user={self.username!r}" if self.username else ""
        return f"<SMTPTransport {self.host}:{self.port}{user}>"

    # -- connections -----------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        import ssl

        if self._tls is None:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if not self.verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.min_tls_version:
                ctx.minimum_version = getattr(ssl.TLSVersion, _TLS_VERSIONS[self.min_tls_version])
            self._tls = ctx
        return self._tls

    def _connect(self, watch: "Watch | None") -> smtplib.SMTP:
        import smtplib
        import ssl

        where = f"{self.host}:{self.port}"
        # smtplib's default local name calls getfqdn(), a DNS round trip.
        local = self.local_hostname or socket.gethostname() or "localhost"
        timeout = within(self.connect_timeout, watch)
        if self.use_ssl:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(local_hostname=local, timeout=timeout, context=self._tls_context())
        else:
            conn = smtplib.SMTP(local_hostname=local, timeout=timeout)
        # Connecting after construction lets the deadline cover a slow greeting;
        # smtplib keeps the TLS server name in _host, which only __init__ sets.
        conn._host = self.host  # type: ignore[attr-defined]
        if self.debug or log.isEnabledFor(logging.DEBUG):
            log_dialogue(conn, log)
        if watch is not None:
            watch.conn = conn
        try:
            code, greeting = conn.connect(self.host, self.port)
            if code != 220:
                raise ConnectError(f"{where} refused the session: {code} {_text(greeting)}", transport=self.alias)
            self.connections_opened += 1
            _settimeout(conn, within(self.timeout, watch))
            conn.ehlo_or_helo_if_needed()
            secure = self.use_ssl
            if self.starttls and (conn.has_extn("starttls") or self.starttls_required):
                if not conn.has_extn("starttls"):
                    raise TLSError(f"{where} does not offer STARTTLS", transport=self.alias, hint=self._hint("starttls"))
                conn.starttls(context=self._tls_context())
                conn.ehlo()
                secure = True
            if self.username is not None:
                if not (secure or self.allow_plaintext_auth or _loopback(conn)):
                    raise AuthError(
                        f"Refusing to send the credentials of {self.username!r} to {where} without TLS",
                        transport=self.alias,
                        hint=self._hint("plaintext"),
                    )
                if not conn.has_extn("auth"):
                    raise AuthError(f"{where} does not offer AUTH", transport=self.alias, hint=self._hint("no-auth"))
                conn.login(self.username, self.password)
        except TransportError:
            _drop(conn)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _drop(conn)
            raise AuthError(
                f"{where} refused the credentials of {self.username!r}: {exc.smtp_code} {_text(exc.smtp_error)}",
                transport=self.alias,
                # 454 is a temporary AUTH failure: retried like any other 4xx.
                hint=self._hint("credentials") if exc.smtp_code >= 500 else None,
            ) from None  # the cause would carry the AUTH exchange
        except ssl.SSLCertVerificationError as exc:
            _drop(conn)
            raise TLSError(f"TLS with {where} failed: {exc}", transport=self.alias, hint=self._hint("certificate")) from exc
        except ssl.SSLError as exc:
            _drop(conn)
            raise TLSError(f"TLS with {where} failed: {exc}", transport=self.alias) from exc
        except (OSError, smtplib.SMTPException) as exc:
            _drop(conn)
            if _timed_out(exc) or (watch is not None and watch.fired):
                raise DeliveryTimeout(f"{where} did not answer in time", transport=self.alias) from exc
            raise ConnectError(f"SMTP session with {where} failed: {exc}", transport=self.alias) from exc
        return conn

    def _hint(self, problem: str) -> str:
        """The config change that fixes ``problem``, naming the full keys."""
        key = f"transports.{self.alias}."
        if problem == "certificate":
            return (
                f"Set {key}ca_file (or SSL_CERT_FILE) to the CA that signed the relay's certificate, and {key}host "
                f"to a name on it; {key}verify = false turns the check off"
            )
        if problem == "starttls":
            return (
                f"Set {key}starttls = false for a relay without TLS, or ssl = true for one with implicit TLS (port 465); "
                f"{key}starttls_required = false goes on in clear text, as IDM does"
            )
        if problem == "plaintext":
            return (
                f"Set {key}starttls = true (or ssl = true); {key}allow_plaintext_auth = true "
                "sends the password unencrypted"
            )
        if problem == "no-auth" and not (self.starttls or self.use_ssl):
            return f"Many relays offer AUTH only over TLS: set {key}starttls = true (or ssl = true)"
        if problem == "no-auth":
            return f"Remove {key}username and {key}password if the relay needs no login"
        return f"Check {key}username and {key}password"

    def _acquire(self, watch: "Watch | None") -> tuple[smtplib.SMTP, bool]:
        wait = self.timeout if watch is None or watch.deadline is None else max(0.0, watch.deadline - time.monotonic())
        if not self._slots.acquire(timeout=wait):
            raise DeliveryTimeout("No SMTP connection became free in time", transport=self.alias)
        try:
            now = time.monotonic()
            while True:
                with self._lock:
                    if not self._idle:
                        break
                    conn, since = self._idle.pop()
                if now - since < self.idle_timeout:
                    if watch is not None:
                        watch.conn = conn
                    # An earlier send may have left a timeout capped by its own deadline.
                    _settimeout(conn, within(self.timeout, watch))
                    # A connection idle for a while may have been dropped by the server.
                    if now - since < 1.0 or _alive(conn):
                        return conn, True
                # Dropped, not QUIT: a server that stopped answering would hold the QUIT.
                _drop(conn)
            return self._connect(watch), False
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: smtplib.SMTP, healthy: bool) -> None:
        if healthy and conn.sock is not None:
            with self._lock:
                self._idle.append((conn, time.monotonic()))
        else:
            _drop(conn)
        self._slots.release()

    def open(self) -> None:
        """Nothing to do: connections open on first use and are pooled."""

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close(conn)

    # -- sending ---------------------------------------------------------

    def send(self, message: Message) -> SendResult:
        """Deliver one message within ``deadline`` seconds, from connect to final
        reply, and by the caller's deadline if it set one."""
        started = time.monotonic()
        ends = [d for d in (started + self.deadline if self.deadline else None, caller_deadline()) if d is not None]
        watch = WATCHDOG.watch(min(ends)) if ends else None
        try:
            return self._send(message, watch)
        except TransportError as exc:
            if watch is not None and watch.fired and not isinstance(exc, DeliveryTimeout):
                raise DeliveryTimeout(
                    f"Delivery to {self.host}:{self.port} took longer than {watch.deadline - started:.3g} s", transport=self.alias
                ) from exc
            raise
        finally:
            if watch is not None:
                WATCHDOG.release(watch)

    def _send(self, message: Message, watch: "Watch | None") -> SendResult:
        import smtplib

        where = f"{self.host}:{self.port}"
        for attempt in range(2):
            conn, reused = self._acquire(watch)
            healthy = False
            try:
                result = self._transaction(conn, message)
                healthy = True
                return result
            except _Reply as exc:
                healthy = _reset(conn)
                raise self._reply_error(exc) from None
            except RecipientsRefused:
                healthy = _reset(conn)
                raise
            except SMTPUTF8Unsupported:
                healthy = True
                raise
            except smtplib.SMTPServerDisconnected as exc:
                stage = getattr(exc, "stage", "")
                if _timed_out(exc):
                    raise DeliveryTimeout(f"{where} did not answer {stage} in time", transport=self.alias, stage=stage) from exc
                # A pooled connection the server closed while idle: nothing was
                # accepted yet, so one fresh connection is safe to try.
                if reused and attempt == 0 and stage == "mail" and not (watch and watch.fired):
                    continue
                # stage "reply": the message may have arrived (lost before the final
                # reply); retrying may duplicate it, with the same Message-ID.
                raise ConnectError(
                    f"{where} closed the connection during {stage or 'the session'}", transport=self.alias, stage=stage or None
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:
                if _timed_out(exc):
                    raise DeliveryTimeout(f"{where} did not answer in time", transport=self.alias) from exc
                raise ConnectError(f"SMTP delivery to {where} failed: {exc}", transport=self.alias) from exc
            finally:
                if watch is not None:
                    # Detach first: once pooled, the connection may be another
                    # send's, and this watch must not shut its socket down.
                    WATCHDOG.detach(watch)
                    healthy = healthy and not watch.fired
                self._release(conn, healthy)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, conn: smtplib.SMTP, message: Message) -> SendResult:
        """MAIL, RCPT..., DATA: pipelined (RFC 2920) when the server offers it.

        Commands are written with ``send`` and replies read with ``getreply``
        because smtplib has no pipelining; one write for the whole envelope
        saves a round trip per command.
        """
        import smtplib

        options = ""
        encoding = "ascii"
        if message.smtputf8:
            if not conn.has_extn("smtputf8"):
                raise SMTPUTF8Unsupported(
                    f"{self.host}:{self.port} does not support SMTPUTF8, needed for a non-ASCII address",
                    transport=self.alias,
                )
            options, encoding = " SMTPUTF8 BODY=8BITMIME", "utf-8"
        # Addresses were validated when the request was parsed, so they need no
        # re-parsing here (smtplib.quoteaddr would cost a third of a send).
        mail = f"MAIL FROM:<{message.sender}>{options}\r\n".encode(encoding)
        rcpts = [f"RCPT TO:<{r}>\r\n".encode(encoding) for r in message.recipients]
        pipelined = self.pipelining and conn.has_extn("pipelining")
        stage = "mail"
        try:
            if pipelined:
                conn.send(b"".join([mail, *rcpts, b"DATA\r\n"]))
                mail_reply = conn.getreply()
                stage = "rcpt"
                rcpt_replies = [conn.getreply() for _ in rcpts]
                data_reply = conn.getreply()
            else:
                conn.send(mail)
                mail_reply = conn.getreply()
                if mail_reply[0] != 250:
                    raise _Reply("MAIL FROM", mail_reply[0], _text(mail_reply[1]))
                stage = "rcpt"
                rcpt_replies = []
                for rcpt in rcpts:
                    conn.send(rcpt)
                    rcpt_replies.append(conn.getreply())
                data_reply = (0, b"")
            accepted: list[str] = []
            refused: Refusals = {}
            for address, (code, text) in zip(message.recipients, rcpt_replies):
                if code in (250, 251):
                    accepted.append(address)
                else:
                    refused[address] = Refusal(code, _text(text))
            if pipelined and data_reply[0] == 354 and (mail_reply[0] != 250 or not accepted):
                # The server opened DATA for a failed envelope: close it empty.
                conn.send(b".\r\n")
                conn.getreply()
            if mail_reply[0] != 250:
                raise _Reply("MAIL FROM", mail_reply[0], _text(mail_reply[1]))
            if not accepted:
                raise RecipientsRefused(
                    "The server refused every recipient",
                    transport=self.alias,
                    refused=refused,
                )
            stage = "data"
            if not pipelined:
                conn.send(b"DATA\r\n")
                data_reply = conn.getreply()
            if data_reply[0] != 354:
                raise _Reply("DATA", data_reply[0], _text(data_reply[1]))
            # Dot-stuffing (RFC 5321 4.5.2). Composed data starts with a header
            # and uses CRLF only, so every line start follows a CRLF.
            conn.send(message.data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            # Past this point a lost connection leaves the outcome unknown.
            stage = "reply"
            code, resp = conn.getreply()
            if code != 250:
                raise _Reply("DATA", code, _text(resp))
        except smtplib.SMTPServerDisconnected as exc:
            exc.stage = stage  # type: ignore[attr-defined]
            raise
        if self.debug:
            log.debug("sent %s to %d recipient(s): %s", message.message_id, len(accepted), _text(resp))
        return SendResult(
            message.message_id, message.sender, accepted, refused, transport=self.alias, response=f"{code} {_text(resp)}"
        )

    def _reply_error(self, exc: _Reply) -> TransportError:
        # 4xx is temporary, 5xx permanent: retry decisions read ``smtp_code``.
        return TransportError(
            f"The server answered {exc.stage} with {exc.code} {exc.text}",
            transport=self.alias,
            smtp_code=exc.code,
            stage=exc.stage,
        )


def _timed_out(exc: BaseException | None) -> bool:
    """smtplib turns a socket timeout into SMTPServerDisconnected; look beneath."""
    while exc is not None:
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _loopback(conn: smtplib.SMTP) -> bool:
    """Whether the connected peer is a loopback address (IPv4-mapped included)."""
    try:
        address = ipaddress.ip_address(conn.sock.getpeername()[0].partition("%")[0])
    except (OSError, ValueError, AttributeError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _settimeout(conn: smtplib.SMTP, timeout: float | None) -> None:
    if conn.sock is not None:
        conn.sock.settimeout(timeout)


def _alive(conn: smtplib.SMTP) -> bool:
    import smtplib

    try:
        return conn.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _reset(conn: smtplib.SMTP) -> bool:
    """RSET after a failed transaction; the connection is reusable if it worked."""
    import smtplib

    try:
        return conn.rset()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _close(conn: smtplib.SMTP) -> None:
    """QUIT, then close: for a connection that was working."""
    import smtplib

    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        pass
    _drop(conn)


def _drop(conn: smtplib.SMTP) -> None:
    """Close without QUIT: after a failure, a QUIT could wait a whole read timeout for its reply."""
    try:
        conn.close()
    except OSError:
        pass


@hookimpl
def register_transports(register: Any) -> None:
    register("smtp", SMTPTransport)
