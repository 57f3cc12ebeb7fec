"""Build the plugin manager: hookspecs, built-in plugins, then installed ones."""

from __future__ import annotations

import importlib
import os
from typing import Any

import pluggy

from emailactions import hookspecs

#: Built-ins register through the same hooks as third-party plugins.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "emailactions.services.email",
    "emailactions.services.groups",
    "emailactions.services.outbox",
    "emailactions.cli.outbox",
    "emailactions.locales.tags",
    "emailactions.engines.handlebars",
    "emailactions.engines.jinja",
    "emailactions.cli.templates",
    "emailactions.cli.server",
    "emailactions.scripting.python",
    "emailactions.scripting.javascript",
    "emailactions.cli.run",
    "emailactions.transports.console",
    "emailactions.transports.file",
    "emailactions.transports.memory",
    "emailactions.transports.smtp",
)

#: Comma-separated allowlist of entry-point names to load; unset loads all.
ALLOWLIST_ENV = "EMAILACTIONS_LOAD_PLUGINS"


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh manager with the built-ins and (optionally) installed plugins."""
    pm = pluggy.PluginManager("emailactions")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entry_points:
        allow = os.environ.get(ALLOWLIST_ENV)
        if allow is None:
            pm.load_setuptools_entrypoints("emailactions")
        else:
            for name in filter(None, (n.strip() for n in allow.split(","))):
                pm.load_setuptools_entrypoints("emailactions", name=name)
    # A misspelled hook in any plugin is an error, not a silent no-op.
    pm.check_pending()
    return pm


def list_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Name, version (for installed distributions) and hooks of each plugin."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        dist = dists.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        out.append(
            {
                "name": name,
                "version": dist.version if dist else None,
                "distribution": dist.project_name if dist else None,
                "builtin": name in DEFAULT_PLUGINS,
                "hooks": hooks,
            }
        )
    return sorted(out, key=lambda p: (not p["builtin"], p["name"]))
