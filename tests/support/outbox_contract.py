"""The contract every outbox backend meets: commits, claims, leases, fencing, control.

Each backend's test module subclasses :class:`OutboxContract` and gives
``make(clock)`` (an open outbox on a fresh store, its time from ``clock``) and
``stored(outbox, entry_id, column)`` (a column read back through a connection
of its own, to prove what was committed and in which format).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from emailactions.delivery.outbox.entry import worker_id
from emailactions.errors import OutboxEntryNotFound, Refusal
from emailactions.mime.message import Message, MessageInfo


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def message(n: int = 1, recipients=("a@example.com", "b@example.com")) -> Message:
    data = f"Message-ID: <m{n}@example.com>\r\nSubject: test {n}\r\n\r\nbody\r\n".encode()
    return Message(data, "s@example.com", tuple(recipients), f"<m{n}@example.com>", info=MessageInfo(locale="en"))


class OutboxContract:
    #: The schema version this code writes.
    latest: int

    def make(self, clock):  # pragma: no cover - each backend gives its own
        raise NotImplementedError

    def stored(self, outbox, entry_id: int, column: str):  # pragma: no cover
        raise NotImplementedError

    @pytest.fixture
    def clock(self):
        return Clock()

    @pytest.fixture
    def outbox(self, clock):
        box = self.make(clock)
        yield box
        box.close()

    def test_add_is_committed_and_visible_to_another_connection(self, outbox):
        entry_id = outbox.add(message(), transport="default", template="welcome", max_age=60)
        # Another connection (another process) sees the row: it was committed.
        assert self.stored(outbox, entry_id, "state") == "queued"
        assert self.stored(outbox, entry_id, "message_id") == "<m1@example.com>"
        entry = outbox.get(entry_id, with_data=True)
        assert entry.message() == message()
        assert entry.template == "welcome" and entry.transport == "default" and entry.attempts == 0
        shown = entry.to_dict()
        assert shown["subject"] == "test 1" and shown["state"] == "queued" and "data" not in shown

    def test_claim_takes_each_due_message_once(self, outbox, clock):
        first = outbox.add(message(1), transport=None, max_age=60)
        later = outbox.add(message(2), transport=None, max_age=60, delay=30)
        a, b = worker_id(), worker_id()
        [claimed] = outbox.claim(a, limit=10, lease=300)
        assert claimed.id == first and claimed.state == "in-flight" and claimed.attempts == 1 and claimed.worker == a
        assert outbox.claim(b, limit=10, lease=5) == []  # leased to a; the other is not due
        clock.now += 30
        assert [e.id for e in outbox.claim(b, limit=10, lease=5)] == [later]

    def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_write(self, outbox, clock):
        entry_id = outbox.add(message(), transport=None, max_age=60)
        [stale] = outbox.claim("dead:1:x", lease=5)
        clock.now += 6  # the worker died; its lease ran out
        [taken] = outbox.claim("live:2:y", lease=5)
        assert taken.id == entry_id and taken.attempts == 2  # the lost attempt counts
        assert taken.token > stale.token and taken.message_id == stale.message_id
        # The first worker comes back late: its result is fenced off, and so is a renewal.
        assert outbox.finish(stale, state="sent", accepted=["a@example.com"]) is False
        assert outbox.renew(stale, lease=5) is False
        assert outbox.renew(taken, lease=5) is True
        assert outbox.finish(taken, state="sent", accepted=list(taken.recipients)) is True
        assert outbox.get(entry_id).state == "sent"

    def test_the_same_worker_id_reclaiming_is_fenced_too(self, outbox, clock):
        # Threads of one worker share its id: only the token tells claims apart.
        outbox.add(message(), transport=None, max_age=60)
        [first] = outbox.claim("w:1:a", lease=5)
        clock.now += 6
        [second] = outbox.claim("w:1:a", lease=5)
        assert outbox.finish(first, state="failed") is False
        assert outbox.finish(second, state="sent", accepted=["a@example.com"]) is True

    def test_finish_keeps_partial_progress(self, outbox, clock):
        entry_id = outbox.add(message(), transport=None, max_age=60)
        [entry] = outbox.claim("w:1:a", lease=5)
        outbox.finish(
            entry, state="queued", pending=["b@example.com"], accepted=["a@example.com"], next_attempt=clock.now + 10,
            error={"code": 502, "message": "452 later"},
        )  # fmt: skip
        entry = outbox.get(entry_id)
        assert entry.pending == ("b@example.com",) and entry.accepted == ("a@example.com",)
        assert entry.last_error == {"code": 502, "message": "452 later"}
        assert entry.to_dict()["nextAttempt"] is not None
        clock.now += 10
        [again] = outbox.claim("w:1:a", lease=5)
        assert again.message().recipients == ("b@example.com",)
        assert again.message().data == message().data  # same bytes, same Message-ID

    def test_operator_retry_and_purge(self, outbox, clock):
        failed = outbox.add(message(1), transport=None, max_age=60)
        sent = outbox.add(message(2), transport=None, max_age=60)
        for entry in outbox.claim("w:1:a", limit=2, lease=5):
            if entry.id == failed:
                outbox.finish(entry, state="failed", refused={"a@example.com": (550, "no"), "b@example.com": (550, "no")})
            else:
                outbox.finish(entry, state="sent", accepted=list(entry.recipients))
        assert outbox.counts() == {"queued": 0, "in-flight": 0, "sent": 1, "failed": 1}
        clock.now += 1000  # past max_age: retry gives a fresh one
        assert outbox.retry(states=["failed"], max_age=60) == 1
        entry = outbox.get(failed)
        assert entry.state == "queued" and entry.attempts == 0 and entry.pending == ("a@example.com", "b@example.com")
        assert entry.refused == {} and entry.expires == clock.now + 60
        assert outbox.retry([sent], max_age=60) == 0  # a sent message is not sent again
        assert outbox.purge(states=["sent"]) == 1
        assert outbox.purge(states=["queued"], older_than=10) == 0  # changed just now
        with pytest.raises(OutboxEntryNotFound):
            outbox.get(sent)
        [claimed] = outbox.claim("w:1:a", lease=5)
        assert outbox.purge([claimed.id]) == 0  # never a message in flight
        with pytest.raises(ValueError):
            outbox.purge(states=["in-flight"])

    def test_retry_of_a_failed_message_skips_recipients_that_accepted(self, outbox):
        entry_id = outbox.add(message(), transport=None, max_age=60)
        [entry] = outbox.claim("w:1:a", lease=5)
        outbox.finish(entry, state="failed", accepted=["a@example.com"], refused={"b@example.com": Refusal(550, "no")})
        assert outbox.retry([entry_id], max_age=60) == 1
        assert outbox.get(entry_id).pending == ("b@example.com",)

    def test_list_and_next_due(self, outbox, clock):
        for n in range(3):
            outbox.add(message(n), transport=None, max_age=60, delay=n * 10)
        assert [e.message_id for e in outbox.list(limit=2)] == ["<m2@example.com>", "<m1@example.com>"]
        assert outbox.next_due() == clock.now
        assert outbox.unfinished() == 3
        assert [e.state for e in outbox.list(states=["sent"])] == []

    def test_concurrent_submits_each_get_their_own_id(self, outbox):
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda n: outbox.add(message(n), transport=None, max_age=60), range(200)))
        assert sorted(ids) == list(range(1, 201))
        # Every id names the message its caller submitted.
        assert all(outbox.get(i).message_id == f"<m{n}@example.com>" for n, i in enumerate(ids))

    def test_concurrent_claims_from_two_connections_never_overlap(self, outbox, clock):
        other = self.make(clock)
        try:
            for n in range(120):
                outbox.add(message(n), transport=None, max_age=60)
            taken: list[int] = []
            lock = threading.Lock()

            def work(box, name):
                while batch := box.claim(name, limit=3, lease=60):
                    with lock:
                        taken.extend(e.id for e in batch)

            threads = [threading.Thread(target=work, args=(box, f"w:{n}:x")) for n, box in enumerate([outbox, other] * 3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(taken) == list(range(1, 121))  # each exactly once
        finally:
            other.close()

    def test_refusals_round_trip_typed_and_stored_as_code_text_pairs(self, outbox):
        entry_id = outbox.add(message(), transport=None, max_age=60)
        [entry] = outbox.claim("w:1:a", lease=5)
        refused = {"a@example.com": Refusal(550, "5.1.1 no such user"), "b@example.com": Refusal(452, "4.2.2 mailbox full")}
        outbox.finish(entry, state="failed", refused=refused)
        stored = self.stored(outbox, entry_id, "refused")
        assert json.loads(stored) == {"a@example.com": [550, "5.1.1 no such user"], "b@example.com": [452, "4.2.2 mailbox full"]}
        loaded = outbox.get(entry_id).refused
        assert loaded == refused and all(type(r) is Refusal for r in loaded.values())
        assert loaded["b@example.com"].code == 452 and loaded["b@example.com"].text == "4.2.2 mailbox full"
        assert outbox.get(entry_id).to_dict()["refused"]["a@example.com"] == {"code": 550, "message": "5.1.1 no such user"}

    def test_message_info_round_trips_through_the_meta_column(self, outbox):
        info = MessageInfo(template="welcome", locale="fr", locales={"subject": "fr", "html": "fr"})
        entry_id = outbox.add(Message(message().data, "s@example.com", ("a@example.com",), "<m1@example.com>", info=info), transport=None, max_age=60)
        # The same JSON the free-form meta dict was stored as, so older versions read it too.
        assert json.loads(self.stored(outbox, entry_id, "meta")) == {"locale": "fr", "locales": {"subject": "fr", "html": "fr"}, "template": "welcome"}
        [claimed] = outbox.claim("w:1:a", lease=5)
        assert claimed.info == info and claimed.message().info == info
        plain = outbox.add(Message(message(2).data, "s@example.com", ("a@example.com",), "<m2@example.com>"), transport=None, max_age=60)
        assert self.stored(outbox, plain, "meta") is None

    def test_an_idempotency_key_stores_one_message(self, outbox):
        first = outbox.add(message(1), transport=None, max_age=60, idempotency_key="order-17")
        again = outbox.add(message(2), transport=None, max_age=60, idempotency_key="order-17")
        other = outbox.add(message(3), transport=None, max_age=60, idempotency_key="order-18")
        assert again == first != other
        assert outbox.get(first).message_id == "<m1@example.com>" and outbox.counts()["queued"] == 2

    def test_submits_racing_with_one_key_make_one_message(self, outbox):
        with ThreadPoolExecutor(8) as pool:
            ids = set(pool.map(lambda n: outbox.add(message(n), transport=None, max_age=60, idempotency_key="k"), range(40)))
        assert len(ids) == 1 and outbox.counts()["queued"] == 1

    def test_a_silent_worker_loses_its_leases_to_live_ones(self, outbox, clock):
        outbox.add(message(), transport=None, max_age=60)
        outbox.heartbeat("dead:1:x")
        [held] = outbox.claim("dead:1:x", lease=900)
        clock.now += 5
        outbox.heartbeat("live:2:y")
        assert outbox.release_dead(10) == 0  # silent for 5 s only
        clock.now += 6
        outbox.heartbeat("live:2:y")
        assert outbox.release_dead(10) == 1  # 11 s: dead, long before its 900 s lease
        [taken] = outbox.claim("live:2:y", lease=900)
        assert taken.id == held.id and taken.message_id == held.message_id
        assert outbox.finish(held, state="sent", accepted=["a@example.com"]) is False
        assert outbox.release_dead(10) == 0  # the live one is not touched
        outbox.retire("live:2:y")

    def test_migrate_twice_changes_nothing(self, outbox):
        assert outbox.migrate() == []
        assert outbox.schema_version() == self.latest

    def test_a_claim_whose_answer_was_lost_is_released_by_its_own_worker(self, outbox, clock):
        lost, working = (outbox.add(message(n), transport=None, max_age=60) for n in (1, 2))
        outbox.claim("w:1:a", limit=2, lease=900)  # committed, but say the answer never came back
        clock.now += 5
        assert outbox.release_orphans("w:1:a", [working], older_than=10) == 0  # too recent to tell
        clock.now += 6
        assert outbox.release_orphans("w:1:a", [working], older_than=10) == 1
        assert [e.id for e in outbox.claim("w:1:a", limit=5, lease=900)] == [lost]
