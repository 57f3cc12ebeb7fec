"""Rate limits: a password-reset flood is cut off; windows move with a controllable clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import time_machine
import pytest

from emailactions import ActionHost, ConfigError, RateLimited
from emailactions.mime.compose import compose
from emailactions.mime.message import MessageInfo
from emailactions.config import DEFAULT_RECIPIENT_LIMIT, RateLimitConfig, from_mapping
from emailactions.config.server import SERVER_RECIPIENT_LIMIT
from emailactions.delivery.ratelimit import applying, build, normalize_address
from emailactions.params.send import parse_send

START = 1_900_000_000.0  # a fixed instant, so windows line up the same on every run
#: The REST server's default per-recipient limit, set here in-process (where the default is none).
RESET_LIMIT = {"recipient": SERVER_RECIPIENT_LIMIT}


def make_host(rate_limits=None, outbox=None) -> ActionHost:
    config = {"email": {"from": "IDM <openidm@example.com>"}, "transports": {"default": {"backend": "memory"}}}
    if rate_limits is not None:
        config["rate_limits"] = rate_limits
    config["outbox"] = outbox or {"autostart": False}
    return ActionHost(config, load_entry_points=False)


def reset_password(host, to="victim@example.com", wait=True):
    params = {"to": to, "subject": "Reset your password", "body": "Follow this link..."}
    return host.action("external/email", "send", params, wait_for_completion=wait)


def flood(host, count, **kwargs):
    """Send ``count`` times; return (sent, the 429s)."""
    sent, refused = 0, []
    for _ in range(count):
        try:
            reset_password(host, **kwargs)
            sent += 1
        except RateLimited as exc:
            refused.append(exc)
    return sent, refused


def test_password_reset_flood_to_one_address_is_cut_off_by_the_reset_limit():
    # The limit [server] recipient_limit applies by default, set in [rate_limits].
    with time_machine.travel(START, tick=False), make_host(RESET_LIMIT) as host:
        sent, refused = flood(host, 50)
        assert sent == 5 and len(refused) == 45
        assert len(host.transport().outbox) == 5
        error = refused[0].to_dict()
        assert error["code"] == 429 and error["reason"] == "Too Many Requests"
        assert error["detail"]["scope"] == "recipient" and error["detail"]["key"] == "victim@example.com"
        assert error["detail"]["limit"] == "5 per 15 minutes"
        assert error["detail"]["retry_after"] == 15 * 60 + 1  # strictly after the window moves
        # Someone else is not affected by the victim's flood.
        reset_password(host, to="other@example.com")


def test_case_variants_share_one_counter():
    with time_machine.travel(START, tick=False), make_host({"recipient": "2 per hour"}) as host:
        reset_password(host, to="Victim@Example.com")
        reset_password(host, to="VICTIM@example.COM")
        with pytest.raises(RateLimited):
            reset_password(host, to="victim@example.com")


@pytest.mark.parametrize(
    "address, key",
    [
        ("Victim@Example.COM.", "victim@example.com"),
        ("a@b\u00fccher.de", "a@xn--bcher-kva.de"),
        ("a@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
        (" a@example.com ", "a@example.com"),
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_normalize_address(address, key):
    assert normalize_address(address) == key


def test_windows_move_with_the_clock():
    with time_machine.travel(START, tick=False) as clock, make_host(RESET_LIMIT) as host:
        assert flood(host, 6)[0] == 5
        clock.shift(14 * 60)  # still inside the 15 minutes
        [error] = flood(host, 1)[1]
        assert 0 < error.retry_after <= 61
        clock.shift(error.retry_after)
        assert flood(host, 6)[0] == 5  # the first five have left the window
        # The daily limit (40) holds however patient the sender is.
        total = 10
        for _ in range(10):
            clock.shift(16 * 60)
            total += flood(host, 5)[0]
        assert total == 40
        [error] = flood(host, 1)[1]
        assert error.detail["limit"] == "40 per day" and error.retry_after > 15 * 60


def test_submitted_over_the_limit_is_refused_by_default_and_nothing_is_stored():
    with time_machine.travel(START, tick=False), make_host({"recipient": "1 per hour"}) as host:
        reset_password(host, wait=False)
        with pytest.raises(RateLimited) as info:
            reset_password(host, wait=False)
        assert info.value.retry_after == 3601
        assert host.dispatcher.outbox.counts()["queued"] == 1


def test_submitted_over_the_limit_can_be_deferred_until_the_window_frees():
    with time_machine.travel(START, tick=False) as clock:
        host = make_host({"recipient": "1 per hour", "on_limit": "defer"})
        first = reset_password(host, wait=False)
        second = reset_password(host, wait=False)
        assert "deferred" not in first
        assert second["deferred"] == {"reason": "rate_limited", "retryAfter": 3601.0}
        outbox = host.dispatcher.outbox
        assert outbox.get(second["outboxId"]).rate_check
        assert host.dispatcher.drain() == {"sent": 1, "failed": 0, "retrying": 0, "deferred": 0}
        clock.shift(3601)
        # A third one arrives as the window frees: it is counted now, so the
        # deferred one finds the window full again and waits another hour.
        third = reset_password(host, wait=False)
        assert "deferred" not in third
        tally = host.dispatcher.drain()
        assert tally == {"sent": 1, "failed": 0, "retrying": 0, "deferred": 1}
        entry = outbox.get(second["outboxId"])
        assert entry.state == "queued" and entry.attempts == 0 and entry.last_error["code"] == 429
        clock.shift(3601)
        assert host.dispatcher.drain()["sent"] == 1
        assert [m.message_id for m in host.transport().outbox] == [first["messageId"], third["messageId"], second["messageId"]]
        host.close()


def test_deferred_past_max_age_fails():
    with time_machine.travel(START, tick=False) as clock:
        host = make_host({"recipient": "1 per hour", "on_limit": "defer"}, {"autostart": False, "max_age": 5000})
        reset_password(host, wait=False)
        second = reset_password(host, wait=False)
        clock.shift(3601)
        # Another sender takes the freed slot first: the next one is past max_age.
        host.dispatcher.limiter.acquire(compose(parse_send({"to": "victim@example.com"}, default_from="a@example.com")))
        host.dispatcher.drain()
        entry = host.dispatcher.outbox.get(second["outboxId"])
        assert entry.state == "failed" and entry.refused["victim@example.com"][0] == 429
        host.close()


def test_deferral_longer_than_max_age_is_refused_at_once():
    with time_machine.travel(START, tick=False):
        host = make_host({"recipient": "1 per hour", "on_limit": "defer"}, {"autostart": False, "max_age": 1800})
        reset_password(host, wait=False)
        with pytest.raises(RateLimited):
            reset_password(host, wait=False)  # could never be sent in time: say so now
        assert host.dispatcher.outbox.counts()["queued"] == 1
        host.close()


def message(sender="openidm@example.com", to="user@example.com", template=None):
    msg = compose(parse_send({"from": sender, "to": to, "subject": "x"}))
    if template is not None:
        from dataclasses import replace

        msg = replace(msg, info=MessageInfo(template=template))
    return msg


def test_sender_template_and_global_limits():
    limits = {"recipient": "", "sender": "3 per minute", "template": "2 per minute",
              "templates": {"welcome": "4 per minute"}, "global": "8 per minute"}  # fmt: skip
    with time_machine.travel(START, tick=False) as clock, make_host(limits) as host:
        send = host.dispatcher.send
        for n in range(3):
            send(message(to=f"u{n}@example.com"))
        with pytest.raises(RateLimited) as info:
            send(message(to="u9@example.com"))
        assert info.value.scope == "sender" and info.value.key == "openidm@example.com"

        clock.shift(61)
        for n in range(2):
            send(message(sender=f"s{n}@example.com"), template="resetPassword")
        with pytest.raises(RateLimited) as info:
            send(message(sender="s9@example.com"), template="resetPassword")
        assert info.value.scope == "template" and info.value.key == "resetPassword"
        # "welcome" has its own, larger limit; templates each count apart.
        for n in range(4):
            send(message(sender=f"w{n}@example.com"), template="welcome")
        with pytest.raises(RateLimited) as info:
            send(message(sender="w9@example.com"), template="welcome")
        assert info.value.limit == "4 per minute"

        # 2 + 4 sent this minute, so the global limit of 8 leaves 2.
        send(message(sender="g1@example.com"))
        send(message(sender="g2@example.com"))
        with pytest.raises(RateLimited) as info:
            send(message(sender="g3@example.com"))
        assert info.value.scope == "global"


def test_template_name_from_message_meta_through_the_email_service():
    with time_machine.travel(START, tick=False), make_host({"recipient": "", "template": "1 per hour"}) as host:
        service = host.actions.get("external/email", "send").__self__
        service.dispatch(message(template="resetPassword"), True)
        with pytest.raises(RateLimited):
            service.dispatch(message(to="x@example.com", template="resetPassword"), True)
        service.dispatch(message(to="x@example.com"), True, template="other")  # a parameter wins over meta


def test_a_refused_message_consumes_nothing():
    with time_machine.travel(START, tick=False), make_host({"recipient": "1 per hour", "sender": "2 per hour"}) as host:
        reset_password(host, to="a@example.com")
        with pytest.raises(RateLimited):
            reset_password(host, to="a@example.com")  # recipient over: the sender count is left alone
        reset_password(host, to="b@example.com")
        with pytest.raises(RateLimited) as info:
            reset_password(host, to="c@example.com")
        assert info.value.scope == "sender"


@pytest.mark.parametrize("strategy", ["fixed-window", "sliding-window-counter", "moving-window"])
def test_every_strategy_cuts_off(strategy):
    with time_machine.travel(START, tick=False), make_host({"recipient": "3 per hour", "strategy": strategy}) as host:
        assert flood(host, 10)[0] == 3


def test_rate_limit_config():
    assert from_mapping({}).rate_limits.recipient == DEFAULT_RECIPIENT_LIMIT
    config = from_mapping({"rate_limits": {"recipient": "", "global": "100/minute", "on_limit": "defer"}})
    assert config.rate_limits.recipient is None and config.rate_limits.global_ == "100/minute"
    assert make_host({"enabled": False}).dispatcher.limiter is None
    assert make_host({"recipient": ""}).dispatcher.limiter is None
    for bad, key in [
        ({"recipient": "five per day"}, "rate_limits.recipient"),
        ({"templates": {"welcome": "lots"}}, "rate_limits.templates.welcome"),
        ({"on_limit": "drop"}, "rate_limits.on_limit"),
        ({"strategy": "leaky"}, "rate_limits.strategy"),
        ({"enabled": "yes"}, "rate_limits.enabled"),
        ({"per_ip": "1/second"}, "rate_limits.per_ip"),
    ]:
        with pytest.raises(ConfigError) as info:
            from_mapping({"rate_limits": bad})
        assert info.value.key == key
    with pytest.raises(ConfigError) as info:
        make_host({"storage": "nosuch://x"})  # refused when the config loads
    assert info.value.key == "rate_limits.storage"


# -- in-process: no limits by default, as in IDM -------------------------------------


CONF = Path(__file__).resolve().parents[2] / "examples" / "conf"
#: IDM's sendTemplate example (its Example 1, with a fixed bcc) as an onCreate
#: script: run once per new user, with the user as ``newObject``.
WELCOME_SCRIPT = """
var params = new Object();
params.templateName = "welcome";
params.to = newObject.mail;
params.bcc = "bigBoss@example.com";
params._locale = "fr";
params.object = newObject;
openidm.action("external/email", "sendTemplate", params);
"""


def test_idm_send_template_example_with_a_fixed_bcc_reaches_50_new_users(tmp_path):
    script = tmp_path / "on-create-user.js"
    script.write_text(WELCOME_SCRIPT)
    config = {"email": {"from": "IDM <openidm@example.com>", "conf": str(CONF)}, "transports": {"default": {"backend": "memory"}}}
    with ActionHost(config, load_entry_points=False) as host:
        for n in range(50):
            user = {"userName": f"user{n}", "givenName": "New", "sn": f"User {n}", "mail": f"user{n}@example.com"}
            host.run_script(script, globals={"newObject": user})
        sent = host.transport().outbox
        assert len(sent) == 50 and host.dispatcher.limiter is None
        assert all("bigboss@example.com" in [r.lower() for r in m.recipients] for m in sent)


def test_no_limit_in_process_by_default():
    with time_machine.travel(START, tick=False), make_host() as host:
        assert flood(host, 50) == (50, [])


@pytest.mark.parametrize(
    "limits, template, config_key",
    [
        ({"recipient": "1 per hour"}, None, "rate_limits.recipient"),
        ({"sender": "1 per hour"}, None, "rate_limits.sender"),
        ({"global": "1 per hour"}, None, "rate_limits.global"),
        ({"template": "1 per hour"}, "reset", "rate_limits.template"),
        ({"template": "9 per hour", "templates": {"reset": "1 per hour"}}, "reset", "rate_limits.templates.reset"),
    ],
)
def test_a_429_names_the_config_key_that_set_the_limit(limits, template, config_key):
    with time_machine.travel(START, tick=False), make_host(limits) as host:
        host.dispatcher.send(message(), template=template)
        with pytest.raises(RateLimited) as info:
            host.dispatcher.send(message(), template=template)
        assert info.value.detail["config_key"] == config_key
        assert info.value.message.endswith(f"(config key {config_key})")


NO_LIMITS_PROBE = """
import json, sys
from emailactions import ActionHost
config = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}}
config.update(json.loads(sys.argv[1]))
with ActionHost(config, load_entry_points=False) as host:
    params = {"to": "b@example.com", "subject": "s", "body": "b"}
    host.action("external/email", "send", params)
    host.action("external/email", "send", params, wait_for_completion=False)
    host.dispatcher.drain()
    assert len(host.transport().outbox) == 2
