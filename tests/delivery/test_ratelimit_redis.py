"""Limits shared through a real redis-server: across hosts and processes, and through its crash.

The servers are started here on loopback (tests/support/redis.py) and
stopped by process id; a missing ``redis-server`` fails, never skips.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from emailactions import ActionHost, RateLimited
from emailactions.delivery.ratelimit import storage as ratelimit_storage

#: The redis_server (session) and own_redis fixtures.
pytest_plugins = ("support.redis",)


def make_host(url: str, **rate_limits) -> ActionHost:
    config = {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"storage": url, **rate_limits},
        "outbox": {"autostart": False},
    }
    return ActionHost(config, load_entry_points=False)


def send(host, to="victim@example.com"):
    return host.action("external/email", "send", {"to": to, "subject": "Reset", "body": "x"})


def admitted(host, count, to="victim@example.com") -> int:
    sent = 0
    for _ in range(count):
        try:
            send(host, to)
            sent += 1
        except RateLimited:
            pass
    return sent


def test_two_hosts_share_one_recipient_limit(redis_server):
    redis_server.flush()
    with make_host(redis_server.url, recipient="3 per minute") as a, make_host(redis_server.url, recipient="3 per minute") as b:
        assert admitted(a, 2) == 2
        assert admitted(b, 5) == 1  # the third of three, counted in Redis
        with pytest.raises(RateLimited) as info:
            send(a, to="VICTIM@Example.com")
        assert info.value.detail["config_key"] == "rate_limits.recipient" and 50 <= info.value.retry_after <= 61
        assert admitted(b, 1, to="other@example.com") == 1


def test_the_delivery_quota_is_shared_by_hosts(redis_server):
    redis_server.flush()
    with make_host(redis_server.url, delivery="2 per second") as a, make_host(redis_server.url, delivery="2 per second") as b:
        started = time.monotonic()
        for n in range(5):
            send((a, b)[n % 2], to=f"u{n}@example.com")  # waits, never refused
        assert time.monotonic() - started >= 1.9  # 2 + 2 + 1 over three windows, whichever host sends
        assert len(a.transport().outbox) + len(b.transport().outbox) == 5


def test_redis_down_fallback_memory_keeps_limiting_per_host_then_redis_again(own_redis, caplog):
    caplog.set_level(logging.INFO, "emailactions.ratelimit")
    with make_host(own_redis.url, recipient="2 per minute") as host, make_host(own_redis.url, recipient="2 per minute") as other:
        assert admitted(host, 1) == 1  # counted in Redis
        own_redis.kill()
        started = time.monotonic()
        assert admitted(host, 5) == 2  # the limit holds, counted in this process alone
        assert time.monotonic() - started < 5  # a dead storage does not stall sends
        assert admitted(other, 5) == 2  # each host counts alone: at most n hosts x the limit
        assert [r.levelname for r in caplog.records if "unreachable" in r.getMessage()] == ["ERROR", "ERROR"]
        assert "storage_fallback = 'memory'" in caplog.text
        own_redis.start()  # empty: persistence is off
        time.sleep(ratelimit_storage.RETRY_DOWN + 0.2)
        assert admitted(host, 1, to="back@example.com") == 1
        assert "answers again" in caplog.text
        # Shared again: what one host counts, the other sees.
        assert admitted(other, 1, to="back@example.com") == 1
        assert admitted(host, 3, to="back@example.com") == 0


def test_redis_down_fallback_refuse_answers_429_until_it_returns(own_redis):
    with make_host(own_redis.url, recipient="2 per minute", storage_fallback="refuse") as host:
        assert admitted(host, 1) == 1
        own_redis.kill()
        with pytest.raises(RateLimited) as info:
            send(host, to="someone@example.com")
        assert info.value.detail["config_key"] == "rate_limits.storage_fallback" and info.value.retry_after >= 1
        assert len(host.transport().outbox) == 1  # nothing sent
        own_redis.start()
        time.sleep(ratelimit_storage.RETRY_DOWN + 0.2)
        assert admitted(host, 4) == 2  # Redis restarted empty: limits work again


def test_redis_down_fallback_allow_lets_everything_through_then_limits_again(own_redis):
    with make_host(own_redis.url, recipient="2 per minute", storage_fallback="allow") as host:
        own_redis.kill()
        assert admitted(host, 6) == 6
        own_redis.start()
        time.sleep(ratelimit_storage.RETRY_DOWN + 0.2)
        assert admitted(host, 6) == 2


def test_redis_down_the_delivery_quota_waits_with_refuse_and_delivers_after(own_redis):
    with make_host(own_redis.url, delivery="10 per second", storage_fallback="refuse") as host:
        own_redis.kill()
        result: dict = {}
        sender = threading.Thread(target=lambda: result.update(send(host)))
        sender.start()
        time.sleep(1.5)
        assert sender.is_alive() and not host.transport().outbox  # waiting for the quota, not failed
        own_redis.start()
        sender.join(15)
        assert result["message"] == "Email sent" and len(host.transport().outbox) == 1


RACER = textwrap.dedent(
    """
    import json, sys, time
    from emailactions import ActionHost, RateLimited
    url, start = sys.argv[1], float(sys.argv[2])
    host = ActionHost({"transports": {"default": {"backend": "memory"}},
                       "rate_limits": {"storage": url, "recipient": "10 per minute"}}, load_entry_points=False)
    params = {"from": "a@example.com", "to": "victim@example.com", "subject": "x", "body": "y"}
    host.action("external/email", "send", dict(params, to="warm@example.com"))
    while time.time() < start:
        pass
    sent = 0
    for _ in range(25):
        try:
            host.action("external/email", "send", params)
            sent += 1
        except RateLimited:
            pass
    print(json.dumps({"sent": sent, "delivered": len(host.transport().outbox) - 1}))
    """
)


def test_four_processes_racing_one_recipient_limit_admit_exactly_the_limit(redis_server):
    # The documented bound: a limit on one key is never exceeded, whatever the
    # number of hosts (each hit is one atomic script in Redis); a message
    # touching several counters may lose a race and use up a little of the
    # others, so hosts err on the side of sending less, never more.
    redis_server.flush()
    start = time.time() + 3
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, redis_server.url, str(start)], stdout=subprocess.PIPE, env=env)
        for _ in range(4)
    ]
    results = [json.loads(racer.communicate(timeout=60)[0]) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    assert sum(r["sent"] for r in results) == 10
    assert all(r["sent"] == r["delivered"] for r in results)
