"""One registry rule for every kind of contribution: a name is taken once, by a plugin."""

from __future__ import annotations

import pytest

from emailactions import ConfigError, DuplicateRegistration, PluginError, UnknownAction, UnknownResource, UnknownTransport
from emailactions.registry import ActionRegistry, Registry
from emailactions.transports.base import BaseTransport
from emailactions.transports.memory import MemoryTransport


def test_a_registry_maps_names_to_value_and_plugin():
    registry: Registry[int] = Registry("outbox backend")
    registry.add("a", 1, "p1")
    registry.add("b", 2, "p2")
    registry.add("c", 3, "p1")
    assert registry["a"] == (1, "p1") and dict(registry) == {"a": (1, "p1"), "b": (2, "p2"), "c": (3, "p1")}
    assert registry.value("b") == 2 and registry.plugin("b") == "p2"
    assert registry.names_of("p1") == ["a", "c"] and registry.names_of("nobody") == []
    assert len(registry) == 3 and "a" in registry and "z" not in registry
    assert registry.pop("c") == (3, "p1") and "c" not in registry
    registry.add("c", 4, "p3")  # forgotten, so free again


def test_a_taken_name_raises_naming_both_plugins():
    registry: Registry[int] = Registry("script language")
    registry.add("python", 1, "builtin")
    with pytest.raises(DuplicateRegistration) as info:
        registry.add("python", 2, "other")
    assert info.value.message == "Script language 'python' is registered by 'builtin' and 'other'"
    assert info.value.detail == {"name": "python", "plugin": "other"}
    assert registry.value("python") == 1  # the first registration stands


def test_the_base_class_is_checked_when_registering():
    registry: Registry[type] = Registry("transport", base=BaseTransport)
    with pytest.raises(PluginError, match="Plugin 'p' registered transport 'x', which is not a BaseTransport"):
        registry.add("x", dict, "p")
    with pytest.raises(PluginError):
        registry.add("y", MemoryTransport(), "p")  # an instance, not a class
    registry.add("memory", MemoryTransport, "p")
    assert registry.value("memory") is MemoryTransport


def test_choose_names_the_config_key_and_what_is_known():
    registry: Registry[type] = Registry("transport")
    registry.add("smtp", MemoryTransport, "p")
    assert registry.choose("smtp", "transports.default.backend") is MemoryTransport
    with pytest.raises(ConfigError) as info:
        registry.choose("pigeon", "transports.default.backend")
    assert info.value.key == "transports.default.backend" and "'pigeon'" in info.value.message and "smtp" in info.value.message
    with pytest.raises(UnknownTransport) as info:
        registry.choose("pigeon", "transports.x.backend", error=UnknownTransport, transport="pigeon")
    assert info.value.detail["transport"] == "pigeon"


def test_actions_keep_their_messages_and_errors():
    actions = ActionRegistry()
    actions.add("/external/email/", "send", lambda p, c: {}, "email")
    actions.add("external/email", "preview", lambda p, c: {}, "email")
    actions.add("external/sms", "send", lambda p, c: {}, "sms")
    assert actions.resources() == ["external/email", "external/sms"]
    assert actions.actions("/external/email") == ["preview", "send"]
    assert actions.plugin("external/sms", "send") == "sms" and actions.owned_by("email") == ["external/email/preview", "external/email/send"]
    with pytest.raises(DuplicateRegistration) as info:
        actions.add("external/email", "send", lambda p, c: {}, "clash")
    assert info.value.message == "Action external/email/send is registered by 'email' and 'clash'"
    assert info.value.detail == {"resource": "external/email", "action": "send", "plugin": "clash"}
    with pytest.raises(UnknownResource):
        actions.get("external/nope", "send")
    with pytest.raises(UnknownAction) as info:
        actions.get("external/email", ["send"])  # not even a string
    assert info.value.valid == ["preview", "send"]


# Lazy references (issue 17): a name is taken at once, its module imported on first lookup.


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A module on sys.path that no test has imported yet."""
    import sys
    import uuid

    name = f"lazy_transport_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from emailactions.transports.memory import MemoryTransport\n"
        "class Lazy(MemoryTransport):\n    name = 'lazy'\n"
        "class NotATransport:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_lazy_reference_takes_its_name_and_imports_on_first_lookup(lazy_module):
    import sys

    registry: Registry[type[BaseTransport]] = Registry("transport", base="emailactions.transports.base:BaseTransport")
    registry.add("lazy", f"{lazy_module}:Lazy", "lazy-plugin")
    assert "lazy" in registry and list(registry) == ["lazy"] and registry.names_of("lazy-plugin") == ["lazy"]
    assert registry.plugin("lazy") == "lazy-plugin"
    assert lazy_module not in sys.modules  # listed, counted, owned: nothing imported
    cls = registry.choose("lazy", "transports.default.backend", error=UnknownTransport)
    assert cls.__name__ == "Lazy" and issubclass(cls, MemoryTransport) and lazy_module in sys.modules
    assert registry["lazy"] == (cls, "lazy-plugin") and registry.value("lazy") is cls
    with pytest.raises(DuplicateRegistration):
        registry.add("lazy", MemoryTransport, "other")


def test_a_lazy_reference_is_checked_when_it_loads_naming_the_plugin(lazy_module):
    registry: Registry[type[BaseTransport]] = Registry("transport", base=BaseTransport)
    registry.add("wrong", f"{lazy_module}:NotATransport", "p1")
    registry.add("missing", f"{lazy_module}:Nothing", "p2")
    registry.add("gone", "no_such_module_for_emailactions:Thing", "p3")
    for name, plugin in (("wrong", "p1"), ("missing", "p2"), ("gone", "p3")):
        with pytest.raises(PluginError) as info:
            registry.value(name)
        assert info.value.detail["plugin"] == plugin and repr(name) in info.value.message


@pytest.mark.parametrize("value", ["", "module", "module:", ":attr", "a b:c", "mod:attr.sub", "mod:1x"])
def test_a_string_that_is_no_reference_is_refused_at_registration(value):
    registry: Registry[type[BaseTransport]] = Registry("transport", base=BaseTransport)
    with pytest.raises(PluginError) as info:
        registry.add("x", value, "p")
    assert info.value.detail["plugin"] == "p" and "x" not in registry
