"""ActionHost: routes ``action(resource, action, params)`` to plugin services."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from emailactions.api import EmailMethods, in_thread
from emailactions.config import Config, default_config_source, load_config
from emailactions.delivery import pool
from emailactions.delivery.pool import TransportPool
from emailactions.errors import ForbiddenOperation, InvalidParams, TransportError
from emailactions.mime.message import Message
from emailactions.plugins import PluginManager, get_plugin_manager, shared_plugin_manager
from emailactions.registry import ActionRegistry, Registry
from emailactions.transports.base import BaseTransport, SendResult

if TYPE_CHECKING:  # pragma: no cover
    from emailactions.delivery.dispatcher import Dispatcher
    from emailactions.engines.base import TemplateEngine
    from emailactions.templates.service import Templates
    from emailactions.scripting import Scripting


@dataclass(frozen=True)
class ActionContext:
    """The request context a handler sees, as IDM's script context carries it."""

    host: "ActionHost"
    accept_language: str | None = None
    wait_for_completion: bool = True
    caller: str | None = None


class ActionHost(EmailMethods):
    """Holds a host's config, plugins and registries, and routes actions to services.

    ``config`` is a mapping, a TOML file path, an IDM ``conf/`` folder path,
    or ``None`` for the console transport; transport options are checked
    here, so a bad one fails now rather than at the first send.

    Besides :meth:`action`, Python callers have :meth:`send` and
    :meth:`send_template` with keyword arguments and a typed result, and
    ``asend``/``asend_template``/``aaction`` to await (see :mod:`emailactions.api`).

    Plugins: by default the process's shared manager
    (:func:`~emailactions.plugins.shared_plugin_manager`);
    ``load_entry_points=False`` keeps installed plugins out (as tests want).
    ``plugin_manager`` hands in a manager (the CLI does, so its commands and
    its host share one). ``plugins`` registers extra plugin objects or
    modules, as an embedding application or a test may, into a manager of
    this host's own: in the shared one they would reach every other host.
    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        load_entry_points: bool = True,
        plugins: Iterable[object] = (),
        plugin_manager: PluginManager | None = None,
    ) -> None:
        self.config = load_config(config)
        if pool.capturing() is not None:
            # Captured mail waits in memory, never in a file a real worker could deliver from later.
            self.config = replace(self.config, outbox=replace(self.config.outbox, path=None, backend=None))
        plugins = tuple(plugins)
        if plugin_manager is not None and plugins:
            raise TypeError("Give plugins or plugin_manager, not both")
        if plugin_manager is None:
            plugin_manager = (
                get_plugin_manager(load_entry_points=load_entry_points, plugins=plugins)
                if plugins
                else shared_plugin_manager(load_entry_points=load_entry_points)
            )
        self.plugin_manager = plugin_manager
        self.hook = plugin_manager.hook
        self.actions = ActionRegistry()
        self.transport_classes: Registry[type[BaseTransport]] = Registry("transport", base=BaseTransport)
        self.engine_classes: Registry[type[TemplateEngine]] = Registry("template engine", base="emailactions.engines.base:TemplateEngine")
        #: store name -> factory(config) -> TemplateStore
        self.template_stores: Registry[Callable[..., Any]] = Registry("template store")
        #: backend name -> factory(outbox settings) -> outbox
        self.outbox_backends: Registry[Callable[..., Any]] = Registry("outbox backend")
        self.hook.register_transports(register=self.transport_classes.add)
        self.hook.register_template_engines(register=self.engine_classes.add)
        self.hook.register_template_stores(register=self.template_stores.add)
        self.hook.register_outbox_backends(register=self.outbox_backends.add)
        self.hook.register_actions(register=self.actions.add, host=self)
        self.transports = TransportPool(self.transport_classes, self.config.transports, self.config.transport)
        self._lock = threading.Lock()
        self._templates: Templates | None = None
        self._scripting: Scripting | None = None
        self._scripting_lock = threading.Lock()
        self._templates_lock = threading.Lock()
        # Built on first use: the outbox and rate limits import sqlite3 and
        # `limits`, which a host that never sends need not pay for. Their
        # settings were already checked when the config loaded.
        self._dispatcher: Dispatcher | None = None
        # Mail left in an outbox file by an earlier run goes out without
        # waiting for the next send; an in-memory outbox starts on first submit.
        if (self.config.outbox.path is not None or self.config.outbox.url is not None) and self.config.outbox.autostart:
            self.dispatcher.start()

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
        """The opened transport for a config alias (the default one if None), or
        the capturing transport while :func:`capture` has set one."""
        return self.transports.get(alias)

    def deliver(self, message: Message, *, transport: str | None = None) -> SendResult:
        """Send one finished message now, notifying ``message_sent`` / ``send_failed``."""
        try:
            result = self.transports.send(message, transport)
        except TransportError as exc:
            self.notify("send_failed", message=message, error=exc)
            raise
        self.notify("message_sent", message=message, result=result)
        return result

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a notification hook through pluggy; a plugin that raises is logged, never fatal."""
        self.plugin_manager.notify(hook, **kwargs)

    @property
    def dispatcher(self) -> Dispatcher:
        """Rate limits, synchronous retries, the outbox and its worker (built on first use)."""
        dispatcher = self._dispatcher  # every send asks: no lock or import once built
        if dispatcher is not None:
            return dispatcher
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

    aaction = in_thread(action)

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
        self.transports.close()
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
def capture(transport: BaseTransport | None) -> BaseTransport | None:
    """Send every host's mail to ``transport`` (``None``: to their own again); returns the one it replaces.

    The pytest plugin's seam, as Django's test runner swaps ``EMAIL_BACKEND``: a
    test never delivers for real, whichever host its code builds. It also drops
    the default host, so the next :func:`action` reads its config afresh.
    """
    global _default_host
    with _default_lock:
        previous = pool.capture(transport)
        dropped, _default_host = _default_host, None
    if dropped is not None:
        dropped.close()
    return previous


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
