"""ActionRegistry: which handler answers ``resource`` + ``action``."""

from __future__ import annotations

from typing import Any, Callable

from emailactions.errors import DuplicateRegistration, UnknownAction, UnknownResource

Handler = Callable[..., dict]


class ActionRegistry:
    """Maps ``"external/email"`` + ``"send"`` to a handler and its plugin."""

    def __init__(self) -> None:
        self._services: dict[str, dict[str, tuple[Handler, str]]] = {}

    def add(self, resource: str, action: str, handler: Handler, plugin: str = "") -> None:
        """Register; a pair that is taken raises, naming both plugins."""
        resource = resource.strip("/")
        actions = self._services.setdefault(resource, {})
        if action in actions:
            raise DuplicateRegistration(
                f"Action {resource}/{action} is registered by {actions[action][1]!r} and {plugin!r}",
                resource=resource,
                action=action,
                plugin=plugin,
            )
        actions[action] = (handler, plugin)

    def resources(self) -> list[str]:
        """Every registered resource path."""
        return sorted(self._services)

    def actions(self, resource: str) -> list[str]:
        """The actions of one resource (404 if none)."""
        return sorted(self._service(resource))

    def _service(self, resource: str) -> dict[str, tuple[Handler, str]]:
        key = resource.strip("/") if isinstance(resource, str) else resource
        try:
            return self._services[key]
        except (KeyError, TypeError):
            raise UnknownResource(f"Resource {resource!r} not found", resource=str(resource)) from None

    def plugin(self, resource: str, action: str) -> str:
        """Which plugin registered an action."""
        return self._service(resource)[action][1]

    def get(self, resource: str, action: Any) -> Handler:
        """The handler, or 404 (resource) / 400 listing the valid actions."""
        service = self._service(resource)
        try:
            return service[action][0]
        except (KeyError, TypeError):
            valid = sorted(service)
            raise UnknownAction(
                f"Action {action!r} is not supported by {resource}; valid actions: {', '.join(valid)}",
                resource=resource,
                action=str(action),
                valid=valid,
            ) from None
