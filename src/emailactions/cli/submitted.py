"""Mail a one-shot command submitted (``--no-wait``, or a script's ``waitForCompletion: false``).

A command's process ends right after it answers, so "Email submitted" must
not mean "held in this process's memory". With an outbox file the mail waits
there and the answer says where and which command delivers it. Without one
the command delivers the mail before it exits, retrying temporary failures
until ``[outbox] sync_deadline`` as a synchronous send does, and fails
(exit 1) if any of it was not delivered: mail is never dropped silently.
Delivering beats refusing ``--no-wait`` here: IDM scripts pass
``waitForCompletion: false`` themselves and should run unchanged.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from emailactions.errors import DeliveryTimeout, TransportError
from emailactions.hookspecs import hookimpl

if TYPE_CHECKING:
    from emailactions.config.model import Config

log = logging.getLogger("emailactions")


class Queued:
    """A plugin the CLI registers for one command: the outbox ids it committed."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    @hookimpl
    def message_queued(self, message: Any, outbox_id: int) -> None:
        self.ids.append(outbox_id)


def one_shot(config: Config) -> Config:
    """A one-shot command's outbox: no background delivery; in memory, retried as a synchronous send."""
    outbox = replace(config.outbox, autostart=False)
    if outbox.path is None and outbox.backend in (None, "memory"):
        outbox = replace(outbox, backoff=outbox.sync_backoff, backoff_max=max(outbox.sync_backoff, outbox.sync_deadline))
    return replace(config, outbox=outbox)


def where_queued(outbox: Any, result: Any, source: str | None) -> Any:
    """Say where queued mail waits and which command delivers it: in ``result``
    when it is the "Email submitted" answer, else in one warning."""
    option = f" {'--conf' if os.path.isdir(source) else '--config'} {shlex.quote(source)}" if source else ""
    commands = [f"emailactions{option} worker", f"emailactions{option} outbox drain"]
    if isinstance(result, dict) and result.get("message") == "Email submitted":
        return {**result, "outbox": outbox.where, "deliverWith": commands}
    log.warning("mail is queued in %s, not sent: `%s` (or `%s`) delivers it", outbox.where, *commands)
    return result


def deliver_now(host: Any) -> dict[str, Any] | None:
    """Deliver an in-memory outbox before the process ends, within ``sync_deadline``.

    Returns the error body of a message that failed or was still waiting at
    the deadline (then removed, so that closing the host does not try again),
    or ``None`` when everything went.
    """
    dispatcher = host.dispatcher
    outbox = dispatcher.outbox
    deadline = time.monotonic() + dispatcher.settings.sync_deadline
    while outbox.unfinished() and time.monotonic() < deadline:
        dispatcher.drain(max(0.0, deadline - time.monotonic()))
        due = outbox.next_due()
        if due is not None and outbox.unfinished():
            time.sleep(max(0.0, min(due - outbox.clock(), deadline - time.monotonic())))
    failed = outbox.list(states=["failed"], limit=1)
    if failed:
        return failed[0].last_error or TransportError("Submitted mail could not be delivered").to_dict()
    left = outbox.unfinished()
    if not left:
        return None
    outbox.purge(states=["queued"])
    return DeliveryTimeout(
        f"{left} submitted message(s) not delivered within sync_deadline ({dispatcher.settings.sync_deadline:g} s);"
        " set [outbox] path or EMAILACTIONS_OUTBOX to queue mail for `emailactions worker` instead"
    ).to_dict()
