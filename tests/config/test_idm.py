"""IDM's ``external.email.json``: mapped onto SMTP options; refusals name IDM's keys."""

from __future__ import annotations

import json

import pytest

from emailactions import ConfigError
from emailactions.config import load_config

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
        ({"host": "h", "type": "sendgrid"}, "type"),  # msgraph is supported: tests/transports/test_msgraph_config.py
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



def test_password_never_in_config_errors(tmp_path):
    conf = write_idm(tmp_path, host="h", auth={"enable": True, "username": "u", "password": "TopSecret99"}, port=True)
    with pytest.raises(ConfigError) as info:
        load_config(conf)
    assert "TopSecret99" not in str(info.value.to_dict())


def test_as_native_gives_the_default_transport_and_from():
    from emailactions.config.idm import as_native

    native = as_native({"host": "h", "from": "idm@example.com"})
    assert native["email"] == {"transport": "default", "from": "idm@example.com"}
    assert native["transports"]["default"]["backend"] == "smtp" and native["transports"]["default"]["host"] == "h"
    assert "from" not in as_native({"host": "h", "from": ""})["email"]  # IDM's empty from is none
    with pytest.raises(ConfigError) as info:
        as_native({"host": "h", "from": 42})
    assert info.value.detail["key"] == "from"


def test_idm_id_and_auth_type_are_accepted(tmp_path):
    conf = write_idm(tmp_path, _id="external.email", host="h", auth={"enable": True, "type": "basic", "username": "u", "password": "p"})
    _, options = load_config(conf).transport_options()
    assert options["username"] == "u" and options["password"] == "p"


@pytest.mark.parametrize(
    "data, key",
    [
        ({"_id": "emailTemplate/welcome", "host": "h"}, "_id"),
        ({"host": "h", "auth": {"enable": True, "type": "oauth2", "username": "u", "password": "p"}}, "auth.type"),
    ],
)
def test_idm_id_and_auth_type_are_checked(tmp_path, data, key):
    with pytest.raises(ConfigError) as info:
        load_config(write_idm(tmp_path, **data))
    assert info.value.key == key


def test_crypto_value_is_refused_with_what_to_do(tmp_path):
    crypto = {"$crypto": {"type": "x-simple-encryption", "value": {"cipher": "AES/CBC/PKCS5Padding", "data": "xyz"}}}
    with pytest.raises(ConfigError) as info:
        load_config(write_idm(tmp_path, host="h", auth={"enable": True, "username": "u", "password": crypto}))
    assert info.value.key == "auth.password"
    assert "environment variable" in info.value.message and "&{" in info.value.message


def test_property_substitution_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENIDM_SMTP_PASSWORD", "from-env")
    monkeypatch.setenv("smtp.host", "env.example.com")
    conf = write_idm(tmp_path, host="&{smtp.host}", port="&{smtp.port|2525}",
                     auth={"enable": True, "username": "u", "password": "&{openidm.smtp.password}"})  # fmt: skip
    _, options = load_config(conf).transport_options()
    assert options["host"] == "env.example.com" and options["port"] == 2525 and options["password"] == "from-env"


@pytest.mark.parametrize("where", ["resolver/boot.properties", "conf/boot/boot.properties"])
def test_property_substitution_from_boot_properties(tmp_path, where):
    conf = tmp_path / "conf"
    conf.mkdir()
    (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / where).write_text("# IDM boot properties\nopenidm.smtp.host = boot.example.com\nopenidm.smtp.tls=true\n")
    write_idm(conf, host="&{openidm.smtp.host}", starttls={"enable": "&{openidm.smtp.tls}"})
    _, options = load_config(conf).transport_options()
    assert options["host"] == "boot.example.com" and options["starttls"] is True


def test_environment_wins_over_boot_properties(tmp_path, monkeypatch):
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "boot.properties").write_text("openidm.smtp.host=boot.example.com\n")
    monkeypatch.setenv("OPENIDM_SMTP_HOST", "env.example.com")
    _, options = load_config(write_idm(tmp_path, host="&{openidm.smtp.host}")).transport_options()
    assert options["host"] == "env.example.com"


def test_missing_property_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write_idm(tmp_path, host="&{no.such.property}"))
    assert info.value.key == "no.such.property"
    assert "'no.such.property'" in info.value.message and "NO_SUCH_PROPERTY" in info.value.message


def test_starttls_required_false_is_the_idm_fallback(tmp_path):
    conf = write_idm(tmp_path, host="h", starttls={"enable": True}, smtpProperties=["mail.smtp.starttls.required=false"])
    _, options = load_config(conf).transport_options()
    assert options["starttls"] is True and options["starttls_required"] is False
    _, options = load_config(write_idm(tmp_path, host="h", starttls={"enable": True})).transport_options()
    assert "starttls_required" not in options  # required unless asked
