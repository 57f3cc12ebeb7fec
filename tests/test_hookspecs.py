"""Every hook is documented under its exact signature and has a test here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest

from emailactions import ActionHost, DuplicateRegistration, TransportError, hookimpl
from emailactions import hookspecs
from emailactions.transports.memory import MemoryTransport

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def _specs():
    return {name: fn for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "emailactions_spec")}


@pytest.mark.parametrize("name", sorted(_specs()))
def test_every_hook_is_documented_with_its_signature(name):
    fn = _specs()[name]
    args = ", ".join(inspect.signature(fn).parameters)
    headings = re.findall(r"^## (.+)$", DOCS.read_text(), re.M)
    assert f"{name}({args})" in headings
    assert fn.__doc__ and len(fn.__doc__) > 80


@pytest.mark.parametrize("name", sorted(_specs()))
def test_every_hook_has_a_test(name):
    assert f"test_hook_{name}" in globals() or any(
        f"def test_hook_{name}" in p.read_text() for p in Path(__file__).parent.rglob("test_*.py")
    )


class Plugin:
    __name__ = "test-plugin"  # pluggy's canonical name for the instance

    def __init__(self):
        self.sent, self.failed, self.queued, self.gave_up = [], [], [], []

    @hookimpl
    def register_actions(self, register):
        register("external/echo", "echo", lambda params, context: {"echo": params, "lang": context.accept_language})

    @hookimpl
    def register_transports(self, register):
        register("broken", BrokenTransport)

    @hookimpl
    def message_sent(self, message, result):
        self.sent.append((message.message_id, result.accepted))

    @hookimpl
    def send_failed(self, message, error):
        self.failed.append((message.message_id, error.kind))

    @hookimpl
    def message_queued(self, message, outbox_id):
        self.queued.append((message.message_id, outbox_id))

    @hookimpl
    def message_failed(self, message, outbox_id, error):
        self.gave_up.append((outbox_id, message.recipients, error.kind))


class BrokenTransport(MemoryTransport):
    name = "broken"

    def send(self, message):
        raise TransportError("always broken", transport=self.alias)


def host_with(plugin, config=None):
    config = config or {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}}
    return ActionHost(config, load_entry_points=False, plugins=[plugin])


def test_hook_register_actions():
    host = host_with(Plugin())
    assert host.action("external/echo", "echo", {"a": 1}, accept_language="fr") == {"echo": {"a": 1}, "lang": "fr"}
    assert host.actions.plugin("external/echo", "echo") == "test-plugin"


def test_hook_register_actions_collision_names_both_plugins():
    class Clash:
        __name__ = "test-plugin"

        @hookimpl
        def register_actions(self, register):
            register("external/email", "send", lambda p, c: {})

    with pytest.raises(DuplicateRegistration) as info:
        host_with(Clash())
    assert "emailactions.services.email" in info.value.message and "test-plugin" in info.value.message


def test_hook_register_transports():
    host = host_with(Plugin())
    assert host.transport_classes["broken"] == (BrokenTransport, "test-plugin")


def test_hook_register_transports_collision():
    class Clash:
        __name__ = "test-plugin"

        @hookimpl
        def register_transports(self, register):
            register("smtp", MemoryTransport)

    with pytest.raises(DuplicateRegistration) as info:
        host_with(Clash())
    assert "smtp" in info.value.message and "test-plugin" in info.value.message


def test_hook_message_sent():
    plugin = Plugin()
    host = host_with(plugin)
    result = host.action("external/email", "send", {"to": "b@example.com"})
    assert plugin.sent == [(result["messageId"], ["b@example.com"])]


def test_hook_send_failed():
    plugin = Plugin()
    host = host_with(plugin, {"email": {"from": "a@example.com", "transport": "broken"}, "transports": {"broken": {"backend": "broken"}},
                              "outbox": {"sync_deadline": 0}})
    with pytest.raises(TransportError):
        host.action("external/email", "send", {"to": "b@example.com"})
    assert plugin.failed and plugin.failed[0][1] == "transport_error"


def test_hook_message_queued():
    plugin = Plugin()
    host = host_with(plugin, {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}},
                              "outbox": {"autostart": False}})
    result = host.action("external/email", "send", {"to": "b@example.com"}, wait_for_completion=False)
    # Called once the row is committed, before the answer, with the id the answer carries.
    assert plugin.queued == [(result["messageId"], result["outboxId"])]
    assert host.dispatcher.outbox.get(result["outboxId"]).state == "queued"
    assert plugin.sent == []
    host.close()


def test_hook_message_failed():
    plugin = Plugin()
    host = host_with(plugin, {"email": {"from": "a@example.com", "transport": "broken"}, "transports": {"broken": {"backend": "broken"}},
                              "outbox": {"autostart": False, "max_attempts": 2, "backoff": 0.001, "backoff_max": 0.001}})
    result = host.action("external/email", "send", {"to": "b@example.com, c@example.com"}, wait_for_completion=False)
    outbox = host.dispatcher.outbox
    while outbox.get(result["outboxId"]).state != "failed":
        host.dispatcher.drain()  # what is due now; the retry falls due a moment later
    # send_failed for each attempt, message_failed once, naming who never got it.
    assert [kind for _, kind in plugin.failed] == ["transport_error", "transport_error"]
    assert plugin.gave_up == [(result["outboxId"], ("b@example.com", "c@example.com"), "transport_error")]
    assert host.dispatcher.outbox.get(result["outboxId"]).state == "failed"
    host.close()


def test_hook_register_commands(monkeypatch):
    from emailactions import plugins
    from emailactions.cli import root as cli_module

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello-test")
            def hello():
                click.echo("hello from a plugin")

    original = plugins.get_plugin_manager

    def patched(**kwargs):
        pm = original(**kwargs)
        pm.register(Commands())
        return pm

    monkeypatch.setattr(plugins, "get_plugin_manager", patched)
    with pytest.raises(SystemExit) as info:
        cli_module.main(["hello-test"])
    assert info.value.code == 0
    cli_module.cli.commands.pop("hello-test")


def test_misspelled_hook_is_an_error():
    from pluggy import PluginValidationError

    from emailactions.plugins import get_plugin_manager

    class Typo:
        @hookimpl
        def register_transport(self, register):  # missing "s"
            pass

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Typo())
    with pytest.raises(PluginValidationError):
        pm.check_pending()
