"""Rate limits on the REST API itself, on the ``limits`` library.

Separate from the mail limits (``[rate_limits]``, per recipient): these
count requests per caller, requests without credentials per client address,
and failed logins per client address (to slow password guessing). Over a
limit is a 429 whose ``retry_after`` becomes the ``Retry-After`` header.
"""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from emailactions.errors import RateLimited
from emailactions.config.server import ApiRateLimits


def _items(value: str | None, enabled: bool) -> list[RateLimitItem]:
    return list(parse_many(value)) if (value and enabled) else []


class ApiLimiter:
    """Counters for one server process (kept in memory: a restart resets them)."""

    def __init__(self, settings: ApiRateLimits) -> None:
        self._strategy = MovingWindowRateLimiter(MemoryStorage())
        self._caller = _items(settings.caller, settings.enabled)
        self._anonymous = _items(settings.anonymous, settings.enabled)
        self._failures = _items(settings.auth_failures, settings.enabled)
        # Test-then-hit must not interleave between request threads.
        self._lock = threading.Lock()

    def request(self, caller: str | None, client: str) -> None:
        """Count one request: by caller name, or by client address when anonymous."""
        if caller is None:
            self._hit(self._anonymous, ("anonymous", client), "requests without credentials")
        else:
            self._hit(self._caller, ("caller", caller), "requests")

    def check_failures(self, client: str) -> None:
        """Refuse to check credentials for a client that failed too often."""
        for item in self._failures:
            if not self._strategy.test(item, "auth-failures", client):
                raise RateLimited(
                    "Too many failed logins from this address", scope="auth_failures", retry_after=self._retry_after(item, ("auth-failures", client))
                )

    def failed(self, client: str) -> None:
        """Count a failed login from ``client``."""
        for item in self._failures:
            self._strategy.hit(item, "auth-failures", client)

    def _hit(self, items: list[RateLimitItem], key: tuple[str, str], what: str) -> None:
        with self._lock:
            for item in items:
                if not self._strategy.test(item, *key):
                    raise RateLimited(f"Too many {what}: limit {item}", scope=key[0], limit=str(item), retry_after=self._retry_after(item, key))
            for item in items:
                self._strategy.hit(item, *key)

    def _retry_after(self, item: RateLimitItem, key: tuple[str, str]) -> int:
        reset = self._strategy.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))
