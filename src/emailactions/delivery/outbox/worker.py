"""DeliveryWorker: threads that take due messages from the outbox and deliver them.

Each thread claims one message at a time (with a lease), sends it through
``host.deliver`` (so ``message_sent`` / ``send_failed`` fire for every
attempt), and records the outcome: sent, failed, or queued again after a
backoff for the recipients that may still take it.

Beside them, a housekeeping thread beats the worker's heartbeat and releases
the leases of workers (on any host) silent for ``dead_after``, and a
listener wakes idle threads when the outbox announces new mail (PostgreSQL's
``LISTEN``); polling every ``poll_interval`` stays the fallback.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from emailactions.config import OutboxConfig
from emailactions.errors import EmailActionsError, RateLimited, RecipientsRefused, Refusal, Refusals, TransportError
from emailactions.delivery.outbox.entry import Entry, worker_id
from emailactions.delivery.ratelimit import RateLimiter
from emailactions.delivery.retry import Backoff, classify, reply_of

if TYPE_CHECKING:
    from emailactions.delivery.ratelimit import DeliveryQuota

log = logging.getLogger("emailactions.outbox")

#: Longest a worker waits for room under the delivery quota while holding a
#: message; past it the row is put off until then (never beyond half its lease).
QUOTA_WAIT = 30.0

#: Most messages one thread claims at once while a backlog lasts.
MAX_BATCH = 16


@dataclass
class Tally:
    """What a worker did, for ``drain`` results and benchmarks."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    deferred: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str) -> None:
        with self.lock:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def to_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "retrying": self.retrying, "deferred": self.deferred}


