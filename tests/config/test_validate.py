"""The config validator: each refusal is a ``ConfigError`` naming the full dotted key."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, TextIO

import pytest

from emailactions import ConfigError
from emailactions.config import validate
from emailactions.transports.file import FileTransport
from emailactions.transports.smtp import SMTPTransport


def refused(check, *args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        check(*args, **kwargs)
    return info.value


def test_typed_refuses_a_boolean_where_a_number_goes():
    assert validate.typed(5, int, "a.b") == 5
    err = refused(validate.typed, True, (int, type(None)), "a.b")
    assert err.key == "a.b" and err.message == "Config key 'a.b' must be a number"
    assert refused(validate.typed, "5", int, "a.b").message == "Config key 'a.b' has the wrong type: str"
    assert validate.typed(True, (bool, int), "a.b") is True


def test_known_names_the_first_unknown_key_and_lists_the_known():
    err = refused(validate.known, {"port": 1, "hots": "h", "bad": 2}, {"host", "port"}, "server.")
    assert err.key == "server.bad" and err.message == "Unknown config key 'server.bad' (known: host, port)"


def test_table_checks_type_then_keys():
    assert refused(validate.table, [], {"x"}, "outbox").key == "outbox"
    assert refused(validate.table, {"y": 1}, {"x"}, "outbox").key == "outbox.y"


def test_section_applies_each_check_with_its_dotted_key():
    checks = {"workers": partial(validate.count, minimum=0), "lease": validate.seconds, "autostart": validate.flag}
    assert validate.section({"workers": 0, "lease": 2}, checks, "outbox") == {"workers": 0, "lease": 2.0}
    assert refused(validate.section, {"lease": -1}, checks, "outbox").key == "outbox.lease"
    assert refused(validate.section, {"autostart": "yes"}, checks, "outbox").key == "outbox.autostart"
    assert refused(validate.section, {"leese": 1}, checks, "outbox").key == "outbox.leese"


def test_count_bounds():
    assert refused(validate.count, 0, "email.x").message == "Config key 'email.x' must be at least 1"
    assert refused(validate.count, 70000, "server.port", minimum=0, maximum=65535).message == "Config key 'server.port' must be at most 65535"
    assert refused(validate.count, 1.5, "a").key == "a"


def test_seconds_take_ints_and_floats_but_not_booleans():
    assert validate.seconds(3, "a") == 3.0 and isinstance(validate.seconds(3, "a"), float)
    assert refused(validate.seconds, 0, "outbox.lease", minimum=0.001).key == "outbox.lease"
    assert refused(validate.seconds, False, "outbox.lease").message == "Config key 'outbox.lease' must be a number"


def test_choice():
    assert validate.choice("full", "outbox.synchronous", ("full", "normal")) == "full"
    err = refused(validate.choice, "off", "outbox.synchronous", ("full", "normal"))
    assert err.message == "Config key 'outbox.synchronous' must be one of full, normal"


def test_path_is_taken_from_the_config_files_folder(tmp_path):
    assert validate.path("box.db", "outbox.path", tmp_path) == tmp_path / "box.db"
    assert validate.path("/abs/box.db", "outbox.path", tmp_path) == Path("/abs/box.db")
    assert validate.path("box.db", "outbox.path", None) == Path("box.db")
    assert refused(validate.path, 3, "outbox.path", None).key == "outbox.path"


def test_locale_limit_string_and_storage():
    assert validate.locale("fr-ca", "email.default_locale") == "fr_CA"
    assert refused(validate.locale, "not a tag!", "email.default_locale").key == "email.default_locale"
    assert validate.limit_string("5 per minute", "k") == "5 per minute" and validate.limit_string("", "k") is None
    assert refused(validate.limit_string, "lots", "rate_limits.sender").key == "rate_limits.sender"
    assert refused(validate.storage_uri, "mongo-ish://x", "rate_limits.storage").key == "rate_limits.storage"


# -- check_options: keyword options against a factory's signature ----------


def test_check_options_accepts_what_the_smtp_transport_takes():
    validate.check_options(SMTPTransport, {"host": "h", "port": 587, "timeout": 30, "ca_file": None}, "transports.relay")


@pytest.mark.parametrize(
    "options, key, message",
    [
        ({"hots": "h"}, "transports.relay.hots", "Unknown config key 'transports.relay.hots'"),
        ({"port": "587"}, "transports.relay.port", "Config key 'transports.relay.port' has the wrong type: str"),
        ({"port": True}, "transports.relay.port", "Config key 'transports.relay.port' must be a number"),
        ({"timeout": "30"}, "transports.relay.timeout", "has the wrong type: str"),
        ({"starttls": 1}, "transports.relay.starttls", "has the wrong type: int"),
        ({"username": 7}, "transports.relay.username", "has the wrong type: int"),
    ],
)
def test_check_options_refusals_name_the_dotted_option(options, key, message):
    err = refused(validate.check_options, SMTPTransport, options, "transports.relay")
    assert err.key == key and message in err.message


def test_check_options_missing_required_option():
    err = refused(validate.check_options, FileTransport, {}, "transports.files")
    assert err.key == "transports.files.path" and err.message == "Config key 'transports.files.path' is required"
    validate.check_options(FileTransport, {"path": "mail"}, "transports.files")


def test_check_options_leaves_alone_what_a_config_file_cannot_say():
    def factory(*, stream: TextIO | None = None, anything: Any = None, bare=None, **extra: Any) -> None: ...

    validate.check_options(factory, {"stream": object(), "anything": 1, "bare": "x", "other": 2}, "t")


def test_check_options_without_kwargs_refuses_unknown_names():
    def factory(*, size: int = 1, names: list[str] | None = None) -> None: ...

    validate.check_options(factory, {"size": 2, "names": ["a"]}, "t")
    assert refused(validate.check_options, factory, {"names": "a"}, "t").key == "t.names"
    assert refused(validate.check_options, factory, {"sise": 2}, "t").key == "t.sise"
