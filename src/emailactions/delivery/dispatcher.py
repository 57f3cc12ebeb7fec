"""Dispatcher: how a composed message leaves, now (with retries) or through the outbox.

One per :class:`~emailactions.ActionHost` (``host.dispatcher``). It applies
the rate limits, then either delivers within ``sync_deadline`` (retrying
temporary failures) or commits the message to the outbox and lets the
:class:`~.worker.DeliveryWorker` deliver it. Whichever delivers takes room
under the relay's quota (``[rate_limits] delivery``) before each attempt.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from emailactions.errors import RateLimited, RecipientsRefused, Refusals, TransportError
from emailactions.mime.message import Message
from emailactions.delivery.ratelimit import DeliveryQuota, RateLimiter, acquire_request, build, build_quota
from emailactions.delivery.retry import Backoff, classify, retried_now
from emailactions.transports.base import SendResult, answer_by

if TYPE_CHECKING:  # the outbox is imported when one is opened: a synchronous send never needs it
    from emailactions.delivery.outbox.sqlite import Outbox
    from emailactions.delivery.outbox.worker import DeliveryWorker

log = logging.getLogger("emailactions.outbox")

#: Worker threads when neither ``[outbox] workers`` nor the transport's
#: ``pool_size`` says how many.
DEFAULT_WORKERS = 4


class Dispatcher:
    """Rate limits, the synchronous retry loop, the outbox and its worker, for one host."""

    def __init__(self, host: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.host = host
        self.settings = host.config.outbox
        self.limiter: RateLimiter | None = build(host.config.rate_limits)
        self.quota: DeliveryQuota | None = build_quota(host.config.rate_limits, self.limiter.windows if self.limiter else None)
        self._sleep = sleep
        self._lock = threading.RLock()
        self._outbox: Outbox | None = None
        self._worker: DeliveryWorker | None = None
        self._warned_memory = False

    # -- parts, opened on first use -------------------------------------

    @property
    def outbox(self) -> Outbox:
        """The outbox database (opened on first use)."""
        with self._lock:
            if self._outbox is None:
                self._outbox = self._open_outbox(self.settings)
            return self._outbox

    def _open_outbox(self, settings: Any) -> Outbox:
        """An outbox of the ``[outbox] backend``: ``sqlite`` with a path, else ``memory``."""
        name = settings.backend or ("sqlite" if settings.path is not None else "memory")
        return self.host.outbox_backends.choose(name, "outbox.backend")(settings)

    @property
    def worker(self) -> DeliveryWorker:
        """The in-process worker (built on first use, not started)."""
        with self._lock:
            if self._worker is None:
                outbox = self.outbox
                if outbox.durable:
                    # A connection of its own: claims and results need not wait
                    # behind submits, and a lost result commit only means one
                    # more attempt (a duplicate with the same Message-ID).
                    outbox = self._open_outbox(replace(self.settings, synchronous="normal"))
                threads = self.worker_threads()
                from emailactions.delivery.outbox.worker import DeliveryWorker, QuotaWorker

                if self.quota is None:
                    self._worker = DeliveryWorker(self.host, outbox, self.settings, threads=threads, limiter=self.limiter)
                else:
                    self._worker = QuotaWorker(self.quota, self.host, outbox, self.settings, threads=threads, limiter=self.limiter)
            return self._worker

    def worker_threads(self) -> int:
        """``[outbox] workers``, else the transport's pool size, never more than it
        (IDM's ``threadPoolSize`` bounds concurrent sends)."""
        pool = getattr(self.host.transport(), "pool_size", None)
        wanted = self.settings.workers if self.settings.workers is not None else (pool or DEFAULT_WORKERS)
        return max(1, min(wanted, pool) if isinstance(pool, int) else wanted)

    def start(self) -> None:
        """Start in-process delivery, unless ``workers = 0`` (a separate ``emailactions worker``)."""
        if self.settings.workers == 0:
            return
        self.worker.start()

    # -- sending ---------------------------------------------------------

    def prepare(self, message: Message) -> Message:
        """The ``prepare_message`` stage (signing, headers): its output is what
        every attempt sends and what the outbox stores."""
        return self.host.plugin_manager.pipeline("prepare_message", message=message, host=self.host)

    def send(self, message: Message, *, template: str | None = None) -> tuple[SendResult, int]:
        """Deliver now, answering within ``sync_deadline``: each attempt's socket
        timeouts are capped by the time left, and temporary failures are retried
        while a backoff still ends before it.

        Returns the merged result and the number of attempts. Recipients that
        answered 4xx are retried alone; those still refused at the deadline
        appear in ``refused``. If nobody accepted it, the last error is raised,
        with ``attempts`` and ``elapsed``. A ``sync_deadline`` of 0 makes one
        attempt, bounded by the transport's own timeouts.
        """
        message = self.prepare(message)
        acquire_request(message, template)
        if self.limiter is not None:
            self.limiter.acquire(message, template)
        started = time.monotonic()
        deadline = started + self.settings.sync_deadline
        if self.quota is not None:
            wait = self.quota.wait(len(message.recipients), deadline - time.monotonic(), self._sleep)
            if wait:
                raise self.quota.refusal(wait)
        backoff = Backoff(self.settings.sync_backoff, max(self.settings.sync_backoff, self.settings.sync_deadline))
        accepted: list[str] = []
        refused: Refusals = {}
        current = message
        attempt = 0

        def wait_for_retry() -> bool:
            # Retry only if the backoff still ends before the deadline.
            delay = backoff.delay(attempt)
            if time.monotonic() + delay >= deadline:
                return False
            self._sleep(delay)
            quota = self.quota
            return quota is None or not quota.wait(len(outcome.retry), deadline - time.monotonic(), self._sleep)

        while True:
            attempt += 1
            result: SendResult | None = None
            error: TransportError | None = None
            try:
                with answer_by(deadline if self.settings.sync_deadline else None):
                    result = self.host.deliver(current)
            except TransportError as exc:
                error = exc
            outcome = classify(current.recipients, result, error)
            accepted += outcome.accepted
            refused.update(outcome.refused)
            if outcome.retry and (error is None or retried_now(error)) and wait_for_retry():
                current = replace(current, recipients=tuple(outcome.retry))
                continue
            refused.update(outcome.retry)
            if error is None or accepted:
                transport = result.transport if result is not None else error.transport  # type: ignore[union-attr]
                response = result.response if result is not None else None
                return self._merged(message, accepted, refused, transport, response), attempt
            if isinstance(error, RecipientsRefused) and attempt > 1:
                # Report every recipient's last reply, not only the last attempt's.
                final = RecipientsRefused(error.message, transport=error.transport, refused=refused)
                raise self._spent(final, attempt, started) from error
            raise self._spent(error, attempt, started)

    @staticmethod
    def _spent(error: TransportError, attempts: int, started: float) -> TransportError:
        """``error`` with what the synchronous send spent on it, for the caller to see."""
        error.attempts, error.elapsed = attempts, round(time.monotonic() - started, 3)
        return error

    @staticmethod
    def _merged(message: Message, accepted: list[str], refused: Refusals, transport: Any, response: str | None) -> SendResult:
        return SendResult(message.message_id, message.sender, accepted, refused, transport=transport or "", response=response)

    def submit(self, message: Message, *, template: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
        """Commit ``message`` to the outbox and wake the worker; returns the
        result keys for "Email submitted" (``outboxId`` first among them).

        With an ``idempotency_key`` already stored, nothing new is stored and
        the answer names the first message (see :func:`.outbox.idempotency.replay`).

        Over a rate limit, ``on_limit = "refuse"`` raises 429 (nothing stored);
        ``"defer"`` stores it due when the limit frees up, counted then.
        """
        message = self.prepare(message)
        acquire_request(message, template)
        delay, rate_check = 0.0, False
        if self.limiter is not None:
            try:
                self.limiter.acquire(message, template)
            except RateLimited as exc:
                delay, rate_check = float(exc.retry_after or 0), True
                # A deferral past max_age could only end in "failed": say so now.
                if self.host.config.rate_limits.on_limit != "defer" or delay >= self.settings.max_age:
                    raise
        from emailactions.delivery.outbox.entry import iso_time

        outbox = self.outbox
        if not outbox.durable and not self._warned_memory:
            self._warned_memory = True
            log.warning("outbox is in memory: submitted mail is lost if this process stops; set [outbox] path")
        transport = self.host.config.transport
        outbox_id = outbox.add(
            message, transport=transport, template=template, max_age=self.settings.max_age, delay=delay, rate_check=rate_check,
            # Only asked of backends when used: a plugin's backend may predate keys.
            **({"idempotency_key": idempotency_key} if idempotency_key is not None else {}),
        )  # fmt: skip
        if idempotency_key is not None:
            from emailactions.delivery.outbox.idempotency import replay

            first = replay(outbox, outbox_id, message)
            if first is not None:
                return first
        self.host.notify("message_queued", message=message, outbox_id=outbox_id)
        self.notify()
        result: dict[str, Any] = {
            "outboxId": outbox_id,
            "messageId": message.message_id,
            "envelope": message.envelope(),
            "state": "queued",
            "nextAttempt": iso_time(outbox.clock() + delay),
        }
        if rate_check:
            result["deferred"] = {"reason": "rate_limited", "retryAfter": delay}
        return result

    # -- control ---------------------------------------------------------

    def notify(self) -> None:
        """Mail became due in this process: start delivery (if automatic) and wake it."""
        if self.settings.autostart:
            self.start()
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.wake()

    def drain(self, timeout: float | None = None) -> dict[str, int]:
        """Deliver what is due now in this process; see :meth:`DeliveryWorker.drain`."""
        return self.worker.drain(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker and close the outbox.

        An in-memory outbox is drained first (within ``timeout``): its
        messages exist nowhere else.
        """
        with self._lock:
            if self._outbox is not None and not self._outbox.durable and self._outbox.unfinished():
                self.worker.drain(timeout)
            worker, outbox = self._worker, self._outbox
            self._worker = self._outbox = None
        if worker is not None:
            worker.stop(timeout)
            if worker.outbox is not outbox:
                worker.outbox.close()
        if outbox is not None:
            left = outbox.unfinished() if not outbox.durable else 0
            if left:
                log.error("in-memory outbox closed with %d undelivered message(s); they are lost", left)
            outbox.close()
