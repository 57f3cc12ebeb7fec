"""The SMTP transport's watchdog: whole-send deadlines that socket timeouts cannot give.

A socket timeout bounds one read. A relay that trickles a byte a second, or
a caller that needs its answer by ``sync_deadline``, needs a bound on the
whole send: one thread shuts down the socket of any send past its deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


class Watch:
    """One send's deadline; ``conn`` is whatever connection it is using."""

    __slots__ = ("deadline", "conn", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conn: Any = None
        self.fired = False


class Watchdog:
    """One thread that shuts down the socket of any send past its deadline.

    Socket timeouts bound each read, not a whole send: a server trickling a
    byte a second would hold a reply open for ever. Shutting the socket down
    from here wakes the blocked read at once.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[Watch] = set()
        self._thread: threading.Thread | None = None
        #: When the thread wakes next; it is only woken early for an earlier deadline.
        self._wake_at = float("inf")

    def watch(self, deadline: float) -> Watch:
        watch = Watch(deadline)
        with self._cond:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="emailactions-smtp-watchdog", daemon=True)
                self._thread.start()
            if deadline < self._wake_at:
                # Waking the thread costs a context switch; most sends never need it.
                self._wake_at = deadline
                self._cond.notify()
        return watch

    def release(self, watch: Watch) -> None:
        with self._cond:
            self._watches.discard(watch)

    def detach(self, watch: Watch) -> None:
        """Forget the watch's connection (it is going back to the pool)."""
        with self._cond:
            watch.conn = None

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for watch in [w for w in self._watches if w.deadline <= now]:
                    self._watches.discard(watch)
                    watch.fired = True
                    sock = getattr(watch.conn, "sock", None)
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                nearest = min((w.deadline for w in self._watches), default=float("inf"))
                self._wake_at = nearest
                self._cond.wait(None if nearest == float("inf") else max(0.0, nearest - now))


WATCHDOG = Watchdog()


def within(limit: float | None, watch: Watch | None) -> float | None:
    """A socket timeout: ``limit`` (``None``: none) capped by the time ``watch`` has left.

    The watchdog cannot reach a socket smtplib is still connecting, so the
    connect timeout must end in time by itself. Never 0, which means "do not block".
    """
    if watch is None:
        return limit
    left = max(watch.deadline - time.monotonic(), 0.001)
    return left if limit is None else min(limit, left)
