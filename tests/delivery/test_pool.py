"""TransportPool: transport options are refused when the host is built, naming the full key."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, ConfigError, PluginError, UnknownTransport, hookimpl
from emailactions.config.validate import check_options
from emailactions.transports.base import BaseTransport
from support.smtp_server import free_port


def host(**transports):
    return ActionHost({"email": {"from": "a@example.com", "transport": next(iter(transports))}, "transports": transports},
                      load_entry_points=False)  # fmt: skip


@pytest.mark.parametrize(
    "options, key",
    [
        ({"backend": "pigeon"}, "transports.relay.backend"),
        ({"backend": "smtp", "hots": "mail.example.com"}, "transports.relay.hots"),
        ({"backend": "file"}, "transports.relay.path"),
        ({"backend": "smtp", "port": "25"}, "transports.relay.port"),
        ({"backend": "smtp", "ssl": 1}, "transports.relay.ssl"),
        ({"backend": "smtp", "timeout": True}, "transports.relay.timeout"),
        ({"backend": "smtp", "username": ["u"]}, "transports.relay.username"),
        ({"backend": "file", "path": 3}, "transports.relay.path"),
    ],
)
def test_bad_options_are_refused_when_the_host_is_built(options, key):
    with pytest.raises(ConfigError) as info:
        host(relay=options)
    assert info.value.key == key


def test_an_unknown_backend_lists_the_installed_ones():
    with pytest.raises(UnknownTransport) as info:
        host(relay={"backend": "pigeon"})
    assert "'pigeon'" in info.value.message and "smtp" in info.value.message and info.value.detail["transport"] == "pigeon"


def test_every_alias_is_checked_not_only_the_default():
    with pytest.raises(ConfigError) as info:
        host(default={"backend": "memory"}, spare={"backend": "smtp", "port": "587"})
    assert info.value.key == "transports.spare.port"


def test_good_options_pass_and_transports_open_on_first_use(tmp_path):
    # Nothing listens on this port: building the host must not connect.
    relay = {"backend": "smtp", "host": "127.0.0.1", "port": free_port(), "timeout": 5, "connect_timeout": 1.5, "verify": False}
    h = host(relay=relay, out={"backend": "file", "path": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists()  # not opened yet
    assert h.transport("out") is h.transport("out")
    assert (tmp_path / "out").is_dir()
    h.close()
    with pytest.raises(ConfigError) as info:
        h.transport("nowhere")
    assert info.value.key == "transports.nowhere"


def test_check_options_reads_signatures_and_annotations():
    def factory(*, url: str, retries: int = 3, ratio: float = 1.0, mode: str | None = None, extra: object = None):
        return None

    check_options(factory, {"url": "http://x", "retries": 2, "ratio": 2, "mode": None, "extra": True}, "t.a")
    for options, key in [({}, "t.a.url"), ({"url": "u", "retries": 2.5}, "t.a.retries"), ({"url": "u", "ratio": "1"}, "t.a.ratio"),
                         ({"url": "u", "retries": False}, "t.a.retries"), ({"url": "u", "colour": 1}, "t.a.colour")]:  # fmt: skip
        with pytest.raises(ConfigError) as info:
            check_options(factory, options, "t.a")
        assert info.value.key == key


class _Flaky(BaseTransport):
    """A plugin transport whose constructor or send fails as buggy code does."""

    name = "flaky"

    def __init__(self, *, fail: str = "send", **options) -> None:
        if fail == "init":
            raise TypeError("__init__() got an unexpected keyword argument 'region'")
        super().__init__()
        self.fail = fail

    def send(self, message):
        raise KeyError("token")


class _FlakyPlugin:
    __name__ = "flaky-plugin"

    @hookimpl
    def register_transports(self, register):
        register("flaky", _Flaky)


def flaky_host(fail):
    return ActionHost({"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "flaky", "fail": fail}},
                       "outbox": {"sync_deadline": 0}, "rate_limits": {"enabled": False}},
                      load_entry_points=False, plugins=[_FlakyPlugin()])  # fmt: skip


def test_a_plugin_transports_constructor_error_is_a_plugin_error_naming_it(caplog):
    with flaky_host("init") as h, pytest.raises(PluginError) as info:
        h.action("external/email", "send", {"to": "b@example.com"})
    body = info.value.to_dict()
    assert body["code"] == 500 and body["detail"] == {"kind": "plugin_error", "plugin": "flaky-plugin", "transport": "default"}
    assert "TypeError" in body["message"] and "'region'" in body["message"]
    assert "Traceback" in caplog.text and "flaky-plugin" in caplog.text  # the host logs what the caller does not see


def test_a_plugin_transports_unexpected_send_error_is_a_plugin_error_naming_it(caplog):
    with flaky_host("send") as h, pytest.raises(PluginError) as info:
        h.action("external/email", "send", {"to": "b@example.com"})
    body = info.value.to_dict()
    assert body["code"] == 500 and body["message"] == "Transport 'default' of plugin 'flaky-plugin' failed: KeyError: 'token'"
    assert body["detail"] == {"kind": "plugin_error", "plugin": "flaky-plugin", "transport": "default"}
    assert isinstance(info.value.__cause__, KeyError) and "Traceback" in caplog.text


def test_a_transports_own_option_check_is_named_by_its_full_key(tmp_path):
    # Range and value checks a signature cannot express run when the transport is built.
    h = host(relay={"backend": "smtp", "host": "127.0.0.1", "port": 70000})
    with pytest.raises(ConfigError) as info:
        h.transport()
    assert info.value.key == "transports.relay.port" and "transports.relay.port" in info.value.message
    h.close()
