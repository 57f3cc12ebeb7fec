"""The ``external/email`` service: IDM's ``send`` action (and friends)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Iterable

from ..addresses import Address, parse_address_list
from ..bulk import Job, deliver_each, summarize
from ..compose import compose
from ..errors import InvalidParams, UnknownDestination
from ..hookspecs import hookimpl
from ..request import SendRequest, parse_send

RESOURCE = "external/email"


class EmailService:
    """Handlers for ``external/email``; one instance per host."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def send(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """IDM's ``send``: validate, compose, deliver."""
        wait = _wait_flag(params, context)
        config = self.host.config
        request = parse_send(params, default_from=config.sender, limits=config.limits, resolve=self.resolve_destination)
        if request.separately:
            return self.dispatch_each(_one_each(request), wait)
        return self.dispatch(compose(request), wait)

    def resolve_destination(self, name: str) -> list[Address]:
        """A ``destination`` group's members, through the ``resolve_recipients`` hook."""
        members = self.host.hook.resolve_recipients(destination=name, host=self.host)
        if members is None:
            raise UnknownDestination(f"Destination {name!r} not found", param="destination", destination=name)
        return parse_address_list(members, "destination")

    def dispatch_each(self, jobs: Iterable[Job], wait: bool, *, template: str | None = None) -> dict[str, Any]:
        """One message per job, composed lazily, each through :meth:`dispatch`
        (rate limits, retries, or the outbox), at most the pool's size at a time."""
        workers = getattr(self.host.transport(), "pool_size", 1)
        send = partial(self.dispatch, wait=wait, template=template)
        return summarize(deliver_each(send, jobs, workers=workers), submitted=not wait)

    def dispatch(self, message: Any, wait: bool, *, template: str | None = None) -> dict[str, Any]:
        """Deliver now (retrying within the deadline) or commit to the outbox.

        ``template`` is the template name, for per-template rate limits; when
        not given, ``message.meta["template"]`` is used. Both paths apply the
        rate limits first (429 with ``retry_after``).
        """
        if template is None and message.meta:
            template = message.meta.get("template")
        dispatcher = self.host.dispatcher
        if wait:
            result, attempts = dispatcher.send(message, template=template)
            return {"status": "OK", "message": "Email sent", **result.to_dict(), "attempts": attempts}
        # "Email submitted" only once the outbox row is committed.
        return {"status": "OK", "message": "Email submitted", **dispatcher.submit(message, template=template)}


def _one_each(request: SendRequest) -> Iterable[Job]:
    """A job per ``to`` recipient: their own To header, the shared Bcc in each envelope."""
    for address in request.to:
        yield address.addr, partial(compose, replace(request, to=(address,), separately=False))


def _wait_flag(params: dict[str, Any], context: Any) -> bool:
    """``waitForCompletion`` in params (as REST's query string has it) overrides the context."""
    value = params.pop("waitForCompletion", None)
    if value is None:
        return context.wait_for_completion
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise InvalidParams("Parameter 'waitForCompletion' must be a boolean", param="waitForCompletion")
    return value


@hookimpl
def register_actions(register: Any, host: Any) -> None:
    service = EmailService(host)
    register(RESOURCE, "send", service.send)
