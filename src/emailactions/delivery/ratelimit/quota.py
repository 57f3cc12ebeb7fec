"""``[rate_limits] delivery``: the relay's quota, taken before each send by whoever delivers.

Relays cap how fast an account may send (Amazon SES starts accounts at 14
messages a second, each recipient counting as one). Every attempt takes
room for its envelope recipients before it goes out, from the same storage
as the other limits, so all hosts and workers sharing Redis share the quota.
Over it, delivery waits for room (or the outbox row is put off until then):
a message is never failed for it. A message with more recipients than a
window holds takes the whole window.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from emailactions.config import RateLimitConfig
from emailactions.delivery.ratelimit.limiter import describe, parse
from emailactions.delivery.ratelimit.storage import open_windows
from emailactions.delivery.ratelimit.windows import Windows
from emailactions.errors import RateLimited

if TYPE_CHECKING:
    from limits import RateLimitItem

CONFIG_KEY = "rate_limits.delivery"
#: The one counter of the quota (every host shares it).
IDS = (CONFIG_KEY, "relay")


class DeliveryQuota:
    """Room for recipients under ``[rate_limits] delivery``, shared through ``windows``."""

    def __init__(self, items: list[RateLimitItem], windows: Windows) -> None:
        self.items = items
        self.windows = windows
        self._lock = threading.Lock()

    def take(self, recipients: int) -> float:
        """Count ``recipients`` against the quota: 0.0 when taken, else the
        seconds until there may be room (and nothing is counted)."""
        costs = [(item, max(1, min(recipients, item.amount))) for item in self.items]
        try:
            with self._lock:
                over = [item for item, cost in costs if not self.windows.test(item, IDS, cost)]
                if not over:
                    over = next(([item] for item, cost in costs if not self.windows.hit(item, IDS, cost)), [])
                if not over:
                    return 0.0
                reset = max(self.windows.reset_at(item, IDS) for item in over)
        except RateLimited as exc:  # storage_fallback = "refuse" while the storage is down: wait
            return float(exc.retry_after or 1)
        # Just past the reset: at the instant itself the oldest count still holds.
        return max(0.001, reset - time.time() + 0.001)

    def wait(self, recipients: int, max_wait: float, sleep: Callable[[float], Any] = time.sleep) -> float:
        """Take room for ``recipients``, sleeping while the quota is full for up
        to ``max_wait`` seconds: 0.0 when taken, else the seconds there is still
        to wait (nothing taken). A ``sleep`` that returns true (a stop event's
        ``wait``) ends the wait early."""
        deadline = time.monotonic() + max_wait
        while True:
            wait = self.take(recipients)
            if not wait or time.monotonic() + wait > deadline or sleep(wait):
                return wait

    def refusal(self, wait: float) -> RateLimited:
        """The 429 of a synchronous send that cannot wait ``wait`` seconds more."""
        retry_after = max(1, int(wait) + 1)
        limit = "; ".join(describe(item) for item in self.items)
        return RateLimited(
            f"Delivery quota of {limit} is full for {wait:.1f} s more than the send may wait; retry after {retry_after} s"
            f" (config key {CONFIG_KEY})",
            retry_after=retry_after, scope="delivery", key="relay", limit=limit, config_key=CONFIG_KEY,
        )  # fmt: skip


def build_quota(config: RateLimitConfig, windows: Windows | None = None) -> DeliveryQuota | None:
    """The quota of ``[rate_limits] delivery``, or None (``limits`` not imported);
    ``windows``: a limiter's, to share its storage connection."""
    if not config.enabled or not config.delivery:
        return None
    return DeliveryQuota(parse(config.delivery), windows if windows is not None else open_windows(config))
