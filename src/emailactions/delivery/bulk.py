"""Send many messages from one action: composed lazily, a bounded number in flight."""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import Any, Callable, Iterable, Iterator

from emailactions.errors import EmailActionsError
from emailactions.mime.message import Message

log = logging.getLogger("emailactions")

#: A recipient's key (their address) and how to build their message.
Job = tuple[str, Callable[[], Message]]


#: Sends one message, returning its action result (``dispatch``).
Send = Callable[[Message], "dict[str, Any]"]

# Keys of a single send's result that belong in a recipient's outcome.
_KEPT = ("messageId", "outboxId", "refused", "attempts", "deferred")


def _run(send: Send, address: str, build: Callable[[], Message]) -> dict[str, Any]:
    # Errors that belong to one recipient (a render error, a refusal, a rate
    # limit) are reported under their address and do not stop the others.
    try:
        message = build()
        result = send(message)
    except EmailActionsError as exc:
        return {"address": address, "status": "failed", "error": exc.to_dict()}
    except Exception:  # noqa: BLE001
        # A bug (ours or a plugin's) for one recipient must not abort a half-sent
        # bulk call: the caller would get no outcomes and could only send it all again.
        log.exception("bulk send to %s failed unexpectedly", address)
        error = EmailActionsError("Internal error while sending to this recipient")
        return {"address": address, "status": "failed", "error": error.to_dict()}
    status = "submitted" if result.get("message") == "Email submitted" else "sent"
    outcome = {"address": address, "status": status, **{k: result[k] for k in _KEPT if result.get(k)}}
    if message.info.locale:
        outcome["locale"] = message.info.locale
    return outcome


def deliver_each(send: Send, jobs: Iterable[Job], *, workers: int) -> Iterator[dict[str, Any]]:
    """Yield one outcome per job, in order, with at most ``2 * workers`` messages alive.

    Messages are composed inside the workers, so a 100,000-recipient call
    never holds more than a window of them in memory.
    """
    if workers <= 1:
        for address, build in jobs:
            yield _run(send, address, build)
        return
    window: deque[Future[dict[str, Any]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emailactions-bulk") as pool:
        for address, build in jobs:
            if len(window) >= 2 * workers:
                yield window.popleft().result()
            # Each job in a copy of the caller's context: a request's rate limits apply.
            window.append(pool.submit(copy_context().run, _run, send, address, build))
        while window:
            yield window.popleft().result()


def summarize(outcomes: Iterable[dict[str, Any]], submitted: bool = False) -> dict[str, Any]:
    """IDM's status and message plus a count and every recipient's outcome."""
    results = list(outcomes)
    sent = sum(1 for r in results if r["status"] != "failed")
    return {
        "status": "OK",
        "message": "Email submitted" if submitted else "Email sent",
        "count": len(results),
        "sent": sent,
        "failed": len(results) - sent,
        "results": results,
    }
