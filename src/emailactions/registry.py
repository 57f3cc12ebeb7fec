"""Registries: what plugins contribute through ``register_*`` hooks, by name.

One rule for every kind (actions, transports, template engines and stores,
script languages, outbox backends, API routes): a name is taken once, and a
second plugin taking it raises ``DuplicateRegistration`` naming both.

A value may be registered as a ``"package.module:attr"`` string: the name is
taken at once, the module imported on the first lookup. Built-in plugins
register this way, so a process imports only the transport, engine or
language it uses (a cold ``emailactions send`` loads no subprocess, tempfile
or template engine).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from emailactions.errors import ConfigError, DuplicateRegistration, PluginError, UnknownAction, UnknownResource

T = TypeVar("T")
Handler = Callable[..., dict]


class Registry(Mapping[str, "tuple[T, str]"], Generic[T]):
    """``name -> (value, plugin)`` for one kind of contribution.

    ``base``, when given, is the class every value must subclass (checked at
    registration, or for a lazy reference when it is resolved; either way the
    error names the plugin). ``base`` may itself be a ``"module:attr"``
    reference, so that building a registry imports nothing.
    ``label`` words a name in messages (``Transport 'smtp'`` by default).
    """

    def __init__(self, kind: str, *, base: type | str | None = None, label: Callable[[str], str] | None = None) -> None:
        self.kind = kind
        self.base = base
        self._label = label or (lambda name: f"{kind[:1].upper()}{kind[1:]} {name!r}")
        self._entries: dict[str, tuple[T, str]] = {}

    def add(self, name: str, value: T, plugin: str = "", **detail: Any) -> None:
        """Record ``value`` as ``plugin``'s; a taken name or a wrong class raises.

        ``detail`` is the error's context (default: ``name``).
        """
        if name in self._entries:
            context = detail or {"name": name}
            raise DuplicateRegistration(
                f"{self._label(name)} is registered by {self._entries[name][1]!r} and {plugin!r}", **context, plugin=plugin
            )
        if isinstance(value, str):
            if not _REFERENCE.fullmatch(value):
                raise PluginError(f"Plugin {plugin!r} registered {self.kind} {name!r} as {value!r}: expected 'package.module:attr'", plugin=plugin)
        else:
            self._check(name, value, plugin)
        self._entries[name] = (value, plugin)

    def _check(self, name: str, value: Any, plugin: str) -> None:
        if self.base is None:
            return
        if isinstance(self.base, str):
            self.base = resolve(self.base)
        if not (isinstance(value, type) and issubclass(value, self.base)):
            raise PluginError(f"Plugin {plugin!r} registered {self.kind} {name!r}, which is not a {self.base.__name__}", plugin=plugin)

    def _resolved(self, name: str) -> tuple[T, str]:
        """The entry, a lazy reference imported and checked on first use (``KeyError`` if none)."""
        value, plugin = self._entries[name]
        if isinstance(value, str):
            try:
                value = resolve(value)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"Plugin {plugin!r} registered {self.kind} {name!r} as {value!r}, which does not load: {exc}", plugin=plugin) from exc
            self._check(name, value, plugin)
            # Two threads resolving at once store the same object: no lock needed.
            self._entries[name] = (value, plugin)
        return value, plugin

    def value(self, name: str) -> T:
        """The registered value (``KeyError`` if none: callers raise their own 404 or 400)."""
        return self._resolved(name)[0]

    def choose(self, name: str, key: str, *, error: type[ConfigError] = ConfigError, **detail: Any) -> T:
        """The value config key ``key`` names; an unknown name is ``error`` naming the key."""
        if name not in self._entries:
            raise error(f"Config key {key!r}: no {self.kind} {name!r} is installed (known: {', '.join(sorted(self))})", key=key, **detail)
        return self._resolved(name)[0]

    def plugin(self, name: str) -> str:
        """Which plugin registered ``name``."""
        return self._entries[name][1]

    def names_of(self, plugin: str) -> list[str]:
        """The names ``plugin`` registered, sorted (for ``emailactions plugins``)."""
        return sorted(name for name, (_, owner) in self._entries.items() if owner == plugin)

    def pop(self, name: str) -> tuple[T, str]:
        """Forget a registration (one a test or a plugin added for a while)."""
        return self._entries.pop(name)

    def __getitem__(self, name: str) -> tuple[T, str]:
        return self._resolved(name)

    def __contains__(self, name: object) -> bool:  # without resolving (Mapping's would)
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


#: ``package.module:attr``: a lazy reference.
_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def resolve(reference: str) -> Any:
    """The object a ``"package.module:attr"`` reference names, its module imported."""
    module, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module), attr)


class ActionRegistry:
    """Maps ``"external/email"`` + ``"send"`` to a handler and its plugin: a registry per resource."""

    def __init__(self) -> None:
        self._services: dict[str, Registry[Handler]] = {}

    def add(self, resource: str, action: str, handler: Handler, plugin: str = "") -> None:
        """Register; a pair that is taken raises, naming both plugins."""
        resource = resource.strip("/")
        if resource not in self._services:
            self._services[resource] = Registry("action", label=lambda name: f"Action {resource}/{name}")
        self._services[resource].add(action, handler, plugin, resource=resource, action=action)

    def resources(self) -> list[str]:
        """Every registered resource path."""
        return sorted(self._services)

    def actions(self, resource: str) -> list[str]:
        """The actions of one resource (404 if none)."""
        return sorted(self._service(resource))

    def _service(self, resource: str) -> Registry[Handler]:
        key = resource.strip("/") if isinstance(resource, str) else resource
        try:
            return self._services[key]
        except (KeyError, TypeError):
            raise UnknownResource(f"Resource {resource!r} not found", resource=str(resource)) from None

    def plugin(self, resource: str, action: str) -> str:
        """Which plugin registered an action."""
        return self._service(resource).plugin(action)

    def get(self, resource: str, action: Any) -> Handler:
        """The handler, or 404 (resource) / 400 listing the valid actions."""
        service = self._service(resource)
        try:
            return service.value(action)
        except (KeyError, TypeError):
            valid = sorted(service)
            raise UnknownAction(
                f"Action {action!r} is not supported by {resource}; valid actions: {', '.join(valid)}",
                resource=resource,
                action=str(action),
                valid=valid,
            ) from None

    def owned_by(self, plugin: str) -> list[str]:
        """``resource/action`` of every action ``plugin`` registered, sorted."""
        return sorted(f"{resource}/{action}" for resource, service in self._services.items() for action in service.names_of(plugin))
