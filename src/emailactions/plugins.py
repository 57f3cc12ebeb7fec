"""The plugin manager: hookspecs, built-in plugins, then installed ones.

Hooks are always called through pluggy, in pluggy's order: the
last-registered implementation first, ``tryfirst`` / ``trylast`` aside, with
wrappers around the rest. What emailactions adds is done once, when a plugin
registers (:class:`PluginManager`).
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Iterable

import pluggy

from emailactions import hookspecs
from emailactions.errors import PluginError

if TYPE_CHECKING:  # pragma: no cover
    import importlib.metadata

#: Built-ins register through the same hooks as third-party plugins. The CLI
#: and the REST server register their own modules into the manager they use.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "emailactions.services.email",
    "emailactions.services.groups",
    "emailactions.services.outbox",
    "emailactions.locales.tags",
    "emailactions.engines.handlebars",
    "emailactions.engines.jinja",
    "emailactions.engines.freemarker",
    "emailactions.templates.stores.builtins",
    "emailactions.delivery.outbox.backends",
    "emailactions.scripting.python",
    "emailactions.scripting.javascript",
    "emailactions.transports.console",
    "emailactions.transports.file",
    "emailactions.transports.memory",
    "emailactions.transports.smtp",
    "emailactions.transports.msgraph",
    "emailactions.mime.dkim",
)

#: Built-ins whose one hook only registers names: ``module -> (hook, ((name,
#: attribute), ...))``. A stand-in registers each name as a lazy
#: ``"module:attribute"`` reference under the module's own plugin name (so
#: ``emailactions plugins`` lists the same), and the module loads on first use:
#: a cold send imports one transport, no engine and no script language.
#: tests/test_plugins.py checks each entry against the module's own hook.
LAZY_BUILTINS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "emailactions.engines.handlebars": ("register_template_engines", (("handlebars", "HandlebarsEngine"),)),
    "emailactions.engines.jinja": ("register_template_engines", (("jinja2", "JinjaEngine"),)),
    "emailactions.engines.freemarker": ("register_template_engines", (("freemarker", "FreeMarkerEngine"),)),
    "emailactions.scripting.python": ("register_script_languages", (("python", "PythonLanguage"),)),
    "emailactions.scripting.javascript": ("register_script_languages", (("javascript", "JavaScriptLanguage"),)),
    "emailactions.transports.console": ("register_transports", (("console", "ConsoleTransport"),)),
    "emailactions.transports.file": ("register_transports", (("file", "FileTransport"),)),
    "emailactions.transports.memory": ("register_transports", (("memory", "MemoryTransport"),)),
    "emailactions.transports.smtp": ("register_transports", (("smtp", "SMTPTransport"),)),
    "emailactions.transports.msgraph": ("register_transports", (("msgraph", "MSGraphTransport"),)),
}

#: The entry-point group (and pluggy project name) plugins are found by.
GROUP = "emailactions"
#: Comma-separated allowlist of entry-point names to load; unset loads all.
ALLOWLIST_ENV = "EMAILACTIONS_LOAD_PLUGINS"
#: Notification hooks: each ordinary implementation runs isolated.
OBSERVERS = frozenset({"message_sent", "send_failed", "message_queued", "message_failed"})
#: Pipeline hooks, and the argument each implementation may replace.
PIPELINES = {"prepare_message": "message"}

log = logging.getLogger("emailactions")


class PluginManager(pluggy.PluginManager):
    """pluggy's manager for ``emailactions``, adapting implementations as they register.

    - A ``register_*(register)`` implementation gets a ``register`` that knows
      its plugin's name, so a collision names both plugins while the hook is
      still called through pluggy.
    - An observer (:data:`OBSERVERS`) that raises is logged and the others
      still run: by then the mail is sent or failed, and an observer's bug
      must not turn a delivered message into an error that the outbox would
      deliver again. Wrappers (``wrapper=True``, ``hookwrapper=True``) run
      around the others, unadapted.
    """

    def __init__(self) -> None:
        super().__init__(GROUP)
        self.add_hookspecs(hookspecs)
        #: Names of the plugins that ship with emailactions.
        self.builtins: set[str] = set()
        #: Plugin name -> the distribution its entry point came from.
        self.distributions: dict[str, importlib.metadata.Distribution] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` as pluggy does, then adapt its implementations (see the class)."""
        name = super().register(plugin, name)
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    self._adapt(plugin, caller, impl)
        return name

    def _adapt(self, plugin: object, caller: pluggy.HookCaller, impl: pluggy.HookImpl) -> None:
        if impl.wrapper or impl.hookwrapper:
            if caller.name in PIPELINES:
                self.unregister(plugin)
                raise PluginError(f"Plugin {impl.plugin_name!r} wraps {caller.name}, a pipeline: return a value instead", plugin=impl.plugin_name)
            return
        function = impl.function
        if caller.name in OBSERVERS:

            @functools.wraps(function)
            def isolated(*args: Any) -> Any:
                try:
                    return function(*args)
                except Exception:  # noqa: BLE001 - plugin boundary, see the class docstring
                    log.exception("plugin %s raised in %s; ignored", impl.plugin_name, caller.name)
                    return None

            impl.function = isolated
        elif caller.spec is not None and "register" in caller.spec.argnames and "register" in impl.argnames:
            at = impl.argnames.index("register")

            @functools.wraps(function)
            def bound(*args: Any) -> Any:
                args = (*args[:at], functools.partial(args[at], plugin=impl.plugin_name), *args[at + 1 :])
                return function(*args)

            impl.function = bound

    def register_builtins(self, names: Iterable[str]) -> None:
        """Register built-in plugin modules by name (once each): imported, or
        for :data:`LAZY_BUILTINS` a stand-in that imports nothing."""
        for name in names:
            if not self.has_plugin(name):
                self.register(_stand_in(name, *LAZY_BUILTINS[name]) if name in LAZY_BUILTINS else importlib.import_module(name), name=name)
            self.builtins.add(name)

    def load_installed(self) -> None:
        """Register the ``emailactions`` entry points (only those in ``EMAILACTIONS_LOAD_PLUGINS`` if set)."""
        allow = os.environ.get(ALLOWLIST_ENV)
        allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
        if allowed is not None and not allowed:
            return  # an empty allowlist: nothing to look up
        for ep in _entry_points():
            if (allowed is not None and ep.name not in allowed) or self.has_plugin(ep.name) or self.is_blocked(ep.name):
                continue
            self.register(ep.load(), name=ep.name)
            if ep.dist is not None:
                self.distributions[ep.name] = ep.dist

    def notify(self, name: str, **kwargs: Any) -> None:
        """Call an observer hook; a failing wrapper is logged too, never raised."""
        try:
            getattr(self.hook, name)(**kwargs)
        except Exception:  # noqa: BLE001 - a wrapper cannot be isolated from what it wraps
            log.exception("a plugin raised in %s; ignored", name)

    def pipeline(self, name: str, **kwargs: Any) -> Any:
        """Call a pipeline hook: each implementation, in pluggy's order, gets what
        the one before returned (``None`` keeps it); returns the last value."""
        arg = PIPELINES[name]
        # The one place implementations are walked by hand: pluggy gives every
        # implementation the caller's arguments, a pipeline the previous result.
        # get_hookimpls() is in registration order (tryfirst last, trylast
        # first); pluggy calls from the end of it, and so does this loop.
        for impl in reversed(getattr(self.hook, name).get_hookimpls()):
            out = impl.function(*(kwargs[a] for a in impl.argnames))
            if out is not None:
                kwargs[arg] = out
        return kwargs[arg]


