"""SMTPTransport: delivery over SMTP with smtplib, pooled connections and TLS.

The only module that imports smtplib: its exceptions become
:mod:`emailactions.errors` here, with the password never in a message.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import threading
import time
from typing import Any

from ..errors import (
    AuthError,
    ConfigError,
    ConnectError,
    DeliveryTimeout,
    RecipientsRefused,
    SMTPUTF8Unsupported,
    TLSError,
    TransportError,
)
from ..hookspecs import hookimpl
from ..message import Message
from .base import BaseTransport, SendResult, option

log = logging.getLogger("emailactions.smtp")

_TLS_VERSIONS = {
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


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
    works too). Timeouts are in seconds; ``0`` means none.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int | None = None,
        ssl: bool = False,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 300.0,
        connect_timeout: float | None = None,
        local_hostname: str | None = None,
        ca_file: str | None = None,
        verify: bool = True,
        min_tls_version: str | None = None,
        pool_size: int = 20,
        idle_timeout: float = 30.0,
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
        self.username = option(username, (str, type(None)), "username")
        self.password = Secret(option(password, str, "password")) if password is not None else None
        if (self.username is None) != (self.password is None):
            raise ConfigError("Options 'username' and 'password' go together", key="password")
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
        if self._tls is None:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if not self.verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.min_tls_version:
                ctx.minimum_version = _TLS_VERSIONS[self.min_tls_version]
            self._tls = ctx
        return self._tls

    def _connect(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        # smtplib's default local name calls getfqdn(), a DNS round trip.
        local = self.local_hostname or socket.gethostname() or "localhost"
        try:
            if self.use_ssl:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, local, timeout=self.connect_timeout, context=self._tls_context()
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, local, timeout=self.connect_timeout)
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TLSError(f"TLS with {where} failed: {exc}", transport=self.alias) from exc
        except (socket.timeout, TimeoutError) as exc:
            raise DeliveryTimeout(f"Connecting to {where} timed out", transport=self.alias) from exc
        except smtplib.SMTPConnectError as exc:
            raise ConnectError(f"{where} refused the session: {exc.smtp_code} {_text(exc.smtp_error)}", transport=self.alias) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectError(f"Cannot connect to {where}: {exc}", transport=self.alias) from exc
        self.connections_opened += 1
        try:
            if conn.sock is not None:
                conn.sock.settimeout(self.timeout)
            conn.ehlo_or_helo_if_needed()
            if self.starttls:
                if not conn.has_extn("starttls"):
                    raise TLSError(f"{where} does not offer STARTTLS", transport=self.alias)
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if self.username is not None:
                if not conn.has_extn("auth"):
                    raise AuthError(f"{where} does not offer AUTH", transport=self.alias)
                conn.login(self.username, self.password)
        except TransportError:
            _close(conn)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _close(conn)
            raise AuthError(
                f"{where} refused the credentials of {self.username!r}: {exc.smtp_code} {_text(exc.smtp_error)}",
                transport=self.alias,
            ) from None  # the cause would carry the AUTH exchange
        except (ssl.SSLError, ssl.CertificateError) as exc:
            _close(conn)
            raise TLSError(f"TLS with {where} failed: {exc}", transport=self.alias) from exc
        except (socket.timeout, TimeoutError) as exc:
            _close(conn)
            raise DeliveryTimeout(f"{where} did not answer in time", transport=self.alias) from exc
        except (OSError, smtplib.SMTPException) as exc:
            _close(conn)
            raise ConnectError(f"SMTP session with {where} failed: {exc}", transport=self.alias) from exc
        return conn

    def _acquire(self) -> tuple[smtplib.SMTP, bool]:
        if not self._slots.acquire(timeout=self.timeout):
            raise DeliveryTimeout("No SMTP connection became free in time", transport=self.alias)
        try:
            now = time.monotonic()
            while True:
                with self._lock:
                    if not self._idle:
                        break
                    conn, since = self._idle.pop()
                if now - since < self.idle_timeout:
                    # A connection idle for a while may have been dropped by the server.
                    if now - since < 1.0 or _alive(conn):
                        return conn, True
                _close(conn)
            return self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: smtplib.SMTP, healthy: bool) -> None:
        if healthy and conn.sock is not None:
            with self._lock:
                self._idle.append((conn, time.monotonic()))
        else:
            _close(conn)
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
        for attempt in range(2):
            conn, reused = self._acquire()
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
                # A pooled connection the server closed while idle: nothing was
                # accepted yet, so one fresh connection is safe to try.
                if reused and attempt == 0 and stage == "mail":
                    continue
                # stage "data": the message may have arrived (lost before the final
                # reply); retrying may duplicate it, with the same Message-ID.
                raise ConnectError(
                    f"{self.host}:{self.port} closed the connection during {stage or 'the session'}",
                    transport=self.alias,
                    stage=stage or None,
                ) from exc
            except (socket.timeout, TimeoutError) as exc:
                raise DeliveryTimeout(f"{self.host}:{self.port} did not answer in time", transport=self.alias) from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise ConnectError(f"SMTP delivery to {self.host}:{self.port} failed: {exc}", transport=self.alias) from exc
            finally:
                self._release(conn, healthy)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, conn: smtplib.SMTP, message: Message) -> SendResult:
        mail_options: list[str] = []
        if message.smtputf8:
            if not conn.has_extn("smtputf8"):
                raise SMTPUTF8Unsupported(
                    f"{self.host}:{self.port} does not support SMTPUTF8, needed for a non-ASCII address",
                    transport=self.alias,
                )
            mail_options = ["SMTPUTF8", "BODY=8BITMIME"]
        stage = "mail"
        try:
            code, resp = conn.mail(message.sender, mail_options)
            if code != 250:
                raise _Reply("MAIL FROM", code, _text(resp))
            stage = "rcpt"
            accepted: list[str] = []
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in message.recipients:
                code, resp = conn.rcpt(rcpt)
                if code in (250, 251):
                    accepted.append(rcpt)
                else:
                    refused[rcpt] = (code, _text(resp))
            if not accepted:
                raise RecipientsRefused(
                    "The server refused every recipient",
                    transport=self.alias,
                    refused={a: {"code": c, "message": m} for a, (c, m) in refused.items()},
                )
            stage = "data"
            code, resp = conn.data(message.data)
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
        # 4xx is temporary, 5xx permanent: kept in detail for retry decisions.
        return TransportError(
            f"The server answered {exc.stage} with {exc.code} {exc.text}",
            transport=self.alias,
            smtp_code=exc.code,
            stage=exc.stage,
        )


def _alive(conn: smtplib.SMTP) -> bool:
    try:
        return conn.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _reset(conn: smtplib.SMTP) -> bool:
    """RSET after a failed transaction; the connection is reusable if it worked."""
    try:
        return conn.rset()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        pass
    try:
        conn.close()
    except OSError:
        pass


@hookimpl
def register_transports(register: Any) -> None:
    register("smtp", SMTPTransport)
