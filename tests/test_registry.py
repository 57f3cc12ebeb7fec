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
