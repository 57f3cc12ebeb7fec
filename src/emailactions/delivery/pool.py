"""TransportPool: a host's transports, checked when the host is built, opened on first use."""

from __future__ import annotations

import threading
from typing import Any, Mapping

from emailactions.config.validate import check_options
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
            check_options(cls, options, f"transports.{alias}")
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
