"""Where counts live: moving windows in this process's memory, or a ``limits`` storage.

Both answer the same three questions for a limit and a key (may ``cost`` more
pass? count them; when does the oldest count leave?), so the limiter and the
delivery quota need not know which they talk to.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from limits import RateLimitItem

#: A counter's identity: (config key, key), e.g. ("rate_limits.recipient", "a@example.com").
Ids = tuple[str, str]


class Windows(Protocol):
    def test(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool: ...
    def hit(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool: ...
    def reset_at(self, item: RateLimitItem, ids: Ids) -> float: ...
    def reset(self) -> None: ...


class MemoryWindows:
    """Moving windows in this process's memory: a deque of hit times per key.

    Written by hand because ``limits``'s ``MemoryStorage`` is measurably too
    slow on the send path: ~75 µs per hit once keys pile up (one per new
    recipient), as a timer thread wakes every 10 ms to walk every key under
    their locks; this costs a few µs (``benchmarks/bench_ratelimit.py``).
    Same meaning as ``limits``'s moving window: a hit at ``t`` counts until
    ``t + expiry`` inclusive. Windows whose hits have all left are dropped when
    the table has doubled since the last sweep (amortized O(1) per new key).
    """

    def __init__(self) -> None:
        self._windows: dict[tuple[Ids, int, int], deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = 1024

    @staticmethod
    def _key(item: RateLimitItem, ids: Ids) -> tuple[Ids, int, int]:
        return (ids, item.amount, item.GRANULARITY.seconds * item.multiples)  # get_expiry(), without the call

    def _live(self, key: tuple[Ids, int, int], now: float) -> deque[float] | None:
        events = self._windows.get(key)
        if events:
            cutoff = now - key[2]
            while events and events[0] < cutoff:
                events.popleft()
        return events

    def test(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool:
        with self._lock:
            events = self._live(self._key(item, ids), time.time())
            return (len(events) if events else 0) + cost <= item.amount

    def hit(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool:
        key, now = self._key(item, ids), time.time()
        with self._lock:
            events = self._live(key, now)
            if events is None:
                if len(self._windows) >= self._sweep_at:
                    self._sweep(now)
                events = self._windows[key] = deque()
            if len(events) + cost > item.amount:
                return False
            events.extend((now,) * cost)
            return True

    def reset_at(self, item: RateLimitItem, ids: Ids) -> float:
        key, now = self._key(item, ids), time.time()
        with self._lock:
            events = self._live(key, now)
            return (events[0] if events else now) + key[2]

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _sweep(self, now: float) -> None:
        self._windows = {key: ev for key, ev in self._windows.items() if ev and ev[-1] >= now - key[2]}
        self._sweep_at = max(1024, 2 * len(self._windows))


class LimitsWindows:
    """A ``limits`` strategy on its storage (Redis, Valkey, memcached...)."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy

    def test(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool:
        return self.strategy.test(item, *ids, cost=cost)

    def hit(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool:
        return self.strategy.hit(item, *ids, cost=cost)

    def reset_at(self, item: RateLimitItem, ids: Ids) -> float:
        return self.strategy.get_window_stats(item, *ids).reset_time

    def reset(self) -> None:
        self.strategy.storage.reset()
