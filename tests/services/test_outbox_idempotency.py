"""``idempotencyKey`` through send and sendTemplate, on both outbox backends, and the 503 a
submit gets while the outbox database is away (over REST too)."""

from __future__ import annotations

import shutil
import threading

import httpx
import pytest

from emailactions import ActionHost, InvalidParams, OutboxUnavailable
from support import FAST_OUTBOX, ROOT
from support.postgres import free_port
from support.server import IDM_AUTH, server_section, start

EXAMPLES = ROOT / "examples" / "conf"
SEND = {"from": "app@example.com", "to": "a@example.com", "subject": "Your receipt", "body": "Thanks"}


@pytest.fixture(params=["sqlite", "postgresql"])
def host(request, tmp_path):
    where = {"path": str(tmp_path / "o.sqlite3")}
    if request.param == "postgresql":
        where = {"url": request.getfixturevalue("postgres").create_schema()}
    config = {
        "transports": {"default": {"backend": "memory"}},
        "outbox": {**where, **FAST_OUTBOX, "autostart": False},
        "rate_limits": {"enabled": False},
    }
    with ActionHost(config, load_entry_points=False) as built:
        yield built


def submit(host, params):
    return host.action("external/email", "send", params, wait_for_completion=False)


def test_a_retried_submit_answers_as_the_first_and_stores_nothing(host):
    first = submit(host, {**SEND, "idempotencyKey": "order-17/receipt"})
    again = submit(host, {**SEND, "idempotencyKey": "order-17/receipt"})
    assert first["message"] == again["message"] == "Email submitted"
    assert (again["outboxId"], again["messageId"], again["envelope"]) == (first["outboxId"], first["messageId"], first["envelope"])
    assert again["replayed"] is True and "replayed" not in first
    other = submit(host, {**SEND, "idempotencyKey": "order-18/receipt"})
    assert other["outboxId"] != first["outboxId"]
    assert host.dispatcher.outbox.counts()["queued"] == 2
    host.action("external/email/outbox", "drain")
    sent = host.transport().outbox
    assert sorted(m.message_id for m in sent) == sorted([first["messageId"], other["messageId"]])


def test_racing_retries_make_one_message(host):
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(submit(host, {**SEND, "idempotencyKey": "k-1"}))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({a["outboxId"] for a in answers}) == 1 and len({a["messageId"] for a in answers}) == 1
    assert host.dispatcher.outbox.counts()["queued"] == 1


def test_send_template_takes_a_key_too(request, tmp_path):
    where = {"url": request.getfixturevalue("postgres").create_schema()}
    config = {
        "email": {"from": "openidm@example.com", "conf": str(shutil.copytree(EXAMPLES, tmp_path / "conf"))},
        "transports": {"default": {"backend": "memory"}},
        "outbox": {**where, **FAST_OUTBOX, "autostart": False},
        "rate_limits": {"enabled": False},
    }
    params = {"templateName": "welcome", "to": "a@example.com", "object": {"givenName": "Hilda"}, "idempotencyKey": "tpl-1"}
    with ActionHost(config, load_entry_points=False) as host:
        first = host.action("external/email", "sendTemplate", params, wait_for_completion=False)
        again = host.action("external/email", "sendTemplate", params, wait_for_completion=False)
        assert again["outboxId"] == first["outboxId"] and again["messageId"] == first["messageId"]
        assert again["templateName"] == "welcome" and host.dispatcher.outbox.counts()["queued"] == 1
        with pytest.raises(InvalidParams) as info:
            host.action("external/email", "sendTemplate", {**params, "idempotencyKey": "a b"}, wait_for_completion=False)
        assert info.value.param == "idempotencyKey"


@pytest.mark.parametrize(
    "key, extra, wait",
    [
        ("", {}, False),
        ("x" * 256, {}, False),
        ("has space", {}, False),
        ("line\r\nBcc: evil@example.com", {}, False),
        ("ключ", {}, False),  # non-ASCII
        ("\u202eevil", {}, False),
        (17, {}, False),
        ("ok-key", {"sendSeparately": True, "to": ["a@example.com", "b@example.com"]}, False),
        ("ok-key", {}, True),
    ],
)
def test_a_bad_key_is_a_400_naming_it_before_anything_is_stored(host, key, extra, wait):
    with pytest.raises(InvalidParams) as info:
        host.action("external/email", "send", {**SEND, **extra, "idempotencyKey": key}, wait_for_completion=wait)
    assert info.value.param == "idempotencyKey" and info.value.code == 400
    assert host.dispatcher.outbox.counts()["queued"] == 0 and host.transport().outbox == []


def test_a_key_reused_for_another_envelope_is_refused(host):
    submit(host, {**SEND, "idempotencyKey": "same"})
    with pytest.raises(InvalidParams) as info:
        submit(host, {**SEND, "to": "someone.else@example.com", "idempotencyKey": "same"})
    assert info.value.param == "idempotencyKey"
    assert host.dispatcher.outbox.counts()["queued"] == 1


def test_a_submit_while_the_database_is_away_is_a_clear_503(tmp_path):
    config = {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "memory"}},
        "outbox": {"url": f"postgresql://mail:pw@127.0.0.1:{free_port()}/outbox", "autostart": False},
        "rate_limits": {"enabled": False},
        "server": server_section(),
    }
    host, server = start(config)
    try:
        with pytest.raises(OutboxUnavailable) as info:
            submit(host, SEND)
        assert info.value.code == 503 and "pw@" not in info.value.message
        reply = httpx.post(f"{server.url}/openidm/external/email?_action=send&waitForCompletion=false", json=SEND, headers=IDM_AUTH, timeout=30)
        assert reply.status_code == 503
        body = reply.json()
        assert body["code"] == 503 and body["reason"] == "Service Unavailable"
        assert host.transport().outbox == []
    finally:
        server.stop()
        host.close()
