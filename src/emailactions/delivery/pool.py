"""TransportPool: a host's transports, checked when the host is built, opened on first use."""

from __future__ import annotations

import inspect
import threading
import types
import typing
from typing import Any, Callable, Mapping

from emailactions.errors import ConfigError, UnknownTransport
from emailactions.registry import Registry
from emailactions.transports.base import BaseTransport

class TransportPool:
    """One transport per config alias, from the ``register_transports`` classes.

    Every alias is checked at construction (backend installed, options known,
    required ones present, types as the class annotates them), so a typo in
    ``[transports.relay]`` fails when the host is built, not at the first send.
    Building and opening wait for first use: a host that never sends opens
    no connection.
    """

    def __init__(self, classes: Registry[type[BaseTransport]], transports: Mapping[str, Mapping[str, Any]], default: str) -> None:
        self.classes = classes
        self.default = default
        self._options: dict[str, tuple[type[BaseTransport], dict[str, Any]]] = {}
        for alias, options in transports.items():
            options = dict(options)
            backend = options.pop("backend")
            cls = classes.choose(backend, f"transports.{alias}.backend", error=UnknownTransport, transport=backend)
            check_options(cls, options, f"transports.{alias}", what=f"transport {backend!r}")
            self._options[alias] = (cls, options)
        self._open: dict[str, BaseTransport] = {}
        self._lock = threading.Lock()

    def get(self, alias: str | None = None) -> BaseTransport:
        """The opened transport for a config alias (the default one if None)."""
        alias = alias or self.default
        with self._lock:
            if alias not in self._open:
                if alias not in self._options:
                    raise ConfigError(f"No transport configured as {alias!r}", key=f"transports.{alias}")
                cls, options = self._options[alias]
                transport = cls(**options)
                transport.alias = alias
                transport.open()
                self._open[alias] = transport
            return self._open[alias]

    def close(self) -> None:
        """Close every opened transport; a later :meth:`get` opens afresh."""
        with self._lock:
            opened, self._open = self._open, {}
        for transport in opened.values():
            transport.close()


def check_options(factory: Callable[..., Any], options: Mapping[str, Any], prefix: str, *, what: str) -> None:
    """Refuse options ``factory`` would not take: unknown, missing or mistyped,
    each a ``ConfigError`` naming ``prefix.option``."""
    signature = inspect.signature(factory).parameters.values()
    params = {p.name: p for p in signature if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature)
    for name in options:
        if name not in params and not takes_any:
            raise ConfigError(f"Unknown option {name!r} for {what} (known: {', '.join(sorted(params))})", key=f"{prefix}.{name}")
    for name, p in params.items():
        if p.default is p.empty and name not in options:
            raise ConfigError(f"Option {name!r} of {what} is required", key=f"{prefix}.{name}")
    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except (NameError, TypeError):  # an annotation only a type checker can resolve
        hints = {}
    for name, value in options.items():
        hint = hints.get(name)
        if hint is not None and not _matches(value, hint):
            raise ConfigError(
                f"Option {name!r} of {what} has the wrong type: {type(value).__name__}", key=f"{prefix}.{name}"
            )


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits an annotation; ``Any``, streams and other non-data annotations pass."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    hint = type(None) if hint is None else origin or hint
    if hint is typing.Any or not isinstance(hint, type) or issubclass(hint, typing.IO):
        return True
    if isinstance(value, bool):
        return issubclass(hint, bool) or hint is object  # True is an int to Python, not to a config file
    if hint is float:
        return isinstance(value, (int, float))
    return isinstance(value, hint)
