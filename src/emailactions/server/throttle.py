"""Rate limits on the REST API itself, on the ``limits`` library.

Separate from the mail limits (``[rate_limits]``, per recipient): these
count requests per caller, requests without credentials per client address,
and failed logins per account and client address (to slow password guessing
without letting a neighbour behind the same address lock the admin out). Over a
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


def _failure_key(client: str, account: str | None) -> tuple[str, ...]:
    # Per account and address pair: a client sharing an address (NAT, a proxy)
    # with the admin can wear out only the accounts it guesses at.
    return ("auth-failures", client) if account is None else ("auth-failures", client, account)


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

    def check_failures(self, client: str, account: str | None = None) -> None:
        """Refuse to check credentials for ``account`` (or anyone, when not
        given) from a client address that failed too often with it."""
        key = _failure_key(client, account)
        for item in self._failures:
            if not self._strategy.test(item, *key):
                raise RateLimited(
                    "Too many failed logins from this address", scope="auth_failures", retry_after=self._retry_after(item, key)
                )

    def failed(self, client: str, account: str | None = None) -> None:
        """Count a failed login for ``account`` from ``client``."""
        for item in self._failures:
            self._strategy.hit(item, *_failure_key(client, account))

    def _hit(self, items: list[RateLimitItem], key: tuple[str, str], what: str) -> None:
        with self._lock:
            for item in items:
                if not self._strategy.test(item, *key):
                    raise RateLimited(f"Too many {what}: limit {item}", scope=key[0], limit=str(item), retry_after=self._retry_after(item, key))
            for item in items:
                self._strategy.hit(item, *key)

    def _retry_after(self, item: RateLimitItem, key: tuple[str, ...]) -> int:
        reset = self._strategy.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))
