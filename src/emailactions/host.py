"""ActionHost: routes ``action(resource, action, params)`` to plugin services."""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from emailactions.config import Config, default_config_source, load_config
from emailactions.errors import ConfigError, DuplicateRegistration, ForbiddenOperation, InvalidParams, PluginError, UnknownTransport
from emailactions.mime.message import Message
from emailactions.plugins import get_plugin_manager
from emailactions.registry import ActionRegistry
from emailactions.transports.base import BaseTransport, SendResult

if TYPE_CHECKING:  # pragma: no cover
    from emailactions.delivery.dispatcher import Dispatcher
    from emailactions.templates.service import Templates
    from emailactions.scripting import Scripting

log = logging.getLogger("emailactions")

@dataclass(frozen=True)
class ActionContext:
    """The request context a handler sees, as IDM's script context carries it."""

    host: "ActionHost"
    accept_language: str | None = None
    wait_for_completion: bool = True
    caller: str | None = None


class ActionHost:
    """Owns the plugin manager, the config, the action registry and transports.

    ``config`` is a mapping, a TOML file path, an IDM ``conf/`` folder path,
    or ``None`` for the console transport. ``load_entry_points=False`` keeps
    third-party plugins out (as tests want); ``plugins`` registers extra plugin
    objects or modules, as an embedding application or a test may.
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        load_entry_points: bool = True,
        plugins: Iterable[object] = (),
    ) -> None:
        self.config = load_config(config)
        self.plugin_manager = get_plugin_manager(load_entry_points=load_entry_points)
        for plugin in plugins:
            self.plugin_manager.register(plugin)
        self.plugin_manager.check_pending()
        self.hook = self.plugin_manager.hook
        self.transport_classes: dict[str, tuple[type[BaseTransport], str]] = {}
        self._transports: dict[str, BaseTransport] = {}
        self._lock = threading.Lock()
        self.actions = ActionRegistry()
        #: engine name -> (TemplateEngine subclass, plugin that registered it)
        self.engine_classes: dict[str, tuple[type, str]] = {}
        self._templates: Templates | None = None
        self._scripting: Scripting | None = None
        self._scripting_lock = threading.Lock()
        self._templates_lock = threading.Lock()
        self._call_register(self.hook.register_transports, self._add_transport)
        self._call_register(self.hook.register_template_engines, self._add_engine)
        self._call_register(self.hook.register_actions, self.actions.add, host=self)
        # Built on first use: the outbox and rate limits import sqlite3 and
        # `limits`, which a host that never sends need not pay for. Their
        # settings were already checked when the config loaded.
        self._dispatcher: Dispatcher | None = None
        # Mail left in an outbox file by an earlier run goes out without
        # waiting for the next send; an in-memory outbox starts on first submit.
        if self.config.outbox.path is not None and self.config.outbox.autostart:
            self.dispatcher.start()

    def _call_register(self, hook: Any, add: Any, **kwargs: Any) -> None:
        """Call a ``register_*`` hook so each registration knows its plugin."""
        # Called impl by impl (first-registered first) rather than through
        # hook(...), because collisions must name the plugin that caused them.
        for impl in reversed(hook.get_hookimpls()):
            args = {"register": functools.partial(add, plugin=impl.plugin_name), **kwargs}
            impl.function(**{name: args[name] for name in impl.argnames})

    def _add_transport(self, name: str, cls: type[BaseTransport], plugin: str = "") -> None:
        self._add("transport", self.transport_classes, BaseTransport, name, cls, plugin)

    def _add_engine(self, name: str, cls: type, plugin: str = "") -> None:
        from emailactions.engines.base import TemplateEngine

        self._add("template engine", self.engine_classes, TemplateEngine, name, cls, plugin)

    @staticmethod
    def _add(kind: str, table: dict[str, tuple[type, str]], base: type, name: str, cls: type, plugin: str) -> None:
        """Record a registration; a taken name or a wrong class raises, naming the plugins."""
        if name in table:
            raise DuplicateRegistration(
                f"The {kind} {name!r} is registered by {table[name][1]!r} and {plugin!r}", name=name, plugin=plugin
            )
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"Plugin {plugin!r} registered {kind} {name!r}, which is not a {base.__name__}", plugin=plugin)
        table[name] = (cls, plugin)

    @property
    def templates(self) -> "Templates":
        """The template store, engines and renderer of this host (built on first use)."""
        from emailactions.templates.service import Templates

        # Built once under a lock: two in-memory stores would lose templates.
        with self._templates_lock:
            if self._templates is None:
                self._templates = Templates(self)
            return self._templates

    @property
    def scripting(self) -> "Scripting":
        """The script languages of this host (registered on first use)."""
        from emailactions.scripting import Scripting

        with self._scripting_lock:
            if self._scripting is None:
                self._scripting = Scripting(self)
            return self._scripting

    def run_script(
        self,
        script: str | os.PathLike[str],
        *,
        language: str | None = None,
        globals: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run a script file (language by extension) or source text (``language=``
        required) with ``openidm`` in scope; returns its result.

        ``options``: ``accept_language``, ``wait_for_completion``, ``caller``
        (the context of the actions the script calls), ``properties``,
        ``console`` and ``limits`` -- see :meth:`emailactions.scripting.Scripting.run`
        and ``docs/scripting.md``.
        """
        return self.scripting.run(script, language=language, globals=globals, **options)

    # -- transports ------------------------------------------------------

    def transport(self, alias: str | None = None) -> BaseTransport:
        """The opened transport for a config alias (the default one if None)."""
        alias = alias or self.config.transport
        with self._lock:
            if alias not in self._transports:
                self._transports[alias] = self._build_transport(alias)
            return self._transports[alias]

    def _build_transport(self, alias: str) -> BaseTransport:
        backend, options = self.config.transport_options(alias)
        if backend not in self.transport_classes:
            raise UnknownTransport(
                f"Transport backend {backend!r} is not installed; known: {', '.join(sorted(self.transport_classes))}",
                key=f"transports.{alias}.backend",
                transport=backend,
            )
        cls = self.transport_classes[backend][0]
        try:
            transport = cls(**options)
        except TypeError:
            import inspect

            accepted = set(inspect.signature(cls).parameters)
            unknown = sorted(set(options) - accepted)
            if not unknown:
                raise
            raise ConfigError(
                f"Unknown option {unknown[0]!r} for transport {backend!r} (known: {', '.join(sorted(accepted))})",
                key=f"transports.{alias}.{unknown[0]}",
            ) from None
        transport.alias = alias
        transport.open()
        return transport

    def deliver(self, message: Message, *, transport: str | None = None) -> SendResult:
        """Send one finished message now, notifying ``message_sent`` / ``send_failed``."""
        from emailactions.errors import TransportError

        backend = self.transport(transport)
        try:
            result = backend.send(message)
        except TransportError as exc:
            self.notify("send_failed", message=message, error=exc)
            raise
        self.notify("message_sent", message=message, result=result)
        return result

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a notification hook; a plugin that raises is logged, never fatal.

        By the time these hooks run the mail is already sent (or failed): an
        observer's bug must not turn a delivered message into an error, which
        the outbox would then deliver again.
        """
        for impl in getattr(self.hook, hook).get_hookimpls():
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception:  # noqa: BLE001 - plugin boundary, see above
                log.exception("plugin %s raised in %s; ignored", impl.plugin_name, hook)

    @property
    def dispatcher(self) -> Dispatcher:
        """Rate limits, synchronous retries, the outbox and its worker (built on first use)."""
        from emailactions.delivery.dispatcher import Dispatcher

        with self._lock:
            if self._dispatcher is None:
                self._dispatcher = Dispatcher(self)
            return self._dispatcher

    # -- actions ---------------------------------------------------------

    def action(
        self,
        resource: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept_language: str | None = None,
        wait_for_completion: bool = True,
        caller: str | None = None,
    ) -> dict[str, Any]:
        """Run ``action`` on ``resource`` as ``openidm.action`` does; returns a dict."""
        handler = self.actions.get(resource, action)
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise InvalidParams("Action params must be an object", param="params")
        context = ActionContext(self, accept_language, bool(wait_for_completion), caller)
        return handler(dict(params), context)

    def request(self, verb: str, resource: str, *args: Any, **kwargs: Any) -> Any:
        """Any CREST verb: ``action`` dispatches; others are refused with 403.

        Scripts reach this through ``openidm.read(...)`` and friends; no built-in
        service offers anything but actions.
        """
        if verb == "action":
            return self.action(resource, *args, **kwargs)
        self.actions.actions(resource)  # 404 for an unknown resource first
        raise ForbiddenOperation(
            f"Operation {verb!r} is not supported on {resource}; use action", resource=resource, verb=verb
        )

    def close(self) -> None:
        """Stop outbox delivery, close every opened transport, then the script languages."""
        with self._lock:
            dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            dispatcher.close()
        with self._lock:
            transports, self._transports = self._transports, {}
        for transport in transports.values():
            transport.close()
        with self._scripting_lock:
            scripting = self._scripting
        if scripting is not None:
            scripting.close()  # the JavaScript sandbox processes

    def __enter__(self) -> "ActionHost":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default_host: ActionHost | None = None
_default_lock = threading.Lock()


def default_host() -> ActionHost:
    """The host behind module-level :func:`action`, built once on first use."""
    global _default_host
    with _default_lock:
        if _default_host is None:
            _default_host = ActionHost(default_config_source())
        return _default_host


def action(resource: str, action: str, params: Mapping[str, Any] | None = None, **context: Any) -> dict[str, Any]:
    """``openidm.action`` on the default host (``EMAILACTIONS_CONFIG``,
    ``./emailactions.toml`` or the console transport)."""
    return default_host().action(resource, action, params, **context)
