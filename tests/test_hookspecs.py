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


def test_hook_message_sent_wrapper_runs_around_the_others_and_a_raising_observer_is_isolated():
    calls = []

    class Raising:
        __name__ = "raising"

        @hookimpl
        def message_sent(self, message, result):
            calls.append("raising")
            raise RuntimeError("observer bug")

    class Wrapper:
        __name__ = "wrapper"

        @hookimpl(wrapper=True)
        def message_sent(self, message, result):
            calls.append("before")
            yield
            calls.append("after")

    class Later:
        __name__ = "later"

        @hookimpl
        def message_sent(self, message, result):
            calls.append("later")

    config = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}}
    # Registered first, so pluggy calls it last: "later" runs before "raising".
    host = ActionHost(config, load_entry_points=False, plugins=[Raising(), Wrapper(), Later()])
    result = host.action("external/email", "send", {"to": "b@example.com"})
    assert result["message"] == "Email sent"
    assert calls == ["before", "later", "raising", "after"]


def test_hook_register_template_stores(tmp_path):
    from emailactions import ConfigError
    from emailactions.templates.formats import from_dict
    from emailactions.templates.stores.folder import FolderStore
    from emailactions.templates.stores.memory import MemoryStore

    welcome = from_dict({"enabled": True, "from": "", "subject": {"en": "Hi {{object.name}}"}, "message": {"en": "Hello"}}, "welcome")

    class Fixed(MemoryStore):
        """A read-only store holding one template (a plugin's own storage)."""

        def _load(self, template_id):
            return welcome if template_id == "welcome" else None

        def _ids(self):
            return ["welcome"]

    class Stores:
        __name__ = "stores-plugin"

        @hookimpl
        def register_template_stores(self, register):
            register("fixed", lambda config: Fixed())

    config = {"email": {"from": "a@example.com"}, "templates": {"store": "fixed"}, "transports": {"default": {"backend": "memory"}}}
    host = ActionHost(config, load_entry_points=False, plugins=[Stores()])
    assert host.template_stores.plugin("fixed") == "stores-plugin"
    host.action("external/email", "sendTemplate", {"templateName": "welcome", "to": "b@example.com", "object": {"name": "Ann"}})
    assert host.transport().outbox[-1].parsed()["Subject"] == "Hi Ann"

    # Today's keys pick today's stores; [templates] store names one outright.
    (tmp_path / "native").mkdir()
    for data, expected in [
        ({}, (MemoryStore, None)),
        ({"email": {"conf": str(tmp_path)}}, (FolderStore, "idm")),
        ({"email": {"conf": str(tmp_path), "templates": str(tmp_path / "native")}}, (FolderStore, "native")),
        ({"email": {"conf": str(tmp_path)}, "templates": {"store": "memory"}}, (MemoryStore, None)),
    ]:
        store = ActionHost(data, load_entry_points=False).templates.store.backend  # behind the compile check
        assert (type(store), getattr(store, "layout", None)) == expected, data
    for data, key in [({"templates": {"store": "nosuch"}}, "templates.store"), ({"templates": {"store": "folder"}}, "email.templates")]:
        with pytest.raises(ConfigError) as info:
            ActionHost(data, load_entry_points=False).templates
        assert info.value.key == key


def test_hook_register_template_stores_collision():
    class Clash:
        __name__ = "test-plugin"

        @hookimpl
        def register_template_stores(self, register):
            register("memory", lambda config: None)

    with pytest.raises(DuplicateRegistration, match="Template store 'memory' is registered by") as info:
        host_with(Clash())
    assert "emailactions.templates.stores.builtins" in info.value.message and "test-plugin" in info.value.message


def test_hook_register_outbox_backends(tmp_path):
    from emailactions.delivery.outbox.sqlite import Outbox

    opened = []

    class Backends:
        __name__ = "outbox-plugin"

        @hookimpl
        def register_outbox_backends(self, register):
            def counting(settings):
                outbox = Outbox(None)
                opened.append(outbox)
                return outbox

            register("counting", counting)

    config = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}},
              "outbox": {"backend": "counting", "autostart": False}}
    host = ActionHost(config, load_entry_points=False, plugins=[Backends()])
    result = host.action("external/email", "send", {"to": "b@example.com"}, wait_for_completion=False)
    assert opened and opened[0].get(result["outboxId"]).state == "queued"
    host.close()

    # [outbox] path picks the SQLite file; none, memory.
    with ActionHost({"outbox": {"path": str(tmp_path / "o.sqlite3"), "autostart": False}}, load_entry_points=False) as host:
        assert host.dispatcher.outbox.durable and host.outbox_backends.plugin("sqlite") == "emailactions.delivery.outbox.backends"
    with ActionHost({"outbox": {"autostart": False}}, load_entry_points=False) as host:
        assert not host.dispatcher.outbox.durable


