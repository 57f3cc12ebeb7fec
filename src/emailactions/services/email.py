"""The ``external/email`` service: IDM's ``send`` action (and friends)."""

from __future__ import annotations

from typing import Any

from ..compose import compose
from ..errors import InvalidParams
from ..hookspecs import hookimpl
from ..request import parse_send

RESOURCE = "external/email"


class EmailService:
    """Handlers for ``external/email``; one instance per host."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def send(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """IDM's ``send``: validate, compose, deliver."""
        wait = _wait_flag(params, context)
        config = self.host.config
        request = parse_send(params, default_from=config.sender, limits=config.limits)
        return self.dispatch(compose(request), wait)

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
