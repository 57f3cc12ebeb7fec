"""MSGraphTransport: Microsoft Graph ``sendMail`` with an OAuth2 client-credentials token.

The finished message is posted as base64 MIME (``Content-Type: text/plain``),
so Graph sends our bytes, headers and Message-ID rather than a message it
builds from JSON. httpx is the HTTP client (timeouts, proxies, TLS, pooling),
imported when the first transport is built; the email package (~10 ms) when
the first message is sent.
"""

from __future__ import annotations

import base64
import ipaddress
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from emailactions.errors import AuthError, ConfigError, ConnectError, DeliveryTimeout, EngineUnavailable, TransportError
from emailactions.hookspecs import hookimpl
from emailactions.mime.message import Message
from emailactions.transports.base import BaseTransport, SendResult, caller_deadline, option
from emailactions.transports.msgraph_token import TokenCache
from emailactions.transports.smtp import Secret

if TYPE_CHECKING:  # pragma: no cover
    import httpx

#: Graph refuses requests over 4 MB; larger mail needs an upload session,
#: which a MIME send cannot use. Refused before the request, for good.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: The most of an error answer we read and quote.
MAX_ERROR_BODY = 16 * 1024
#: Graph's answers that mean "later": throttled, or the service is busy.
_TEMPORARY = {429, 503, 504}


class MSGraphTransport(BaseTransport):
    """Sends through Graph's ``POST .../users/{id}/sendMail`` as one application.

    The token comes from ``token_endpoint`` (client credentials) and is cached
    until shortly before it expires; a 401 from Graph drops it and the send is
    tried once more with a fresh one. 429 and 503 are temporary: a short
    ``Retry-After`` (up to ``retry_after_max`` seconds, and within a caller's
    deadline) is waited out once here, a longer one goes back to the outbox
    as a temporary error carrying ``retry_after``, and until it ends every
    send fails the same way without a request. Other 4xx are permanent.

    Endpoints must be ``https`` unless on a loopback address: the client
    secret and the token must not cross a network in clear text.
    """

    name = "msgraph"

    def __init__(
        self,
        *,
        mail_endpoint: str,
        token_endpoint: str,
        client_id: str,
        client_secret: str,
        scope: str = "https://graph.microsoft.com/.default",
        grant_type: str = "client_credentials",
        connect_timeout: float = 30.0,
        timeout: float = 60.0,
        proxy: str | None = None,
        ca_file: str | None = None,
        pool_size: int = 20,
        retry_after_max: float = 10.0,
    ) -> None:
        super().__init__()
        self.mail_endpoint = _endpoint(option(mail_endpoint, str, "mail_endpoint"), "mail_endpoint")
        self.token_endpoint = _endpoint(option(token_endpoint, str, "token_endpoint"), "token_endpoint")
        self.client_id = option(client_id, str, "client_id")
        self.client_secret = Secret(option(client_secret, str, "client_secret"))
        if not self.client_id or not self.client_secret:
            raise ConfigError("Options 'client_id' and 'client_secret' must not be empty", key="client_id" if not self.client_id else "client_secret")
        self.scope = option(scope, str, "scope")
        if option(grant_type, str, "grant_type") != "client_credentials":
            raise ConfigError(f"Option 'grant_type' must be 'client_credentials', not {grant_type!r}", key="grant_type")
        self.connect_timeout = float(option(connect_timeout, (int, float), "connect_timeout")) or None
        self.timeout = float(option(timeout, (int, float), "timeout")) or None
        self.proxy = Secret(option(proxy, str, "proxy")) if proxy is not None else None
        self.ca_file = option(ca_file, (str, type(None)), "ca_file")
        self.pool_size = option(pool_size, int, "pool_size")
        if self.pool_size < 1:
            raise ConfigError("Option 'pool_size' must be at least 1", key="pool_size")
        self.retry_after_max = float(option(retry_after_max, (int, float), "retry_after_max"))
        self.tokens = TokenCache(
            endpoint=self.token_endpoint, client_id=self.client_id, client_secret=self.client_secret,
            scope=self.scope, grant_type="client_credentials", post=self._post_form,
        )  # fmt: skip
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        #: Graph's last long Retry-After, as ``time.monotonic()``: no request before it.
        self._quiet_until = 0.0
        #: Requests posted to sendMail so far (for tests).
        self.requests = 0

    def __repr__(self) -> str:
        return f"<MSGraphTransport {self.mail_endpoint} client={self.client_id!r}>"

    # -- the HTTP client -------------------------------------------------

    def open(self) -> None:
        self.client()

    def client(self) -> "httpx.Client":
        """The pooled client, built on first use (once, whatever the threads)."""
        with self._lock:
            if self._client is None:
                try:
                    import httpx
                except ImportError:  # pragma: no cover - the extra is missing
                    raise EngineUnavailable("backend 'msgraph' needs httpx: pip install 'emailactions[msgraph]'", key="backend") from None
                limits = httpx.Limits(max_connections=self.pool_size, max_keepalive_connections=self.pool_size)
                self._client = httpx.Client(
                    proxy=str(self.proxy) if self.proxy else None, verify=_verify(self.ca_file), limits=limits,
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout), follow_redirects=False,
                )  # fmt: skip
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _request(self, url: str, **kwargs: Any) -> tuple[int, "httpx.Headers", bytes]:
        """POST ``url``: status, headers and at most :data:`MAX_ERROR_BODY` bytes of
        an error body (a hostile peer's endless answer is not read)."""
        import httpx

        timeout = _capped(self.connect_timeout, self.timeout)
        where = urlsplit(url).netloc
        try:
            with self.client().stream("POST", url, timeout=timeout, **kwargs) as response:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ERROR_BODY:
                        break
                return response.status_code, response.headers, body[:MAX_ERROR_BODY]
        except httpx.TimeoutException as exc:
            raise DeliveryTimeout(f"{where} did not answer in time", transport=self.alias) from exc
        except httpx.HTTPError as exc:
            raise ConnectError(f"HTTP request to {where} failed: {type(exc).__name__}", transport=self.alias) from exc

    def _post_form(self, url: str, form: dict[str, str]) -> tuple[int, bytes]:
        status, _, body = self._request(url, data=form, headers={"Accept": "application/json"})
        return status, body

    # -- sending ---------------------------------------------------------

    def send(self, message: Message) -> SendResult:
        payload = base64.b64encode(_with_bcc(message))
        if len(payload) > MAX_REQUEST_BYTES:
            raise TransportError(
                f"The message is {len(payload)} bytes as base64; Graph's sendMail takes at most {MAX_REQUEST_BYTES}",
                transport=self.alias, permanent=True, stage="sendMail",
            )  # fmt: skip
        quiet = self._quiet_until - time.monotonic()
        if quiet > 0:
            # Graph throttles the application, not one message: every send waits.
            raise TransportError(
                f"Graph asked for no requests for another {quiet:.0f} s (Retry-After)",
                transport=self.alias, permanent=False, stage="sendMail", retry_after=round(quiet, 3),
            )  # fmt: skip
        retried_auth = waited = False
        while True:
            token = self._token()
            self.requests += 1
            status, headers, body = self._request(
                self.mail_endpoint, content=payload, headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
            )
            if status in (200, 202):
                # Graph's request-id, for support cases; bounded, as a peer chose it.
                return self.result(message, response=f"{status} {headers.get('request-id', '')[:100]}".strip())
            if status == 401 and not retried_auth:
                # An expired or revoked token: one fresh one, one more try.
                self.tokens.drop(token)
                retried_auth = True
                continue
            wait = _retry_after(headers.get("Retry-After"))
            if status in _TEMPORARY and not waited and wait is not None and self._may_wait(wait):
                waited = True
                time.sleep(wait)
                continue
            if status in _TEMPORARY and wait:
                self._quiet_until = max(self._quiet_until, time.monotonic() + wait)
            raise self._refused(status, body, wait)

    def _token(self) -> str:
        try:
            return self.tokens.get()
        except TransportError as exc:
            exc.transport = self.alias
            if isinstance(exc, AuthError):
                exc.hint = self._credentials_hint(token_endpoint=True)
            raise

    def _credentials_hint(self, *, token_endpoint: bool = False) -> str:
        key = f"transports.{self.alias}."
        endpoint = f" and {key}token_endpoint" if token_endpoint else ""
        return f"Check {key}client_id, {key}client_secret, {key}scope{endpoint}"

    def _may_wait(self, seconds: float) -> bool:
        deadline = caller_deadline()
        return seconds <= self.retry_after_max and (deadline is None or time.monotonic() + seconds < deadline)

    def _refused(self, status: int, body: bytes, retry_after: float | None) -> TransportError:
        code = _graph_code(body)
        text = f"Graph sendMail answered {status}{' ' + code if code else ''}"
        if status == 401:
            return AuthError(text, transport=self.alias, stage="sendMail", hint=self._credentials_hint())
        if status == 403:
            return TransportError(
                text, transport=self.alias, stage="sendMail", permanent=True,
                hint="Grant the application Mail.Send (application permission) for the mailbox in mail_endpoint",
            )  # fmt: skip
        temporary = status in _TEMPORARY or status >= 500
        return TransportError(text, transport=self.alias, stage="sendMail", permanent=not temporary, retry_after=retry_after)


