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

    def dispatch(self, message: Any, wait: bool) -> dict[str, Any]:
        """Deliver now; the result carries IDM's status plus per-recipient detail."""
        result = self.host.deliver(message)
        # Until the durable outbox exists, a submitted message is delivered
        # before answering: slower than IDM's fire-and-forget, but never lost.
        return {"status": "OK", "message": "Email sent" if wait else "Email submitted", **result.to_dict()}


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
