"""The Pythonic API: keyword arguments in, a typed result out, and async twins.

:class:`EmailMethods` is mixed into :class:`~emailactions.ActionHost`. Each
method only builds IDM params and calls ``action()``, so a Python caller gets
exactly the validation, errors, limits, outbox and plugins a script gets. The
async methods run that same synchronous path in a bounded thread pool of
their own (the event loop's default executor stays free for DNS and the
like). A thread cannot be stopped midway, and that is the point: cancelling
an awaiting task either drops the call before it started (nothing sent) or
lets it finish in its thread (delivered, committed to the outbox, or refused
whole) with the outcome logged, never an SMTP transaction cut in half.
"""

from __future__ import annotations

import logging
import threading
from contextvars import copy_context
from dataclasses import dataclass, field
from functools import partial, wraps
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Mapping, ParamSpec, Sequence, TypeVar, Union

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("emailactions")

P = ParamSpec("P")
R = TypeVar("R")

#: Threads the async methods share; more concurrent callers wait their turn.
ASYNC_THREADS = 16
RESOURCE = "external/email"

#: One address (``"Name <a@example.com>"``, or several separated by ``,``/``;``)
#: or a list of them; a mapping is IDM's ``{"address", "display"}`` (or, for
#: templates, a recipient with their own ``object`` and ``locale``).
Addresses = Union[str, Sequence[Union[str, Mapping[str, Any]]]]


@dataclass(frozen=True)
class Attachment:
    """A file to attach; with ``cid`` it is an inline image the HTML shows as ``cid:<cid>``."""

    filename: str
    #: The content; text is sent as UTF-8.
    data: bytes | str
    #: ``None``: guessed from the file name.
    content_type: str | None = None
    cid: str | None = None

    def to_param(self) -> dict[str, Any]:
        """IDM's ``{"filename", "fileType", "data"}`` form (``data`` as bytes)."""
        data = self.data.encode("utf-8") if isinstance(self.data, str) else self.data
        param: dict[str, Any] = {"filename": self.filename, "data": data}
        if self.content_type is not None:
            param["fileType"] = self.content_type
        if self.cid is not None:
            param.update(inline=True, cid=self.cid)
        return param


@dataclass(frozen=True)
class RecipientResult:
    """One recipient's outcome in a separate or group send."""

    address: str
    #: ``"sent"``, ``"submitted"`` or ``"failed"``.
    status: str
    message_id: str | None = None
    outbox_id: int | None = None
    locale: str | None = None
    #: IDM's error shape (``{"code", "reason", "message", "detail"}``) when failed.
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class EmailResult:
    """What ``send``/``sendTemplate`` answered: the result dict's keys as attributes.

    Keys a call does not produce are ``None`` (``count`` and ``results`` only
    for separate and group sends, ``outbox_id`` only when submitted...);
    :meth:`to_dict` gives the dict ``action()`` returns, unchanged.
    """

    status: str
    #: ``"Email sent"`` or ``"Email submitted"``.
    message: str
    message_id: str | None = None
    #: ``{"from": sender, "to": [recipients]}``, as SMTP's MAIL FROM and RCPT TO.
    envelope: dict[str, Any] | None = None
    accepted: list[str] | None = None
    #: Address -> ``{"code", "message"}`` for each recipient the server refused.
    refused: dict[str, Any] | None = None
    transport: str | None = None
    attempts: int | None = None
    outbox_id: int | None = None
    state: str | None = None
    next_attempt: str | None = None
    deferred: dict[str, Any] | None = None
    count: int | None = None
    sent: int | None = None
    failed: int | None = None
    results: list[RecipientResult] | None = None
    template_name: str | None = None
    locale: str | None = None
    locales: dict[str, str] | None = None
    _raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def submitted(self) -> bool:
        """Whether the mail was committed to the outbox rather than sent now."""
        return self.message == "Email submitted"

    @classmethod
    def from_dict(cls, result: Mapping[str, Any]) -> EmailResult:
        """Read an ``external/email`` result dict."""
        values = {attr: result[key] for key, attr in _FIELDS.items() if key in result}
        if "results" in result:
            values["results"] = [
                RecipientResult(**{attr: r[key] for key, attr in _RECIPIENT_FIELDS.items() if key in r})
                for r in result["results"]
            ]
        return cls(**values, _raw=dict(result))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, as ``action()`` returned it."""
        return dict(self._raw)


#: Result dict key -> attribute.
_FIELDS = {
    "status": "status", "message": "message", "messageId": "message_id", "envelope": "envelope",
    "accepted": "accepted", "refused": "refused", "transport": "transport", "attempts": "attempts",
    "outboxId": "outbox_id", "state": "state", "nextAttempt": "next_attempt", "deferred": "deferred",
    "count": "count", "sent": "sent", "failed": "failed", "templateName": "template_name",
    "locale": "locale", "locales": "locales",
}  # fmt: skip
_RECIPIENT_FIELDS = {
    "address": "address", "status": "status", "messageId": "message_id", "outboxId": "outbox_id",
    "locale": "locale", "error": "error",
}  # fmt: skip


def _params(**values: Any) -> dict[str, Any]:
    """IDM params from the arguments given; ``None`` leaves a param to its default."""
    params = {key: value for key, value in values.items() if value is not None}
    if "attachments" in params:
        params["attachments"] = [a.to_param() if isinstance(a, Attachment) else a for a in params["attachments"]]
    return params


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=ASYNC_THREADS, thread_name_prefix="emailactions-async")
        return _pool


async def run_in_pool(function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Await ``function(*args, **kwargs)`` run in the async pool, in a copy of this
    task's context (so request-scoped settings, like rate-limit identity, apply)."""
    import asyncio

    future = _executor().submit(copy_context().run, partial(function, *args, **kwargs))
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        if not future.cancelled():  # it had started: it finishes, and says how
            future.add_done_callback(_log_orphan)
        raise