class _StandIn:
    """A built-in plugin module not imported yet (see :data:`LAZY_BUILTINS`)."""

    def __init__(self, module: str) -> None:
        self.module = module

    def __repr__(self) -> str:
        return f"<stand-in for {self.module}>"


def _stand_in(module: str, hook: str, names: tuple[tuple[str, str], ...]) -> _StandIn:
    """A plugin with ``module``'s one hook, registering ``module:attribute`` references."""

    def register_names(register: Any) -> None:
        for name, attribute in names:
            register(name, f"{module}:{attribute}")

    plugin = _StandIn(module)
    setattr(plugin, hook, hookspecs.hookimpl(register_names))
    return plugin


@functools.lru_cache(maxsize=1)
def _entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    """The group's entry points, discovered once per process (reading every
    distribution's metadata costs milliseconds; hosts may be many)."""
    import importlib.metadata  # ~30 ms: only hosts that load installed plugins pay for it

    return tuple(importlib.metadata.entry_points(group=GROUP))


def get_plugin_manager(
    *, load_entry_points: bool = True, builtins: Iterable[str] = DEFAULT_PLUGINS, plugins: Iterable[object] = ()
) -> PluginManager:
    """A fresh manager: ``builtins`` (module names), installed plugins, then ``plugins``."""
    pm = PluginManager()
    pm.register_builtins(builtins)
    if load_entry_points:
        pm.load_installed()
    for plugin in plugins:
        pm.register(plugin)
    # A misspelled hook in any plugin is an error, not a silent no-op.
    pm.check_pending()
    return pm


_shared: dict[tuple[bool, str | None], PluginManager] = {}
_shared_lock = threading.Lock()


def shared_plugin_manager(*, load_entry_points: bool = True) -> PluginManager:
    """The process's manager for hosts that bring no plugins or manager of their own.

    Built on first use (never at import), one per loading choice, so installed
    plugins are imported and registered once however many hosts there are.
    """
    key = (load_entry_points, os.environ.get(ALLOWLIST_ENV) if load_entry_points else None)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = get_plugin_manager(load_entry_points=load_entry_points)
        return _shared[key]


def list_plugins(pm: PluginManager) -> list[dict[str, Any]]:
    """Name, version (for installed distributions) and hooks of each plugin."""
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        dist = pm.distributions.get(name)
        out.append(
            {
                "name": name,
                "version": dist.version if dist else None,
                "distribution": dist.metadata["Name"] if dist else None,
                "builtin": name in pm.builtins,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or ()),
            }
        )
    return sorted(out, key=lambda p: (not p["builtin"], p["name"]))
