"""The relay's delivery quota: synchronous sends and the outbox worker wait for room, never fail for it."""

from __future__ import annotations

import time

import pytest

from emailactions import ActionHost, ConfigError, RateLimited
from emailactions.config import from_mapping


def make_host(delivery: str, outbox: dict | None = None, **rate_limits) -> ActionHost:
    config = {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"delivery": delivery, **rate_limits},
        "outbox": {"autostart": False, **(outbox or {})},
    }
    return ActionHost(config, load_entry_points=False)


def send(host, to="a@example.com", wait=True, **params):
    params = {"to": to, "subject": "quota", "body": "x", **params}
    return host.action("external/email", "send", params, wait_for_completion=wait)


def test_synchronous_sends_over_the_quota_wait_for_room_and_all_go_out():
    with make_host("2 per second") as host:
        started = time.monotonic()
        for n in range(5):
            assert send(host, to=f"u{n}@example.com")["message"] == "Email sent"
        elapsed = time.monotonic() - started
        # 2 now, 2 a second later, the fifth after two seconds.
        assert 1.9 <= elapsed < 6
        assert len(host.transport().outbox) == 5


def test_each_recipient_takes_room_and_a_message_larger_than_the_window_takes_it_whole():
    with make_host("3 per second") as host:
        started = time.monotonic()
        send(host, to=["a@example.com", "b@example.com"])
        send(host, to=["c@example.com", "d@example.com"])  # only one left: waits a second
        assert time.monotonic() - started >= 0.9
        send(host, to=[f"u{n}@example.com" for n in range(10)])  # more than a window: takes all of the next one
        assert len(host.transport().outbox) == 3


def test_a_synchronous_send_that_cannot_wait_long_enough_is_refused_before_sending():
    with make_host("1 per minute", {"sync_deadline": 0.3}) as host:
        send(host)
        started = time.monotonic()
        with pytest.raises(RateLimited) as info:
            send(host, to="b@example.com")
        assert time.monotonic() - started < 0.3  # no pointless sleep: the wait is known up front
        error = info.value.to_dict()
        assert error["code"] == 429 and error["detail"]["config_key"] == "rate_limits.delivery"
        assert error["detail"]["scope"] == "delivery" and 55 <= error["detail"]["retry_after"] <= 61
        assert len(host.transport().outbox) == 1


def test_the_worker_waits_for_room_and_sends_everything():
    with make_host("2 per second") as host:
        ids = [send(host, to=f"u{n}@example.com", wait=False)["outboxId"] for n in range(5)]
        started = time.monotonic()
        assert host.dispatcher.drain(timeout=30) == {"sent": 5, "failed": 0, "retrying": 0, "deferred": 0}
        assert time.monotonic() - started >= 1.9
        assert all(host.dispatcher.outbox.get(i).attempts == 1 for i in ids)


def test_the_worker_puts_a_row_off_when_room_is_far_and_counts_no_attempt():
    with make_host("1 per minute") as host:
        first = send(host, to="a@example.com", wait=False)
        second = send(host, to="b@example.com", wait=False)
        started = time.monotonic()
        assert host.dispatcher.drain(timeout=30) == {"sent": 1, "failed": 0, "retrying": 0, "deferred": 1}
        assert time.monotonic() - started < 10  # it did not sit on the lease for a minute
        outbox = host.dispatcher.outbox
        assert outbox.get(first["outboxId"]).state == "sent"
        entry = outbox.get(second["outboxId"])
        assert entry.state == "queued" and entry.attempts == 0
        assert entry.last_error["detail"]["config_key"] == "rate_limits.delivery"
        assert 50 <= entry.next_attempt - outbox.clock() <= 61
        assert [m.recipients for m in host.transport().outbox] == [("a@example.com",)]


def test_stopping_a_worker_ends_its_quota_wait_and_puts_the_row_back():
    with make_host("1 per 20 seconds", outbox={"workers": 1}) as host:
        first = send(host, to="a@example.com", wait=False)
        second = send(host, to="b@example.com", wait=False)
        worker = host.dispatcher.worker
        worker.start()
        outbox = host.dispatcher.outbox
        deadline = time.monotonic() + 10
        while outbox.get(first["outboxId"]).state != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the worker now sleeps in the quota for the second one
        started = time.monotonic()
        worker.stop(timeout=15)
        assert time.monotonic() - started < 3  # not the ~20 s the quota asked for
        entry = outbox.get(second["outboxId"])
        assert entry.state == "queued" and entry.attempts == 0
        assert [m.recipients for m in host.transport().outbox] == [("a@example.com",)]


def test_recipient_limits_and_the_quota_count_apart():
    with make_host("10 per second", recipient="1 per hour") as host:
        send(host)
        with pytest.raises(RateLimited) as info:
            send(host)
        assert info.value.detail["config_key"] == "rate_limits.recipient"
        send(host, to="b@example.com")


def test_no_quota_no_wait_and_no_quota_object():
    with ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False) as host:
        assert host.dispatcher.quota is None and host.dispatcher.limiter is None
    with make_host("5 per second", enabled=False) as host:
        assert host.dispatcher.quota is None


@pytest.mark.parametrize(
    "section, key",
    [({"delivery": "fourteen a second"}, "rate_limits.delivery"), ({"storage_fallback": "ignore"}, "rate_limits.storage_fallback")],
)
def test_bad_quota_and_fallback_config_name_their_key(section, key):
    with pytest.raises(ConfigError) as info:
        from_mapping({"rate_limits": section})
    assert info.value.key == key


def test_quota_config_defaults():
    rate_limits = from_mapping({"rate_limits": {"delivery": "14 per second"}}).rate_limits
    assert rate_limits.delivery == "14 per second" and rate_limits.storage_fallback == "memory"
    assert from_mapping({}).rate_limits.delivery is None
