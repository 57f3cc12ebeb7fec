"""Observers and slow sends cannot duplicate or stall delivery."""

from __future__ import annotations

import threading
import time

from support import FAST_OUTBOX, wait_for

from emailactions import ActionHost, BaseTransport, TransportError, hookimpl


class Counting(BaseTransport):
    """Counts deliveries per Message-ID; ``delay`` slows each send; fails for ``fail@``."""

    name = "counting"
    pool_size = 4
    delay = 0.0
    sent: dict[str, int] = {}
    lock = threading.Lock()

    def send(self, message):
        time.sleep(self.delay)
        if message.recipients[0].startswith("fail"):
            raise TransportError("550 refused for the test", transport=self.alias, smtp_code=550)
        with self.lock:
            Counting.sent[message.message_id] = Counting.sent.get(message.message_id, 0) + 1
        return self.result(message)


class Plugin:
    @hookimpl
    def register_transports(self, register):
        register("counting", Counting)


class RaisingObserver:
    @hookimpl
    def message_sent(self, message, result):
        raise RuntimeError("observer bug")

    @hookimpl
    def message_failed(self, message, outbox_id, error):
        raise RuntimeError("observer bug")

    @hookimpl
    def send_failed(self, message, error):
        raise RuntimeError("observer bug")


def host(tmp_path, *plugins, **outbox):
    Counting.sent = {}
    config = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "counting"}},
              "rate_limits": {"enabled": False},
              "outbox": {"path": str(tmp_path / "outbox.sqlite3"), **FAST_OUTBOX, "max_attempts": 3, **outbox}}
    return ActionHost(config, load_entry_points=False, plugins=[Plugin(), *plugins])


def test_a_raising_observer_does_not_turn_a_sent_mail_into_an_error(tmp_path, caplog):
    with host(tmp_path, RaisingObserver()) as h:
        result = h.action("external/email", "send", {"to": "b@example.com"})
        assert result["message"] == "Email sent"
        submitted = h.action("external/email", "send", {"to": "c@example.com"}, wait_for_completion=False)
        wait_for(lambda: h.dispatcher.outbox.get(submitted["outboxId"]).state == "sent")
    assert sorted(Counting.sent.values()) == [1, 1]  # each delivered exactly once
    assert "observer bug" in caplog.text


def test_a_raising_observer_does_not_kill_the_worker(tmp_path):
    with host(tmp_path, RaisingObserver(), workers=1) as h:  # one thread: it must survive
        failed = h.action("external/email", "send", {"to": "fail@example.com"}, wait_for_completion=False)
        wait_for(lambda: h.dispatcher.outbox.get(failed["outboxId"]).state == "failed")
        later = h.action("external/email", "send", {"to": "d@example.com"}, wait_for_completion=False)
        wait_for(lambda: h.dispatcher.outbox.get(later["outboxId"]).state == "sent")


def test_a_batch_never_sends_an_entry_whose_lease_ran_out(tmp_path):
    # Entries claimed together share one lease; sends slower than the lease
    # used to let a second thread re-claim and send the later ones again.
    Counting.delay = 0.1
    try:
        with host(tmp_path, workers=2, lease=0.25) as h:
            ids = [h.action("external/email", "send", {"to": f"u{i}@example.com"}, wait_for_completion=False)["outboxId"]
                   for i in range(20)]
            wait_for(lambda: all(h.dispatcher.outbox.get(i).state == "sent" for i in ids), timeout=30)
            time.sleep(0.3)  # a duplicate would still be on its way
    finally:
        Counting.delay = 0.0
    assert len(Counting.sent) == 20 and set(Counting.sent.values()) == {1}


def test_large_parts_are_not_kept_in_the_compose_cache():
    from emailactions.mime.compose import CACHE_MAX_BYTES, _cached_attachment, _cached_text_part

    _cached_text_part.cache_clear()
    _cached_attachment.cache_clear()
    h = ActionHost({"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    h.action("external/email", "send", {"to": "b@example.com", "text": "x" * (CACHE_MAX_BYTES + 1),
                                        "attachments": [{"filename": "a.bin", "data": b"y" * (CACHE_MAX_BYTES + 1)}]})
    assert _cached_text_part.cache_info().currsize == 0 and _cached_attachment.cache_info().currsize == 0
    h.action("external/email", "send", {"to": "b@example.com", "text": "small", "attachments": [{"filename": "a.bin", "data": b"y"}]})
    assert _cached_text_part.cache_info().currsize == 1 and _cached_attachment.cache_info().currsize == 1
