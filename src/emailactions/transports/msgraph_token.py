"""OAuth2 client-credentials tokens for the ``msgraph`` transport, cached until they expire.

One token serves every send until shortly before it expires; when it must
be fetched, one thread fetches while the others wait for its answer, so a
burst of sends costs one request to the token endpoint, not one each.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from emailactions.errors import AuthError, TransportError

#: Refresh this long before the token expires, so no request leaves with a
#: token that dies on the way (never more than half its lifetime).
REFRESH_EARLY = 60.0
#: RFC 6750's b64token: what may follow "Bearer " (no CR, LF or spaces to inject).
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class Token:
    """An access token and when (``time.monotonic()``) to stop using it."""

    value: str
    renew_at: float


class TokenCache:
    """Fetches a client-credentials token with ``post(url, form)`` and keeps it.

    ``post`` returns ``(status, body bytes)`` and raises the transport's
    errors for connection failures; it is how the cache reaches the token
    endpoint through the transport's HTTP client (timeouts, proxy, TLS).
    Errors carry ``stage="token"``; the transport adds its alias and hints.
    """

    def __init__(
        self, *, endpoint: str, client_id: str, client_secret: str, scope: str, grant_type: str,
        post: Callable[[str, dict[str, str]], tuple[int, bytes]], clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.endpoint, self._post, self._clock = endpoint, post, clock
        self._form = {"grant_type": grant_type, "client_id": client_id, "client_secret": client_secret, "scope": scope}
        self._token: Token | None = None
        self._lock = threading.Lock()
        #: Tokens fetched so far (for tests).
        self.fetches = 0

    def get(self) -> str:
        """A token valid for a while yet, fetched if the cached one is (nearly) expired."""
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value
        with self._lock:
            # Whoever held the lock may have fetched it meanwhile.
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._token = self._fetch()
            return token.value

    def drop(self, value: str) -> None:
        """Forget ``value`` (Graph refused it); a fresher token another thread got stays."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _fetch(self) -> Token:
        started = self._clock()
        status, body = self._post(self.endpoint, self._form)
        self.fetches += 1
        answer = _json(body)
        if status != 200:
            raise self._refused(status, answer)
        value, lifetime = answer.get("access_token"), answer.get("expires_in", 3600)
        # Some servers send expires_in as a string of digits.
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if not isinstance(value, str) or not _B64TOKEN.fullmatch(value) or not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool):
            raise TransportError(
                f"The token endpoint {self.endpoint} answered without a usable access_token/expires_in", stage="token"
            )
        if answer.get("token_type", "Bearer").lower() != "bearer":
            raise TransportError(f"The token endpoint gave a {answer['token_type']!r} token, not a Bearer token", stage="token", permanent=True)
        return Token(value, started + max(0.0, lifetime - min(REFRESH_EARLY, lifetime / 2)))

    def _refused(self, status: int, answer: dict[str, Any]) -> TransportError:
        """The token endpoint said no: bad credentials need an operator, the rest may pass."""
        error = str(answer.get("error") or "")[:100]
        text = f"The token endpoint {self.endpoint} refused the client credentials: {status} {error}".rstrip()
        if status in (400, 401, 403):
            # invalid_client, unauthorized_client, invalid_scope...: a config change fixes it.
            return AuthError(text, stage="token")
        return TransportError(text, stage="token", permanent=False)


def _json(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