@hookimpl
def register_transports(register: Any) -> None:
    register("msgraph", MSGraphTransport)


def _endpoint(url: str, key: str) -> str:
    """An absolute URL: https, or http to a loopback address only."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"Option {key!r} must be an https:// URL, not {url!r}", key=key)
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(f"Option {key!r} must use https: credentials and tokens must not travel in clear text", key=key)
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _verify(ca_file: str | None) -> Any:
    if ca_file is None:
        return True
    import ssl

    return ssl.create_default_context(cafile=ca_file)


def _capped(connect: float | None, read: float | None) -> Any:
    """The request's timeouts, capped by the time a caller has left (``sync_deadline``)."""
    import httpx

    deadline = caller_deadline()
    if deadline is None:
        return httpx.Timeout(read, connect=connect)
    left = max(0.001, deadline - time.monotonic())
    return httpx.Timeout(min(read or left, left), connect=min(connect or left, left))


def _with_bcc(message: Message) -> bytes:
    """The bytes to post: Graph takes recipients from the MIME headers, so
    envelope recipients not in To or Cc go in a Bcc header (which Exchange
    removes before delivery, as a relay does)."""
    from email import policy
    from email.parser import HeaderParser
    from email.utils import getaddresses

    head = message.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")

    headers = HeaderParser(policy=policy.compat32).parsestr(head + "\r\n\r\n", headersonly=True)
    shown = {addr.lower() for _, addr in getaddresses([*headers.get_all("To", []), *headers.get_all("Cc", [])])}
    hidden = [r for r in message.recipients if r.lower() not in shown]
    if not hidden:
        return message.data
    return f"Bcc: {', '.join(hidden)}\r\n".encode() + message.data


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86_400))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when is not None else None


def _graph_code(body: bytes) -> str:
    """Graph's ``error.code`` (``ErrorMimeContentInvalid``...), for the message; never the whole body."""
    import json

    try:
        error = json.loads(body).get("error", {})
        code = error.get("code") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        return ""
    return str(code)[:100] if code else ""
