"""Celery: a task that drains the shared outbox, and a doorbell that queues it.

For teams that already run Celery workers, they can deliver the outbox in
place of ``emailactions worker``::

    # mailtasks.py, imported by the Celery workers and by the application
    from celery import Celery
    from emailactions.integrations.celery import CeleryOutbox

    app = Celery("mail", broker="redis://127.0.0.1:6379/0")
    outbox = CeleryOutbox(app, "emailactions.toml")      # [outbox] path or url, workers = 0

    # in the application: ring the doorbell whenever a message is queued
    host = ActionHost("emailactions.toml", plugins=[outbox.doorbell])

The outbox row stays the record; a task carries no mail, only "look now".
A doorbell lost with a broker, run twice, or run late loses and duplicates
nothing: the drain claims rows as any worker does (leases, one owner at a
time), and mail queued with no task in sight waits for the next ring or the
periodic drain (``every`` seconds, a beat entry), which also picks up retries
coming due. Celery's own redelivery (visibility timeouts) never re-sends mail.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Mapping

from celery import Celery, Task, signals

from emailactions.config import default_config_source
from emailactions.hookspecs import hookimpl
from emailactions.host import ActionHost

log = logging.getLogger("emailactions.celery")

#: The task's name on the Celery app (workers and senders must agree on it).
TASK_NAME = "emailactions.drain_outbox"


class Doorbell:
    """A plugin for submitting hosts: each queued message queues a drain.

    Sent without the broker's publish retries, so a broker that is down costs a
    submit one refused connection, not seconds: the message is committed
    already, and the failure is logged (notifications never fail a send).
    """

    def __init__(self, task: Task) -> None:
        self.task = task

    @hookimpl
    def message_queued(self, message: Any, outbox_id: int) -> None:
        self.task.apply_async(retry=False)


class CeleryOutbox:
    """The drain task on a Celery ``app`` and the :class:`Doorbell` that queues it.

    ``config`` is the workers' host config (a TOML file, an IDM conf folder or
    a mapping; default: what ``emailactions.action()`` reads); it must name the
    shared outbox and should set ``[outbox] workers = 0`` so that hosts leave
    delivery to Celery. Each Celery worker process builds one host on its first
    task and closes it when the process ends. A drain delivers what is due, for
    at most ``timeout`` seconds. ``every`` adds a beat entry draining that often
    (``None``: none), for retries that come due with no new mail to ring.
    """

    def __init__(
        self,
        app: Celery,
        config: Mapping[str, Any] | str | None = None,
        *,
        name: str = TASK_NAME,
        timeout: float = 60.0,
        every: float | None = 30.0,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self._host: ActionHost | None = None
        self._lock = threading.Lock()
        def drain_outbox() -> dict[str, Any]:
            # A plain function: Celery checks a task's arguments against its signature.
            return self.drain()

        # Not shared: a task of this instance (its config) on this app only.
        self.task: Task = app.task(name=name, ignore_result=True, shared=False)(drain_outbox)
        self.doorbell = Doorbell(self.task)
        if every is not None:
            app.conf.beat_schedule = {**(app.conf.beat_schedule or {}), name: {"task": name, "schedule": every}}
        signals.worker_process_shutdown.connect(self.close, weak=False)
        signals.worker_shutdown.connect(self.close, weak=False)

    @property
    def host(self) -> ActionHost:
        """This process's host (built on first use)."""
        with self._lock:
            if self._host is None:
                self._host = ActionHost(default_config_source() if self.config is None else self.config)
            return self._host

    def drain(self) -> dict[str, Any]:
        """The task: deliver what is due now, through the outbox's ``drain`` action."""
        result = self.host.action("external/email/outbox", "drain", {"timeout": self.timeout})
        log.info("outbox drained: %s", {k: result[k] for k in ("sent", "failed", "retrying", "deferred")})
        return result

    def close(self, **_: Any) -> None:
        """Close this process's host (a worker process ending)."""
        with self._lock:
            host, self._host = self._host, None
        if host is not None:
            host.close()


__all__ = ["CeleryOutbox", "Doorbell", "TASK_NAME"]
