"""Loading: defaults, paths that are not there, files that do not parse."""

from __future__ import annotations

import json

import pytest
from support import wait_for

from emailactions import ActionHost, ConfigError, InvalidParams
from emailactions.config.loader import load_config

def test_defaults_are_console():
    config = load_config(None)
    assert config.transport_options() == ("console", {})


def test_conf_folder_without_email_config_is_console(tmp_path):
    assert load_config(tmp_path).transport_options()[0] == "console"


def test_missing_path():
    with pytest.raises(ConfigError):
        load_config("/nonexistent/emailactions.toml")


def test_broken_toml_is_a_config_error(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("[email\n")
    with pytest.raises(ConfigError):
        ActionHost(path, load_entry_points=False)


# -- emailactions.toml beside IDM's files ------------------------------------

def idm_conf(tmp_path, native="", **idm):
    """An IDM conf folder: ``external.email.json`` (if ``idm``) and ``emailactions.toml`` (if ``native``)."""
    conf = tmp_path / "conf"
    conf.mkdir()
    if idm:
        (conf / "external.email.json").write_text(json.dumps(idm))
    if native:
        (conf / "emailactions.toml").write_text(native)
    return conf


def test_native_file_beside_idm_adds_outbox_limits_and_transports(tmp_path, smtp_server):
    archive = tmp_path / "archive"
    conf = idm_conf(tmp_path, f"""
[email]
default_locale = "fr"
[email.limits]
max_recipients = 3
[rate_limits]
enabled = false
[outbox]
path = "outbox.sqlite3"
backoff = 0.01
poll_interval = 0.02
[transports.archive]
backend = "file"
path = "{archive}"
[groups]
audit = ["audit@example.com"]
""", host="127.0.0.1", port=smtp_server.port, timeout=10000, **{"from": "IDM <openidm@example.com>"})
    with ActionHost(conf, load_entry_points=False) as host:
        config = host.config
        assert config.conf_dir == conf and config.sender == "IDM <openidm@example.com>"
        assert config.transport == "default" and config.transport_options()[0] == "smtp"
        assert config.outbox.path == conf / "outbox.sqlite3"  # relative to the conf folder
        assert (config.default_locale, config.limits.max_recipients, config.groups) == ("fr", 3, {"audit": ["audit@example.com"]})
        # Rate limits off: IDM's sendTemplate example has a fixed bcc, and IDM sends every one.
        for i in range(8):
            result = host.action("external/email", "send", {"to": f"user{i}@example.com", "bcc": "audit@example.com", "subject": "hi"})
            assert result["message"] == "Email sent"
        submitted = host.action("external/email", "send", {"to": "late@example.com", "subject": "later"}, wait_for_completion=False)
        assert submitted["message"] == "Email submitted" and (conf / "outbox.sqlite3").is_file()
        wait_for(lambda: len(smtp_server.messages) == 9)
        assert sum("audit@example.com" in m.rcpt_tos for m in smtp_server.messages) == 8
        assert host.transport("archive").path == archive  # the second transport, from emailactions.toml
        with pytest.raises(InvalidParams):  # [email.limits] from emailactions.toml applies
            host.action("external/email", "send", {"to": "a@example.com, b@example.com, c@example.com, d@example.com"})


def test_native_file_alone_in_a_conf_folder(tmp_path):
    conf = idm_conf(tmp_path, '[email]\nfrom = "a@example.com"\n[transports.default]\nbackend = "memory"\n')
    config = load_config(conf)
    assert config.transport_options() == ("memory", {}) and config.sender == "a@example.com" and config.conf_dir == conf


def test_native_from_fills_in_when_idm_has_none(tmp_path):
    config = load_config(idm_conf(tmp_path, '[email]\nfrom = "b@example.com"\n', host="h", **{"from": ""}))
    assert config.sender == "b@example.com" and config.transport_options()[0] == "smtp"


@pytest.mark.parametrize(
    "native, key",
    [
        ('[transports.default]\nbackend = "file"\npath = "out"\n', "transports.default"),
        ('[email]\nfrom = "other@example.com"\n', "email.from"),
        ('[email]\ntransport = "archive"\n[transports.archive]\nbackend = "memory"\n', "email.transport"),
    ],
)
def test_what_idm_defines_cannot_be_set_again(tmp_path, native, key):
    conf = idm_conf(tmp_path, native, host="h", **{"from": "idm@example.com"})
    with pytest.raises(ConfigError) as info:
        ActionHost(conf, load_entry_points=False)
    assert info.value.detail["key"] == key
    assert "emailactions.toml" in info.value.message and "external.email.json" in info.value.message


def test_conf_cannot_point_elsewhere(tmp_path):
    with pytest.raises(ConfigError, match="the conf folder is where it is") as info:
        load_config(idm_conf(tmp_path, '[email]\nconf = "elsewhere"\n'))
    assert info.value.detail["key"] == "email.conf"


def test_server_in_both_native_files_is_refused(tmp_path):
    conf = idm_conf(tmp_path, "[server]\nport = 9090\n")
    (conf / "emailactions-server.toml").write_text("[server]\nport = 9091\n")
    with pytest.raises(ConfigError, match="emailactions-server.toml") as info:
        load_config(conf)
    assert info.value.detail["key"] == "server"
    (conf / "emailactions.toml").write_text("[outbox]\npath = 'o.sqlite3'\n")  # each file its own sections
    config = load_config(conf)
    assert (config.server.port, config.outbox.path) == (9091, conf / "o.sqlite3")


def test_mistakes_in_the_native_file_name_their_key(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(idm_conf(tmp_path, "[rate_limits]\nenabeld = false\n", host="h"))
    assert info.value.detail["key"] == "rate_limits.enabeld"
