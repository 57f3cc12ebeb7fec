"""Opening the configured ``limits`` storage, and counting on while it is unreachable.

``[rate_limits] storage_fallback`` says what a limit does while the shared
storage (Redis, Valkey) cannot be reached:

- ``memory`` (the default): count in this process's memory instead. Every
  limit stays in force, each host counting alone (so a limit shared by ``n``
  hosts admits at most ``n`` times its figure), and mail keeps flowing: an
  outage of the counters does not become an outage of mail.
- ``refuse``: refuse what would be counted (429 with ``retry_after``; a
  submit with ``on_limit = "defer"`` is stored for later, delivery waits).
- ``allow``: count nothing and let everything through.

The switch is logged once, as is the return: after a failure the storage is
tried again every :data:`RETRY_DOWN` seconds, and used again as soon as it answers.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from importlib import import_module
from typing import TYPE_CHECKING, Any

from emailactions.config import RateLimitConfig
from emailactions.delivery.ratelimit.windows import Ids, LimitsWindows, MemoryWindows, Windows
from emailactions.errors import ConfigError, RateLimited

if TYPE_CHECKING:
    from limits import RateLimitItem

log = logging.getLogger("emailactions.ratelimit")

#: Seconds between attempts to reach a storage that failed.
RETRY_DOWN = 1.0
#: Socket timeouts for Redis/Valkey, unless the URI sets its own: a storage that
#: hangs must not hold up a send for long.
TIMEOUT = 1.0


def open_windows(config: RateLimitConfig) -> Windows:
    """The windows of ``[rate_limits] storage`` with its fallback (a fast in-process
    table for ``memory://`` with the moving window)."""
    if config.storage.startswith("memory://") and config.strategy == "moving-window":
        return MemoryWindows()
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string
    from limits.strategies import STRATEGIES

    try:
        storage = storage_from_string(config.storage, wrap_exceptions=True, **_client_options(config.storage))
    except (ConfigurationError, ValueError, ImportError) as exc:
        raise ConfigError(f"Config key 'rate_limits.storage' cannot be used: {exc}", key="rate_limits.storage") from exc
    windows = LimitsWindows(STRATEGIES[config.strategy](storage))
    if config.storage.startswith("memory://"):
        return windows
    return FailSafe(windows, config.storage_fallback, where=_redacted(config.storage))


def _client_options(uri: str) -> dict[str, Any]:
    """Short timeouts and one immediate retry (a pooled connection that died
    with a restarted server is replaced at once), instead of redis-py's default
    of three retries with backoffs of seconds on every call while it is down."""
    scheme = uri.partition("://")[0]
    if scheme not in ("redis", "rediss", "redis+unix", "valkey", "valkeys", "valkey+unix"):
        return {}
    client = "valkey" if scheme.startswith("valkey") else "redis"
    backoff, retry = import_module(f"{client}.backoff"), import_module(f"{client}.retry")
    return {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT, "retry": retry.Retry(backoff.NoBackoff(), 1)}


def _redacted(uri: str) -> str:
    """The URI without its password, for logs."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


class FailSafe:
    """Shared windows, and the fallback's answers while they cannot be reached."""

    def __init__(self, shared: LimitsWindows, fallback: str, *, where: str) -> None:
        self.shared = shared
        self.fallback = fallback
        self.where = where
        self.memory = MemoryWindows() if fallback == "memory" else None
        self._retry_at: float | None = None  # monotonic; None while the storage answers
        self._lock = threading.Lock()

    def _call(self, op: str, item: RateLimitItem, ids: Ids, *args: Any) -> Any:
        from limits.errors import StorageError

        retry_at = self._retry_at
        if retry_at is None or time.monotonic() >= retry_at:
            try:
                answer = getattr(self.shared, op)(item, ids, *args)
            except StorageError as exc:
                self._failed(exc)
            else:
                if retry_at is not None:
                    self._recovered()
                return answer
        return self._fallback(op, item, ids, *args)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._retry_at is None
            self._retry_at = time.monotonic() + RETRY_DOWN
        if first:
            log.error("rate-limit storage %s unreachable (%s); storage_fallback = %r until it answers",
                      self.where, exc, self.fallback)  # fmt: skip

    def _recovered(self) -> None:
        with self._lock:
            was_down, self._retry_at = self._retry_at is not None, None
        if was_down:
            log.warning("rate-limit storage %s answers again; counting there", self.where)

    def _fallback(self, op: str, item: RateLimitItem, ids: Ids, *args: Any) -> Any:
        if self.memory is not None:
            return getattr(self.memory, op)(item, ids, *args)
        if self.fallback == "allow":
            return time.time() if op == "reset_at" else True
        retry_after = max(1, math.ceil(RETRY_DOWN))
        raise RateLimited(
            f"Rate-limit storage unreachable; refused (config key rate_limits.storage_fallback); retry after {retry_after} s",
            retry_after=retry_after, scope="storage", key=ids[1], limit=None, config_key="rate_limits.storage_fallback",
        )  # fmt: skip

    def test(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool:
        return self._call("test", item, ids, cost)

    def hit(self, item: RateLimitItem, ids: Ids, cost: int = 1) -> bool:
        return self._call("hit", item, ids, cost)

    def reset_at(self, item: RateLimitItem, ids: Ids) -> float:
        return self._call("reset_at", item, ids)

    def reset(self) -> None:
        if self.memory is not None:
            self.memory.reset()
        self.shared.reset()