print("limits" in sys.modules)
"""


@pytest.mark.parametrize("extra, loaded", [({}, "False"), ({"rate_limits": {"recipient": "5 per minute"}}, "True")])
def test_without_limits_sending_never_imports_the_limits_library(tmp_path, extra, loaded):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAILACTIONS_")}
    run = subprocess.run([sys.executable, "-c", NO_LIMITS_PROBE, json.dumps(extra)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == loaded


def test_applying_adds_a_request_limiter_to_every_send_of_the_block():
    # What the REST server does for callers without "*": the host itself has no limit.
    request_limits = build(RateLimitConfig(recipient="1 per hour"), {"recipient": "server.recipient_limit"})
    with time_machine.travel(START, tick=False), make_host() as host:
        with applying(request_limits):
            reset_password(host)
            with pytest.raises(RateLimited) as info:
                reset_password(host, wait=False)  # submitted mail too, refused (never deferred)
            assert info.value.detail["config_key"] == "server.recipient_limit"
        assert flood(host, 3) == (3, [])  # outside the block: the host's own limits (none)
        assert host.dispatcher.outbox.counts()["queued"] == 0


def test_applying_reaches_the_threads_of_a_separate_send():
    request_limits = build(RateLimitConfig(recipient="1 per hour"))
    users = [f"u{n}@example.com" for n in range(8)]
    params = {"to": users, "subject": "s", "body": "b", "sendSeparately": True}
    with time_machine.travel(START, tick=False), make_host() as host, applying(request_limits):
        first = host.action("external/email", "send", params, wait_for_completion=False)
        again = host.action("external/email", "send", params, wait_for_completion=False)
    assert first["count"] == 8
    assert [r["status"] for r in again["results"]] == ["failed"] * 8
    assert {r["error"]["code"] for r in again["results"]} == {429}


def test_build_is_none_without_a_limit():
    assert build(RateLimitConfig()) is None
    assert build(RateLimitConfig(templates={"welcome": None})) is None
    assert build(RateLimitConfig(recipient="1 per hour", enabled=False)) is None
    assert build(RateLimitConfig(templates={"welcome": "1 per hour"})) is not None
