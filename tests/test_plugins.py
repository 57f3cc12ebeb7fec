"""The plugin manager: built-ins, one manager per process, hooks called through pluggy."""

from __future__ import annotations

import logging

import pytest

from emailactions import ActionHost, hookimpl
from emailactions import plugins
from emailactions.plugins import DEFAULT_PLUGINS, get_plugin_manager, list_plugins, shared_plugin_manager


def test_core_built_ins_hold_no_cli_or_server_module():
    assert DEFAULT_PLUGINS and not [n for n in DEFAULT_PLUGINS if n.startswith(("emailactions.cli", "emailactions.server"))]


def test_hosts_without_plugins_share_the_process_manager():
    first, second = ActionHost(load_entry_points=False), ActionHost(load_entry_points=False)
    assert first.plugin_manager is second.plugin_manager is shared_plugin_manager(load_entry_points=False)
    assert shared_plugin_manager(load_entry_points=True) is not first.plugin_manager  # one per loading choice


def test_a_host_with_plugins_gets_its_own_manager():
    class Extra:
        @hookimpl
        def register_actions(self, register):
            register("external/extra", "go", lambda p, c: {"went": True})

    host = ActionHost(load_entry_points=False, plugins=[Extra()])
    assert host.plugin_manager is not shared_plugin_manager(load_entry_points=False)
    assert host.action("external/extra", "go") == {"went": True}
    assert "external/extra" not in ActionHost(load_entry_points=False).actions.resources()  # it did not leak


def test_a_host_uses_the_manager_it_is_handed():
    pm = get_plugin_manager(load_entry_points=False)
    assert ActionHost(plugin_manager=pm).plugin_manager is pm
    with pytest.raises(TypeError, match="not both"):
        ActionHost(plugin_manager=pm, plugins=[object()])


def test_register_hooks_know_which_plugin_registers():
    class Named:
        __name__ = "named-plugin"

        @hookimpl
        def register_transports(self, register):
            register("x", object)

    pm = get_plugin_manager(load_entry_points=False, plugins=[Named()])
    seen = []
    pm.hook.register_transports(register=lambda name, cls, plugin="": seen.append((name, plugin)))
    assert ("x", "named-plugin") in seen and ("smtp", "emailactions.transports.smtp") in seen
    # pluggy's order: the last-registered first, trylast (the console fallback) at the end.
    assert seen[0] == ("x", "named-plugin") and seen[-1] == ("console", "emailactions.transports.console")


def test_observers_run_in_pluggys_order_isolated_and_old_style_wrappers_around_them(caplog):
    calls = []

    class Broken:
        __name__ = "broken"

        @hookimpl
        def message_queued(self, message, outbox_id):
            calls.append("broken")
            raise ValueError("bug")

    class Fine:
        __name__ = "fine"

        @hookimpl
        def message_queued(self, outbox_id):
            calls.append(f"fine {outbox_id}")

    class OldWrapper:
        __name__ = "old-wrapper"

        @hookimpl(hookwrapper=True)
        def message_queued(self, outbox_id):
            calls.append("around")
            outcome = yield
            calls.append(f"results {outcome.get_result()}")

    pm = get_plugin_manager(load_entry_points=False, plugins=[Fine(), Broken(), OldWrapper()])
    with caplog.at_level(logging.ERROR, logger="emailactions"):
        pm.notify("message_queued", message=None, outbox_id=7)
    assert calls == ["around", "broken", "fine 7", "results []"]
    assert "plugin broken raised in message_queued; ignored" in caplog.text


def test_a_failing_wrapper_is_logged_not_raised(caplog):
    class BadWrapper:
        @hookimpl(wrapper=True)
        def message_sent(self, message, result):
            yield
            raise RuntimeError("wrapper bug")

    pm = get_plugin_manager(load_entry_points=False, plugins=[BadWrapper()])
    with caplog.at_level(logging.ERROR, logger="emailactions"):
        pm.notify("message_sent", message=None, result=None)
    assert "a plugin raised in message_sent; ignored" in caplog.text


def test_entry_points_are_discovered_once_per_process():
    get_plugin_manager()
    before = plugins._entry_points.cache_info()
    get_plugin_manager()
    get_plugin_manager()
    after = plugins._entry_points.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 2


def test_allowlist_loads_only_the_named_entry_points(monkeypatch):
    monkeypatch.setenv(plugins.ALLOWLIST_ENV, "")
    pm = get_plugin_manager()
    assert {pm.get_name(p) for p in pm.get_plugins()} == set(DEFAULT_PLUGINS)


def test_list_plugins_marks_every_shipped_module_builtin():
    pm = get_plugin_manager(load_entry_points=False, builtins=(*DEFAULT_PLUGINS, "emailactions.cli.run"))

    class Outside:
        __name__ = "outside"

        @hookimpl
        def message_sent(self, message, result):
            pass

    pm.register(Outside())
    listed = {p["name"]: p for p in list_plugins(pm)}
    assert listed["emailactions.cli.run"]["builtin"] is True and listed["emailactions.cli.run"]["hooks"] == ["register_commands"]
    assert listed["outside"] == {"name": "outside", "version": None, "distribution": None, "builtin": False, "hooks": ["message_sent"]}
    assert list(listed)[-1] == "outside"  # built-ins first


@pytest.mark.parametrize("module", sorted(plugins.LAZY_BUILTINS))
def test_a_lazy_built_in_registers_what_its_module_would(module):
    """The stand-in's names and references are those the module's own hook registers."""
    import importlib

    hook, names = plugins.LAZY_BUILTINS[module]
    real, stood_in = [], []
    getattr(importlib.import_module(module), hook)(register=lambda name, value: real.append((name, value)))
    pm = get_plugin_manager(load_entry_points=False, builtins=[module])
    getattr(pm.hook, hook)(register=lambda name, value, plugin: stood_in.append((name, value, plugin)))
    assert [(name, getattr(importlib.import_module(ref.split(":")[0]), ref.split(":")[1])) for name, ref, _ in stood_in] == real
    assert {plugin for *_, plugin in stood_in} == {module} and len(real) == len(names)


def test_lazy_built_ins_are_listed_as_their_modules():
    pm = get_plugin_manager(load_entry_points=False)
    listed = {p["name"]: p for p in list_plugins(pm)}
    for module, (hook, _) in plugins.LAZY_BUILTINS.items():
        assert listed[module]["builtin"] and listed[module]["hooks"] == [hook]
