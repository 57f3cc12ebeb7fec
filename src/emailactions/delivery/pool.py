"""TransportPool: a host's transports, checked when the host is built, opened on first use."""

from __future__ import annotations

import logging
import threading
from typing import Any, Mapping

from emailactions.config.validate import check_options
from emailactions.errors import ConfigError, EmailActionsError, PluginError, UnknownTransport
from emailactions.mime.message import Message
from emailactions.registry import Registry
from emailactions.transports.base import BaseTransport, SendResult

log = logging.getLogger(__name__)


class TransportPool:
    """One transport per config alias, from the ``register_transports`` classes.

    Every alias is checked at construction (backend installed, options known,
    required ones present, types as the class annotates them), so a typo in
    ``[transports.relay]`` fails when the host is built, not at the first send.
    Building and opening wait for first use: a host that never sends opens
    no connection.

    A plugin's transport is code the host does not control: whatever it raises
    besides an emailactions error is logged with its traceback and reaches the
    caller as a ``PluginError`` naming the plugin and the alias (IDM's error
    shape). A 500, not a relay's 502: it is a bug, not an answer from the relay,
    and its text may hold what a REST client must not see (the server hides 500s).
    """

    def __init__(self, classes: Registry[type[BaseTransport]], transports: Mapping[str, Mapping[str, Any]], default: str) -> None:
        self.classes = classes
        self.default = default
        #: alias -> (class, options, the plugin that registered the class)
        self._options: dict[str, tuple[type[BaseTransport], dict[str, Any], str]] = {}
        for alias, options in transports.items():
            options = dict(options)
            backend = options.pop("backend")
            cls = classes.choose(backend, f"transports.{alias}.backend", error=UnknownTransport, transport=backend)
            check_options(cls, options, f"transports.{alias}")
            self._options[alias] = (cls, options, classes.plugin(backend))
        self._open: dict[str, BaseTransport] = {}
        self._lock = threading.Lock()

    def get(self, alias: str | None = None) -> BaseTransport:
        """The opened transport for a config alias (the default one if None).

        A constructor or ``open()`` that raises anything but an emailactions
        error is a ``PluginError``: nothing was attempted.
        """
        alias = alias or self.default
        if alias not in self._options:
            raise ConfigError(f"No transport configured as {alias!r}", key=f"transports.{alias}")
        capturing = _capture
        if capturing is not None:
            return capturing
        with self._lock:
            if alias not in self._open:
                cls, options, plugin = self._options[alias]
                try:
                    transport = cls(**options)
                    transport.alias = alias
                    transport.open()
                except ConfigError as exc:
                    raise _keyed(exc, alias) from None
                except EmailActionsError:
                    raise
                except Exception as exc:
                    what = f"Transport {alias!r} ({cls.__name__} of plugin {plugin!r}) could not be built"
                    raise _plugin_error(what, exc, plugin, alias) from exc
                self._open[alias] = transport
            return self._open[alias]

    def send(self, message: Message, alias: str | None = None) -> SendResult:
        """Send through an alias's transport; anything but an emailactions error
        from the plugin's ``send`` becomes a ``PluginError``.

        The synchronous path does not retry it (a bug does not fix itself in
        seconds); the outbox does, as any error that is not a transport's,
        until ``max_attempts``.
        """
        alias = alias or self.default
        transport = self.get(alias)
        try:
            return transport.send(message)
        except EmailActionsError:
            raise
        except Exception as exc:
            plugin = self._options[alias][2]
            raise _plugin_error(f"Transport {alias!r} of plugin {plugin!r} failed", exc, plugin, alias) from exc

    def close(self) -> None:
        """Close every opened transport; a later :meth:`get` opens afresh."""
        with self._lock:
            opened, self._open = self._open, {}
        for transport in opened.values():
            transport.close()


def _plugin_error(what: str, exc: Exception, plugin: str, alias: str) -> PluginError:
    """Log ``exc`` with its traceback; the error the caller gets instead."""
    log.error("%s", what, exc_info=exc)
    return PluginError(f"{what}: {type(exc).__name__}: {exc}", plugin=plugin, transport=alias)


#: Where every pool sends while set (see :func:`emailactions.host.capture`, the pytest plugin's seam).
_capture: BaseTransport | None = None


def capture(transport: BaseTransport | None) -> BaseTransport | None:
    """Make every pool hand out ``transport`` (``None``: their own again); returns the one it replaces."""
    global _capture
    previous, _capture = _capture, transport
    return previous


def capturing() -> BaseTransport | None:
    """The capturing transport, if one is set."""
    return _capture


def _keyed(exc: ConfigError, alias: str) -> ConfigError:
    """A transport's own option error (``key="port"``) named by its full key, ``transports.<alias>.port``."""
    key = exc.key
    if not key or key.startswith("transports."):
        return exc
    full = f"transports.{alias}.{key}"
    return type(exc)(f"Config key {full!r}: {exc.message}", key=full)
