"""Retries against a real SMTP server that refuses, defers, hangs up and stalls."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from support import FAST_OUTBOX, wait_for
from support.smtp_server import HostileServer
from emailactions import RecipientsRefused, TransportError


def times(n: int, reply, otherwise=None):
    """A scripted reply: ``reply`` for the first ``n`` calls, then ``otherwise``."""
    counter = itertools.count()

    def script(*_):
        return reply if next(counter) < n else otherwise

    return script


def submit(host, **params):
    params.setdefault("subject", "retry test")
    return host.action("external/email", "send", params, wait_for_completion=False)


def settled(host, outbox_id):
    """The entry once it is sent or failed."""
    outbox = host.dispatcher.outbox
    return wait_for(lambda: (e := outbox.get(outbox_id)).state in ("sent", "failed") and e)


def test_451_twice_then_accept_is_delivered_once_with_one_message_id(outbox_host, smtp_server):
    smtp_server.handler.data_reply = times(2, "451 4.3.0 Try again later")
    result = submit(outbox_host, to="a@example.com")
    assert result["message"] == "Email submitted" and result["outboxId"] >= 1
    entry = settled(outbox_host, result["outboxId"])
    assert entry.state == "sent" and entry.attempts == 3
    [received] = smtp_server.messages
    assert received.message["Message-ID"] == result["messageId"] == entry.message_id
    assert entry.last_error["detail"]["smtp_code"] == 451  # the history stays readable


def test_synchronous_send_retries_451_within_its_deadline(outbox_host, smtp_server):
    smtp_server.handler.data_reply = times(2, "451 4.3.0 Try again later")
    result = outbox_host.action("external/email", "send", {"to": "a@example.com"})
    assert result["message"] == "Email sent" and result["attempts"] == 3
    [received] = smtp_server.messages
    assert received.message["Message-ID"] == result["messageId"]


def test_synchronous_send_gives_up_at_its_deadline(outbox_config, smtp_server):
    from emailactions import ActionHost

    outbox_config["outbox"]["sync_deadline"] = 0.2
    smtp_server.handler.data_reply = lambda received: "451 4.3.0 Try again later"
    with ActionHost(outbox_config, load_entry_points=False) as host:
        with pytest.raises(TransportError) as info:
            host.action("external/email", "send", {"to": "a@example.com"})
    assert info.value.detail["smtp_code"] == 451 and info.value.code == 502


def test_synchronous_send_does_not_retry_a_permanent_refusal(outbox_host, smtp_server):
    calls = []
    smtp_server.handler.data_reply = lambda received: calls.append(1) or "554 5.7.1 Rejected"
    with pytest.raises(TransportError) as info:
        outbox_host.action("external/email", "send", {"to": "a@example.com"})
    assert info.value.detail["smtp_code"] == 554 and len(calls) == 1


def test_synchronous_send_retries_only_deferred_recipients(outbox_host, smtp_server):
    deferred = times(1, "452 4.2.2 Mailbox full")
    smtp_server.handler.rcpt_reply = lambda address: deferred() if address == "b@example.com" else None
    result = outbox_host.action("external/email", "send", {"to": "a@example.com, b@example.com"})
    assert result["accepted"] == ["a@example.com", "b@example.com"] and result["refused"] == {}
    assert [m.rcpt_tos for m in smtp_server.messages] == [["a@example.com"], ["b@example.com"]]
    assert len({m.message["Message-ID"] for m in smtp_server.messages}) == 1


def test_452_for_some_recipients_retries_only_those(outbox_host, smtp_server):
    deferred = times(1, "452 4.2.2 Mailbox full")
    smtp_server.handler.rcpt_reply = lambda address: deferred() if address == "b@example.com" else None
    result = submit(outbox_host, to="a@example.com, b@example.com", cc="c@example.com")
    entry = settled(outbox_host, result["outboxId"])
    assert entry.state == "sent" and entry.attempts == 2
    assert [m.rcpt_tos for m in smtp_server.messages] == [["a@example.com", "c@example.com"], ["b@example.com"]]
    assert {m.message["Message-ID"] for m in smtp_server.messages} == {result["messageId"]}
    assert set(entry.accepted) == {"a@example.com", "b@example.com", "c@example.com"} and entry.refused == {}


def test_550_for_one_recipient_is_final_for_that_one(outbox_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda address: "550 5.1.1 No such user" if address == "gone@example.com" else None
    result = submit(outbox_host, to="gone@example.com, here@example.com")
    entry = settled(outbox_host, result["outboxId"])
    assert entry.state == "sent" and entry.attempts == 1
    assert entry.accepted == ("here@example.com",)
    assert entry.refused == {"gone@example.com": (550, "5.1.1 No such user")}
    assert entry.to_dict()["refused"] == {"gone@example.com": {"code": 550, "message": "5.1.1 No such user"}}


def test_every_recipient_550_fails_at_once(outbox_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda address: "550 5.1.1 No such user"
    entry = settled(outbox_host, submit(outbox_host, to="a@example.com")["outboxId"])
    assert entry.state == "failed" and entry.attempts == 1
    assert entry.last_error["detail"]["kind"] == "recipients_refused"


def test_554_at_data_fails_at_once(outbox_host, smtp_server):
    smtp_server.handler.data_reply = lambda received: "554 5.7.1 Message rejected as spam"
    entry = settled(outbox_host, submit(outbox_host, to="a@example.com, b@example.com")["outboxId"])
    assert entry.state == "failed" and entry.attempts == 1 and smtp_server.messages == []
    assert entry.refused["a@example.com"][0] == 554
    assert entry.last_error["detail"]["smtp_code"] == 554


def test_421_at_rcpt_is_retried(outbox_host, smtp_server):
    smtp_server.handler.rcpt_reply = times(1, "421 4.3.2 Service shutting down")
    entry = settled(outbox_host, submit(outbox_host, to="a@example.com")["outboxId"])
    assert entry.state == "sent" and entry.attempts == 2
    assert len(smtp_server.messages) == 1


def test_dropped_mid_data_is_retried(outbox_host, smtp_server):
    smtp_server.handler.drop = lambda stage, first=times(1, True, False): stage == "mid-data" and first()
    result = submit(outbox_host, to="a@example.com")
    entry = settled(outbox_host, result["outboxId"])
    assert entry.state == "sent" and entry.attempts == 2
    [received] = smtp_server.messages  # the first copy never arrived
    assert received.message["Message-ID"] == result["messageId"]
    assert entry.last_error["detail"]["kind"] == "connect_error"


def test_dropped_after_the_final_dot_is_retried_and_the_duplicate_has_the_same_message_id(outbox_host, smtp_server):
    smtp_server.handler.drop = lambda stage, first=times(1, True, False): stage == "after-data" and first()
    result = submit(outbox_host, to="a@example.com")
    entry = settled(outbox_host, result["outboxId"])
    assert entry.state == "sent" and entry.attempts == 2
    # The server took the first copy but never said so: a duplicate beats a loss,
    # and the receiver can tell it by its Message-ID.
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [result["messageId"]] * 2
    assert entry.last_error["detail"]["stage"] == "reply"  # after the final dot: outcome unknown


def test_stalled_server_times_out_and_is_retried(outbox_config, smtp_server):
    from emailactions import ActionHost

    outbox_config["transports"]["default"]["timeout"] = 0.3
    stalled = []

    def stall(received):
        if stalled:
            return 0.0
        stalled.append(received)
        return 1.0

    smtp_server.handler.stall = stall
    # By the time the stalled server answers, the client has gone: it refuses that one.
    smtp_server.handler.data_reply = lambda received: "451 too late" if received is stalled[0] else None
    with ActionHost(outbox_config, load_entry_points=False) as host:
        result = submit(host, to="a@example.com")
        entry = settled(host, result["outboxId"])
    assert entry.state == "sent" and entry.attempts == 2
    # smtplib reports a read timeout as a lost connection, so the SMTP
    # transport says connect_error (stage data) rather than timeout: both temporary.
    assert entry.last_error["detail"]["kind"] in ("timeout", "connect_error")
    assert len(smtp_server.messages) == 1


def test_max_attempts_then_failed(outbox_config, smtp_server):
    from emailactions import ActionHost

    outbox_config["outbox"]["max_attempts"] = 3
    smtp_server.handler.data_reply = lambda received: "451 4.3.0 Try again later"
    with ActionHost(outbox_config, load_entry_points=False) as host:
        entry = settled(host, submit(host, to="a@example.com")["outboxId"])
    assert entry.state == "failed" and entry.attempts == 3
    assert entry.refused == {"a@example.com": (451, "The server answered DATA with 451 4.3.0 Try again later")}


def test_max_age_then_failed(outbox_config, smtp_server):
    from emailactions import ActionHost

    outbox_config["outbox"].update(max_age=0.3, backoff=0.1, backoff_max=0.1)
    smtp_server.handler.data_reply = lambda received: "451 4.3.0 Try again later"
    with ActionHost(outbox_config, load_entry_points=False) as host:
        result = submit(host, to="a@example.com")
        entry = settled(host, result["outboxId"])
    assert entry.state == "failed" and 2 <= entry.attempts <= 6
    assert entry.updated - entry.created >= 0.3  # one last try at max_age, not before


def test_workers_share_the_pool_and_deliver_a_batch(outbox_config, smtp_server):
    from emailactions import ActionHost

    outbox_config["transports"]["default"]["pool_size"] = 3
    outbox_config["outbox"]["workers"] = 8  # capped at the pool size
    with ActionHost(outbox_config, load_entry_points=False) as host:
        ids = [submit(host, to=f"u{n}@example.com")["outboxId"] for n in range(30)]
        assert host.dispatcher.worker.threads == 3
        wait_for(lambda: host.dispatcher.outbox.counts()["sent"] == 30)
        assert len({m.message["Message-ID"] for m in smtp_server.messages}) == 30
        assert host.transport().connections_opened <= 3
    assert len(ids) == len(set(ids)) == 30


def test_outbox_survives_the_host_and_a_new_host_delivers_it(outbox_config, smtp_server):
    from emailactions import ActionHost

    outbox_config["outbox"]["workers"] = 0  # nobody delivers in the first host
    with ActionHost(outbox_config, load_entry_points=False) as host:
        result = submit(host, to="a@example.com")
    assert smtp_server.messages == []
    del outbox_config["outbox"]["workers"]
    with ActionHost(outbox_config, load_entry_points=False) as host:
        # Started with the host: no new send needed to flush what was left.
        entry = settled(host, result["outboxId"])
    assert entry.state == "sent" and smtp_server.messages[0].message["Message-ID"] == result["messageId"]


def test_memory_outbox_is_drained_when_the_host_closes(smtp_server, caplog):
    from emailactions import ActionHost

    config = {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port}},
        "outbox": {"autostart": False},
    }
    host = ActionHost(config, load_entry_points=False)
    submit(host, to="a@example.com")
    assert smtp_server.messages == [] and "outbox is in memory" in caplog.text
    host.close()  # its messages exist nowhere else: delivered before closing
    assert len(smtp_server.messages) == 1


def test_all_refused_synchronously_reports_every_reply(outbox_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda address, later=times(1, "452 full", "550 gone"): "550 gone" if address == "a@example.com" else later()
    with pytest.raises(RecipientsRefused) as info:
        outbox_host.action("external/email", "send", {"to": "a@example.com, b@example.com"})
    assert info.value.detail["refused"] == {"a@example.com": {"code": 550, "message": "gone"}, "b@example.com": {"code": 550, "message": "gone"}}


def test_failures_are_logged_and_stored_without_secrets(smtp_tls_server, ca_file, tmp_path, caplog):
    from emailactions import ActionHost

    secret = "not-the-password-0xBEEF"
    config = {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "localhost", "port": smtp_tls_server.port, "starttls": True,
                                   "ca_file": ca_file, "username": "idm", "password": secret, "timeout": 5}},
        "outbox": {"path": str(tmp_path / "o.sqlite3"), "max_attempts": 2, "backoff": 0.01, "backoff_max": 0.01, "poll_interval": 0.02},
        "rate_limits": {"enabled": False},
    }  # fmt: skip
    caplog.set_level("DEBUG")
    with ActionHost(config, load_entry_points=False) as host:
        entry = settled(host, submit(host, to="a@example.com")["outboxId"])
        shown = host.action("external/email/outbox", "show", {"id": entry.id})
    assert entry.state == "failed" and entry.last_error["detail"]["kind"] == "auth_error"
    assert "idm" in caplog.text and "giving up" in caplog.text
    assert secret not in caplog.text and secret not in json.dumps(shown)
    for file in tmp_path.glob("o.sqlite3*"):  # the database and its WAL
        assert secret.encode() not in file.read_bytes()


# -- a synchronous send ends by sync_deadline, whatever the relay does ----------

SYNC_DEADLINE = 2.0


def sync_host(port: int, sync_deadline: float = SYNC_DEADLINE, **transport):
    """A host sending synchronously over SMTP with the transport's DEFAULT timeouts
    (minutes long) unless a test gives others: only sync_deadline bounds the send."""
    from emailactions import ActionHost

    return ActionHost({
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": port, **transport}},
        "outbox": {"sync_deadline": sync_deadline, "sync_backoff": 0.05},
        "rate_limits": {"enabled": False},
    }, load_entry_points=False)  # fmt: skip


def timed_failure(host, error=TransportError):
    """Send synchronously; the error it raised and the seconds it took."""
    started = time.monotonic()
    with host, pytest.raises(error) as info:
        host.action("external/email", "send", {"to": "a@example.com", "subject": "bounded"})
    return info.value, time.monotonic() - started


@pytest.mark.parametrize("mode", ["unaccepted", "silent", "trickle"])
def test_a_relay_that_never_greets_cannot_hold_a_synchronous_send(mode):
    from emailactions import DeliveryTimeout

    with HostileServer(mode) as relay:
        error, elapsed = timed_failure(sync_host(relay.port), DeliveryTimeout)
    assert SYNC_DEADLINE - 0.1 < elapsed < SYNC_DEADLINE + 1
    assert error.code == 504 and error.attempts >= 1 and 0 < error.elapsed < SYNC_DEADLINE + 1
    detail = error.to_dict()["detail"]
    assert detail["attempts"] == error.attempts and detail["elapsed"] == error.elapsed


def test_a_relay_stalling_at_data_cannot_hold_a_synchronous_send(smtp_server):
    from emailactions import DeliveryTimeout

    smtp_server.handler.stall = lambda received: 10.0
    error, elapsed = timed_failure(sync_host(smtp_server.port), DeliveryTimeout)
    assert elapsed < SYNC_DEADLINE + 1 and error.code == 504


def test_an_attempt_that_times_out_early_is_retried_within_the_deadline():
    with HostileServer("silent") as relay:
        error, elapsed = timed_failure(sync_host(relay.port, timeout=0.3))
    assert error.attempts > 1 and relay.accepted == error.attempts
    assert elapsed < SYNC_DEADLINE + 1


def test_sync_deadline_0_makes_one_attempt_bounded_by_the_transports_timeouts():
    with HostileServer("silent") as relay:
        error, elapsed = timed_failure(sync_host(relay.port, sync_deadline=0, timeout=0.3))
    assert error.attempts == 1 and elapsed < 1.0


def test_an_untrusted_certificate_fails_at_once_with_a_hint(smtp_tls_server):
    from emailactions import TLSError

    # The default sync_deadline: only the first attempt is made, not 15 s of them.
    host = sync_host(smtp_tls_server.port, sync_deadline=15.0, host="localhost", starttls=True)
    error, elapsed = timed_failure(host, TLSError)
    assert error.attempts == 1 and elapsed < 1.5
    detail = error.to_dict()["detail"]
    assert "transports.default.ca_file" in detail["hint"] and "transports.default.verify" in detail["hint"]
    assert detail["attempts"] == 1 and 0 < detail["elapsed"] < 1.5


def test_refused_credentials_fail_at_once_with_a_hint(smtp_tls_server, ca_file):
    from emailactions import AuthError

    host = sync_host(smtp_tls_server.port, sync_deadline=15.0, host="localhost", starttls=True, ca_file=ca_file,
                     username="idm", password="wrong-password")  # fmt: skip
    error, elapsed = timed_failure(host, AuthError)
    assert "535" in error.message and error.attempts == 1 and elapsed < 1.5
    assert "transports.default.username" in error.hint and "transports.default.password" in error.hint
    assert "wrong-password" not in str(error.to_dict())


def test_a_missing_starttls_fails_at_once_with_a_hint(smtp_server):
    from emailactions import TLSError

    error, elapsed = timed_failure(sync_host(smtp_server.port, sync_deadline=15.0, starttls=True), TLSError)
    assert error.attempts == 1 and elapsed < 1.5 and "transports.default.starttls" in error.to_dict()["detail"]["hint"]


def test_a_missing_auth_fails_at_once_with_a_hint(smtp_server):
    from emailactions import AuthError

    error, elapsed = timed_failure(sync_host(smtp_server.port, sync_deadline=15.0, username="idm", password="pw"), AuthError)
    assert error.attempts == 1 and elapsed < 1.5 and "transports.default.starttls" in error.hint


def test_the_outbox_keeps_retrying_what_a_synchronous_send_gives_up_at_once(smtp_tls_server, tmp_path):
    from emailactions import ActionHost

    config = {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "localhost", "port": smtp_tls_server.port, "starttls": True}},
        "outbox": {"path": str(tmp_path / "o.sqlite3"), **FAST_OUTBOX, "max_attempts": 3},
        "rate_limits": {"enabled": False},
    }
    with ActionHost(config, load_entry_points=False) as host:
        entry = settled(host, submit(host, to="a@example.com")["outboxId"])
    # An operator fixes a certificate; the mail waits for the fix, as in Postfix.
    assert entry.state == "failed" and entry.attempts == 3 and entry.last_error["detail"]["kind"] == "tls_error"


def test_a_relay_dripping_its_reply_after_the_final_dot_cannot_hold_a_synchronous_send():
    from emailactions import DeliveryTimeout

    # The message went out whole; the relay answers one byte a second, never finishing.
    with HostileServer("after-dot", interval=0.2) as relay:
        error, elapsed = timed_failure(sync_host(relay.port), DeliveryTimeout)
    assert elapsed < SYNC_DEADLINE + 1 and error.code == 504 and relay.accepted >= 1
