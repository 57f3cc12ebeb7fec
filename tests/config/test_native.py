"""Native config (``emailactions.toml`` or a mapping): every refusal names the full dotted key."""

from __future__ import annotations

import pytest

from emailactions import ConfigError
from emailactions.config import load_config

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




@pytest.mark.parametrize(
    "data, key, message",
    [
        ({"outbox": {"lease": 0}}, "outbox.lease", "Config key 'outbox.lease' must be at least 0.001"),
        ({"outbox": {"synchronous": "off"}}, "outbox.synchronous", "Config key 'outbox.synchronous' must be one of full, normal"),
        ({"outbox": {"backoff": 10, "backoff_max": 5}}, "outbox.backoff_max", None),
        ({"outbox": {"workers": True}}, "outbox.workers", "Config key 'outbox.workers' must be a number"),
        ({"rate_limits": {"templates": {"welcome": "lots"}}}, "rate_limits.templates.welcome", None),
        ({"rate_limits": {"strategy": "guess"}}, "rate_limits.strategy", None),
        ({"rate_limits": {"globl": "5 per day"}}, "rate_limits.globl", None),
        ({"email": {"limits": {"max_recipients": 0}}}, "email.limits.max_recipients", "Config key 'email.limits.max_recipients' must be positive"),
        ({"email": {"default_locale": 5}}, "email.default_locale", None),
        ({"groups": {"staff": "a@example.com"}}, "groups.staff", "Config key 'groups.staff' must be a list of addresses"),
    ],
)
def test_section_refusals_name_the_full_dotted_key(data, key, message):
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert info.value.key == key
    if message:
        assert info.value.message == message


def test_sections_read_their_values(tmp_path):
    path = tmp_path / "emailactions.toml"
    path.write_text('[outbox]\npath = "box.sqlite3"\nlease = 60\n[rate_limits]\nglobal = "100 per hour"\n'
                    '[rate_limits.templates]\nwelcome = "1 per day"\n')
    config = load_config(path)
    assert config.outbox.path == tmp_path / "box.sqlite3" and config.outbox.lease == 60.0
    assert config.rate_limits.global_ == "100 per hour" and config.rate_limits.templates == {"welcome": "1 per day"}
