"""Config: TOML, IDM conf folders and mappings; unknown keys and wrong types refused."""

from __future__ import annotations

import json

import pytest

from emailactions import ActionHost, ConfigError
from emailactions.config.loader import load_config


def test_defaults_are_console():
    config = load_config(None)
    assert config.transport_options() == ("console", {})


def test_toml(tmp_path):
    path = tmp_path / "emailactions.toml"
    path.write_text(
        '[email]\nfrom = "IDM <openidm@example.com>"\ntransport = "relay"\nconf = "conf"\n'
        "[email.limits]\nmax_recipients = 10\n"
        '[transports.relay]\nbackend = "smtp"\nhost = "mail.example.com"\nport = 587\nstarttls = true\n'
    )
    config = load_config(path)
    assert config.sender == "IDM <openidm@example.com>"
    assert config.transport_options() == ("smtp", {"host": "mail.example.com", "port": 587, "starttls": True})
    assert config.limits.max_recipients == 10
    assert config.conf_dir == tmp_path / "conf"


@pytest.mark.parametrize(
    "data, key",
    [
        ({"emial": {}}, "emial"),
        ({"email": {"form": "x"}}, "email.form"),
        ({"email": {"from": 3}}, "email.from"),
        ({"email": {"limits": {"max_recipient": 3}}}, "email.limits.max_recipient"),
        ({"email": {"limits": {"max_recipients": "3"}}}, "email.limits.max_recipients"),
        ({"email": {"limits": {"max_recipients": 0}}}, "email.limits.max_recipients"),
        ({"email": {"transport": "other"}}, "email.transport"),
        ({"transports": {"x": {"host": "h"}}}, "transports.x.backend"),
        ({"transports": []}, "transports"),
    ],
)
def test_bad_native_config_names_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert info.value.key == key


def write_idm(tmp_path, **data):
    (tmp_path / "external.email.json").write_text(json.dumps(data))
    return tmp_path


def test_idm_conf_all_keys(tmp_path):
    conf = write_idm(
        tmp_path, host="smtp.example.com", port="587", **{"from": '"IDM" <idm@example.com>'},
        auth={"enable": True, "username": "u", "password": "p"}, starttls={"enable": True}, ssl={"enable": False},
        smtpProperties=["mail.smtp.ssl.protocols=TLSv1.3 TLSv1.2", "mail.smtp.localhost=idm.example.com"],
        threadPoolSize=5, connectiontimeout=1000, timeout=0, writetimeout=2000, debug=True,
    )
    config = load_config(conf)
    backend, options = config.transport_options()
    assert backend == "smtp" and config.sender == '"IDM" <idm@example.com>'
    assert options == {
        "host": "smtp.example.com", "port": 587, "starttls": True, "ssl": False, "username": "u", "password": "p",
        "connect_timeout": 1.0, "timeout": 2.0, "pool_size": 5, "debug": True,
        "min_tls_version": "TLSv1.2", "local_hostname": "idm.example.com",
    }
    assert config.conf_dir == conf


def test_idm_defaults(tmp_path):
    _, options = load_config(write_idm(tmp_path, host="h")).transport_options()
    assert options["port"] == 25 and options["timeout"] == 300.0 and options["pool_size"] == 20
    assert options["starttls"] is False and "username" not in options


@pytest.mark.parametrize(
    "data, key",
    [
        ({"host": "h", "hots": 1}, "hots"),
        ({"port": 25}, "host"),
        ({"host": "h", "port": "twenty"}, "port"),
        ({"host": "h", "type": "msgraph"}, "type"),
        ({"host": "h", "auth": {"enable": True, "username": "u", "password": {"$crypto": {}}}}, "auth.password"),
        ({"host": "h", "auth": {"enabled": True}}, "auth.enabled"),
        ({"host": "h", "starttls": {"enable": "yes"}}, "starttls.enable"),
        ({"host": "h", "smtpProperties": ["novalue"]}, "smtpProperties[0]"),
        ({"host": "h", "timeout": -5.5}, "timeout"),
        ({"host": "h", "threadPoolSize": "many"}, "threadPoolSize"),
    ],
)
def test_bad_idm_config_names_the_key(tmp_path, data, key):
    with pytest.raises(ConfigError) as info:
        load_config(write_idm(tmp_path, **data))
    assert info.value.key == key


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


def test_password_never_in_config_errors(tmp_path):
    conf = write_idm(tmp_path, host="h", auth={"enable": True, "username": "u", "password": "TopSecret99"}, port=True)
    with pytest.raises(ConfigError) as info:
        load_config(conf)
    assert "TopSecret99" not in str(info.value.to_dict())