class DeliveryWorker:
    """Delivers an outbox's due messages with ``threads`` threads.

    ``start()`` runs them in the background until ``stop()``; ``drain()``
    delivers what is due now and returns. Several workers, in this process
    or others, may share one outbox file: claims never overlap.
    """

    def __init__(
        self,
        host: Any,
        outbox: Any,
        settings: OutboxConfig,
        *,
        threads: int,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.outbox = outbox
        self.settings = settings
        self.threads = max(1, threads)
        self.limiter = limiter
        self.id = worker_id()
        self.backoff = Backoff(settings.backoff, settings.backoff_max)
        self.tally = Tally()
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._woken = False
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Condition()
        self._local = threading.local()
        #: Ids this worker's threads claimed and have not finished: the rest of
        #: its in-flight rows are orphans of a claim whose answer was lost.
        self._holding: set[int] = set()

    # -- running ---------------------------------------------------------

    def start(self) -> None:
        """Start the background threads (once)."""
        if self._threads:
            return
        self._stop.clear()
        try:
            reclaimed = self.outbox.reclaim_dead()
        except EmailActionsError as exc:  # the database is away: the threads retry on their own
            log.error("outbox %s: %s", self.outbox.where, exc.message)
            reclaimed = 0
        if reclaimed:
            log.warning("outbox %s: reclaimed %d in-flight message(s) of dead workers", self.outbox.where, reclaimed)
        targets = [(f"emailactions-worker-{n}", self._run) for n in range(self.threads)]
        targets += [("emailactions-heartbeat", self._housekeeping), ("emailactions-listen", self._listen)]
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def wake(self) -> None:
        """A message was queued in this process: look now rather than at the next poll."""
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def _wake_one(self) -> None:
        """Another host queued mail: one idle thread looks (every thread of every
        worker claiming at each insert would only contend for one row)."""
        with self._wake:
            self._woken = True
            self._wake.notify()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop claiming; wait up to ``timeout`` for sends in progress to finish.

        A send still running after that keeps its lease and is taken again by
        whichever worker runs after the lease (or this process) ends.
        """
        self._stop.set()
        self.wake()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def _housekeeping(self) -> None:
        """Heartbeat, and release the leases of workers silent for ``dead_after``."""
        interval = max(0.05, self.settings.dead_after / 3)
        while not self._stop.is_set():
            try:
                self.outbox.heartbeat(self.id)
                released = self.outbox.release_dead(self.settings.dead_after)
                with self._busy_lock:
                    holding = list(self._holding)
                released += self.outbox.release_orphans(self.id, holding, self.settings.dead_after)
                if released:
                    log.warning("outbox %s: released %d lease(s) of silent workers", self.outbox.where, released)
                    self.wake()
            except EmailActionsError as exc:
                log.error("outbox %s: heartbeat failed: %s", self.outbox.where, exc.message)
            except Exception:  # noqa: BLE001
                log.exception("outbox %s: heartbeat error; carrying on", self.outbox.where)
            self._stop.wait(interval)
        try:
            self.outbox.retire(self.id)
        except EmailActionsError:
            pass  # silent from now on: others release whatever it still holds after dead_after

    def _listen(self) -> None:
        """Wake idle threads when the outbox announces new mail (returns at once if it cannot)."""
        try:
            self.outbox.listen(self._wake_one, self._stop)
        except Exception:  # noqa: BLE001
            log.exception("outbox %s: listener failed; polling only", self.outbox.where)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._step():
                    continue
                self._idle()
            except EmailActionsError as exc:
                # The outbox could not record a result (disk full, file gone):
                # the message keeps its lease and is retried after it; this
                # thread waits and carries on rather than dying silently.
                log.error("outbox %s: %s", self.outbox.where, exc.message)
                self._stop.wait(self.settings.poll_interval)
            except Exception:  # noqa: BLE001
                # The thread is the last boundary: a bug anywhere below must not
                # stop delivery for good (running() would still say True).
                log.exception("outbox %s: worker error; carrying on", self.outbox.where)
                self._stop.wait(self.settings.poll_interval)

    def _idle(self) -> None:
        # Sleep until woken, the poll interval passes, or the next retry is due.
        timeout = self.settings.poll_interval
        due = self.outbox.next_due()
        if due is not None:
            timeout = min(timeout, max(0.0, due - self.outbox.clock()))
        with self._wake:
            if not self._woken and not self._stop.is_set():
                self._wake.wait(timeout)
            self._woken = False

    def _step(self) -> bool:
        """Claim and deliver a few messages; False when nothing was due."""
        # Claim one at a time while mail trickles in (so a small burst spreads
        # over all threads), more per claim while a backlog lasts (each claim is
        # a write transaction; batching them is most of what drain costs).
        batch = getattr(self._local, "batch", 1)
        try:
            claimed = self.outbox.claim(self.id, limit=batch, lease=self.settings.lease)
        except EmailActionsError as exc:
            log.error("outbox %s: cannot claim messages: %s", self.outbox.where, exc.message)
            self._stop.wait(self.settings.poll_interval)
            return False
        self._local.batch = min(batch * 2, MAX_BATCH) if len(claimed) == batch else 1
        if not claimed:
            return False
        if len(claimed) == batch:
            self._wake_one()  # a backlog: bring in an idle sibling rather than wait for its poll
        with self._busy_lock:
            self._busy += 1
            self._holding.update(e.id for e in claimed)
        try:
            for n, entry in enumerate(claimed):
                # A batch shares one lease: renew it once half of it is spent, or
                # skip the entry if it ran out (another worker may have it now).
                if n and self._half_spent(entry) and not self.outbox.renew(entry, lease=self.settings.lease):
                    continue
                self.deliver(entry)
        finally:
            with self._busy_lock:
                self._busy -= 1
                self._holding.difference_update(e.id for e in claimed)
                self._busy_lock.notify_all()
        return True

    def _half_spent(self, entry: Entry) -> bool:
        return entry.lease_until is None or entry.lease_until - self.outbox.clock() < self.settings.lease / 2

    def drain(self, timeout: float | None = None) -> dict[str, int]:
        """Deliver every message due now (in ``threads`` threads) and return a tally.

        Retries scheduled for later are left queued. Also waits for this
        worker's background sends in progress, so that afterwards the outbox
        shows their outcome.
        """
        before = self.tally.to_dict()
        deadline = None if timeout is None else time.monotonic() + timeout

        def loop() -> None:
            while (deadline is None or time.monotonic() < deadline) and self._step():
                pass

        threads = [threading.Thread(target=loop, name=f"emailactions-drain-{n}", daemon=True) for n in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._busy_lock:
            while self._busy and (deadline is None or time.monotonic() < deadline):
                self._busy_lock.wait(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic())))
        after = self.tally.to_dict()
        return {key: after[key] - before[key] for key in after}

    # -- one message -----------------------------------------------------

    def deliver(self, entry: Entry) -> str:
        """One attempt at a claimed message; returns the outcome recorded."""
        if entry.attempts > self.settings.max_attempts:
            # Claims count attempts before sending: a message whose every
            # attempt killed its worker (a poison message) stops here.
            exc = TransportError(
                f"Gave up after {entry.attempts - 1} attempt(s) that never reported back (the worker died each time)",
                transport=entry.transport,
            )
            refused = {**entry.refused, **dict.fromkeys(entry.pending, Refusal(451, exc.message))}
            return self._final(entry, list(entry.accepted), refused, exc)
        if entry.rate_check and self.limiter is not None:
            try:
                self.limiter.acquire(entry.message(), entry.template)
            except RateLimited as exc:
                return self._defer(entry, exc)
        result, error = None, None
        try:
            result = self.host.deliver(entry.message(), transport=entry.transport)
        except EmailActionsError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001
            # The worker thread is the last boundary: a bug in a third-party
            # transport must not kill delivery of everything else. Treated as
            # temporary, so max_attempts and max_age still end it.
            log.exception("outbox %d: transport raised an unexpected error", entry.id)
            error = TransportError(f"Transport raised {type(exc).__name__}: {exc}", transport=entry.transport)
        outcome = classify(entry.pending, result, error)
        accepted = list(entry.accepted) + [a for a in outcome.accepted if a not in entry.accepted]
        refused = {**entry.refused, **outcome.refused}
        if outcome.retry:
            why = outcome.error or _refusal_error(outcome.retry, entry.transport, "deferred")
            return self._retry(entry, list(outcome.retry), accepted, refused, why)
        if outcome.error is None and outcome.refused:
            return self._final(entry, accepted, refused, _refusal_error(outcome.refused, entry.transport, "refused"))
        return self._final(entry, accepted, refused, outcome.error)

    def _retry(self, entry: Entry, pending: list[str], accepted: list[str], refused: Refusals, exc: EmailActionsError) -> str:
        now = self.outbox.clock()
        if entry.attempts >= self.settings.max_attempts or now >= entry.expires:
            reply = reply_of(exc)
            refused.update({address: refused.get(address, reply) for address in pending})
            why = "attempts" if entry.attempts >= self.settings.max_attempts else "age"
            log.error("outbox %d %s: giving up after %d attempt(s) (max %s)", entry.id, entry.message_id, entry.attempts, why)
            return self._final(entry, accepted, refused, exc)
        delay = self.backoff.delay(entry.attempts, self._rng)
        # A server that said when to come back (HTTP Retry-After) is not asked sooner.
        wanted = exc.detail.get("retry_after")
        if isinstance(wanted, (int, float)) and wanted > delay:
            delay = float(wanted)
        # One last try at max_age rather than none at all.
        next_attempt = min(now + delay, entry.expires)
        log.warning(
            "outbox %d %s: attempt %d failed (%s: %s); %d recipient(s) retried in %.1fs",
            entry.id, entry.message_id, entry.attempts, exc.kind, exc.message, len(pending), next_attempt - now,
        )  # fmt: skip
        self.outbox.finish(
            entry, state="queued", pending=pending, accepted=accepted, refused=refused,
            next_attempt=next_attempt, error=exc.to_dict(),
        )  # fmt: skip
        self.tally.add("retrying")
        return "retrying"

    def _defer(self, entry: Entry, exc: RateLimited) -> str:
        now = self.outbox.clock()
        next_attempt = now + float(exc.retry_after if exc.retry_after is not None else 1)
        if next_attempt > entry.expires:
            gave_up = dict.fromkeys(entry.pending, Refusal(429, exc.message))
            return self._final(entry, list(entry.accepted), {**entry.refused, **gave_up}, exc)
        self.outbox.finish(
            entry, state="queued", pending=entry.pending, accepted=entry.accepted, refused=entry.refused,
            next_attempt=next_attempt, error=exc.to_dict(), rate_check=True, uncount=True,
        )  # fmt: skip
        self.tally.add("deferred")
        return "deferred"

    def _final(self, entry: Entry, accepted: list[str], refused: Refusals, exc: EmailActionsError | None) -> str:
        state = "sent" if accepted else "failed"
        recorded = self.outbox.finish(
            entry, state=state, pending=(), accepted=accepted, refused=refused,
            error=exc.to_dict() if exc is not None else None,
        )  # fmt: skip
        if not recorded:
            # Another worker owns the entry now and will count its outcome.
            log.warning("outbox %d: lease lost while sending; another worker owns it now", entry.id)
            return "lost"
        self.tally.add(state)
        if state == "sent" and not refused:
            log.info("outbox %d %s: sent after %d attempt(s)", entry.id, entry.message_id, entry.attempts)
        else:
            log.error(
                "outbox %d %s: %s; %d recipient(s) refused%s",
                entry.id, entry.message_id, state, len(refused), f" ({exc.kind}: {exc.message})" if exc else "",
            )  # fmt: skip
        undelivered = [a for a in entry.recipients if a in refused]
        if undelivered and exc is not None:
            message = replace(entry.message(), recipients=tuple(undelivered))
            self.host.notify("message_failed", message=message, outbox_id=entry.id, error=exc)
        return state


def _refusal_error(refusals: Refusals, transport: str | None, verb: str) -> TransportError:
    """Some recipients refused by a message that otherwise went through, as an error to record."""
    codes = sorted({code for code, _ in refusals.values()})
    return RecipientsRefused(
        f"The server {verb} {len(refusals)} recipient(s) ({', '.join(map(str, codes))})", transport=transport, refused=refusals
    )


class QuotaWorker(DeliveryWorker):
    """A worker that takes room under the delivery quota before each attempt.

    It waits for room up to :data:`QUOTA_WAIT` (a relay's per-second quota
    frees up within a second); a longer wait would hold the row's lease, so
    the row is put back, due when there is room, its attempt not counted.
    """

    def __init__(self, quota: DeliveryQuota, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quota = quota

    def deliver(self, entry: Entry) -> str:
        # Stopping ends the wait: the row goes back, its attempt not counted.
        wait = self.quota.wait(len(entry.pending), min(QUOTA_WAIT, self.settings.lease / 2), sleep=self._stop.wait)
        if not wait:
            return super().deliver(entry)
        error = self.quota.refusal(wait)
        log.info("outbox %d %s: delivery quota full; put off %.1fs", entry.id, entry.message_id, wait)
        recorded = self.outbox.finish(
            entry, state="queued", pending=entry.pending, accepted=entry.accepted, refused=entry.refused,
            next_attempt=self.outbox.clock() + wait, error=error.to_dict(), rate_check=entry.rate_check, uncount=True,
        )  # fmt: skip
        if not recorded:
            return "lost"
        self.tally.add("deferred")
        return "deferred"