def _log_orphan(future: Future[Any]) -> None:
    error = future.exception()
    if error is not None:
        log.warning("an email action whose caller was cancelled failed: %s", error)
    else:
        log.info("an email action whose caller was cancelled completed: %r", future.result())


def in_thread(method: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async twin of a synchronous method: same arguments, run by :func:`run_in_pool`."""

    @wraps(method)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> R:
        return await run_in_pool(method, *args, **kwargs)

    name = method.__name__
    twin.__name__, twin.__qualname__ = f"a{name}", method.__qualname__.replace(name, f"a{name}")
    twin.__doc__ = f"Awaitable :meth:`{name}` that never blocks the event loop (it runs in a thread)."
    return twin


class EmailMethods:
    """``send``/``send_template`` with keyword arguments, and their async twins."""

    if TYPE_CHECKING:  # pragma: no cover - ActionHost defines it

        def action(
            self,
            resource: str,
            action: str,
            params: Mapping[str, Any] | None = None,
            *,
            accept_language: str | None = None,
            wait_for_completion: bool = True,
            caller: str | None = None,
        ) -> dict[str, Any]: ...

    def send(
        self,
        *,
        to: Addresses | None = None,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        sender: str | None = None,
        from_name: str | None = None,
        cc: Addresses | None = None,
        bcc: Addresses | None = None,
        reply_to: Addresses | None = None,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment | Mapping[str, Any]] | None = None,
        separately: bool | None = None,
        destination: str | None = None,
        wait: bool = True,
        accept_language: str | None = None,
    ) -> EmailResult:
        """IDM's ``send``: ``sender`` is ``from`` (the config's when None); ``wait=False``
        commits to the outbox and answers "Email submitted". Raises what ``action()`` raises."""
        params = _params(
            to=to, subject=subject, text=text, html=html, cc=cc, bcc=bcc, replyTo=reply_to, headers=headers,
            attachments=attachments, sendSeparately=separately, destination=destination, fromName=from_name,
            **{"from": sender},
        )  # fmt: skip
        result = self.action(RESOURCE, "send", params, accept_language=accept_language, wait_for_completion=wait)
        return EmailResult.from_dict(result)

    def send_template(
        self,
        name: str,
        *,
        to: Addresses | None = None,
        object: Mapping[str, Any] | None = None,
        locale: str | None = None,
        sender: str | None = None,
        cc: Addresses | None = None,
        bcc: Addresses | None = None,
        reply_to: Addresses | None = None,
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment | Mapping[str, Any]] | None = None,
        separately: bool | None = None,
        destination: str | None = None,
        wait: bool = True,
        accept_language: str | None = None,
    ) -> EmailResult:
        """IDM's ``sendTemplate``: render template ``name`` with ``object`` in ``locale``
        (else ``accept_language``, else the default locale), then send as :meth:`send` does."""
        params = _params(
            templateName=name, to=to, object=object, _locale=locale, cc=cc, bcc=bcc, replyTo=reply_to,
            headers=headers, attachments=attachments, sendSeparately=separately, destination=destination,
            **{"from": sender},
        )  # fmt: skip
        result = self.action(RESOURCE, "sendTemplate", params, accept_language=accept_language, wait_for_completion=wait)
        return EmailResult.from_dict(result)

    asend = in_thread(send)
    asend_template = in_thread(send_template)