def test_hook_register_api_routes():
    import httpx

    from emailactions.server.app import Endpoint, Reply
    from support.server import start

    async def hello(call):
        return Reply(200, {"hello": call.query.get("name")})

    class Dialect:
        __name__ = "dialect-plugin"

        @hookimpl
        def register_api_routes(self, register):
            register(Endpoint("/api/hello", ("GET",), hello, public=True))

    host, server = start({"transports": {"default": {"backend": "memory"}}}, plugins=(Dialect(),))
    try:
        assert httpx.get(f"{server.url}/api/hello", params={"name": "Ann"}).json() == {"hello": "Ann"}
        assert httpx.get(f"{server.url}/openidm/info/ping").status_code == 200  # the built-in dialects are still there
    finally:
        server.stop()
        host.close()


def test_hook_register_api_routes_collision():
    from emailactions.server import create_app
    from emailactions.server.app import Endpoint

    class Clash:
        __name__ = "test-plugin"

        @hookimpl
        def register_api_routes(self, register):
            register(Endpoint("/openidm/info/ping", ("GET",), None))

    with pytest.raises(DuplicateRegistration, match="API route GET /openidm/info/ping is registered by") as info:
        create_app(host_with(Clash()))
    assert "emailactions.server.idm" in info.value.message and "test-plugin" in info.value.message


class Campaign:
    """Adds a header to every message, as a signing plugin would change it."""

    __name__ = "campaign-plugin"

    @hookimpl
    def prepare_message(self, message, host):
        from dataclasses import replace

        return replace(message, data=b"X-Campaign: spring\r\n" + message.data)


def test_hook_prepare_message(smtp_server, tmp_path):
    config = {"email": {"from": "a@example.com"},
              "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 10}},
              "outbox": {"path": str(tmp_path / "outbox.sqlite3"), "autostart": False}}  # fmt: skip
    with ActionHost(config, load_entry_points=False, plugins=[Campaign()]) as host:
        host.action("external/email", "send", {"to": "b@example.com", "subject": "now"})
        assert smtp_server.messages[-1].message["X-Campaign"] == "spring"
        # Queued mail is stored as it came out of the stage: every attempt sends those bytes.
        queued = host.action("external/email", "send", {"to": "b@example.com", "subject": "later"}, wait_for_completion=False)
        assert b"X-Campaign: spring\r\n" in host.dispatcher.outbox.get(queued["outboxId"], with_data=True).data
        host.dispatcher.drain()
        assert [m.message["X-Campaign"] for m in smtp_server.messages] == ["spring", "spring"]


def test_hook_prepare_message_is_a_pipeline_in_pluggys_order():
    from dataclasses import replace

    from emailactions import PluginError

    def stage(name):
        def prepare_message(message):
            # Each stage sees what the one before returned.
            return replace(message, data=f"X-Stage: {name}\r\n".encode() + message.data)

        return type(name, (), {"__name__": name, "prepare_message": staticmethod(hookimpl(prepare_message))})()

    class Keeps:
        __name__ = "keeps"

        @hookimpl
        def prepare_message(self, message, host):
            assert host is not None
            return None  # keeps the message as it is

    config = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}}
    # pluggy calls the last-registered first: "first", then Keeps, then "second".
    host = ActionHost(config, load_entry_points=False, plugins=[stage("second"), Keeps(), stage("first")])
    host.action("external/email", "send", {"to": "b@example.com"})
    assert host.transport().outbox[-1].parsed().get_all("X-Stage") == ["second", "first"]

    class Wraps:
        @hookimpl(wrapper=True)
        def prepare_message(self, message, host):
            return (yield)

    with pytest.raises(PluginError, match="pipeline"):
        host_with(Wraps())
