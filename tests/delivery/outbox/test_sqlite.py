"""The outbox table itself: commits, claims, leases, operator retry and purge."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from emailactions.errors import OutboxEntryNotFound, OutboxError, Refusal
from emailactions.mime.message import Message, MessageInfo
from emailactions.delivery.outbox.sqlite import Outbox
from emailactions.delivery.outbox.entry import worker_id


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def message(n: int = 1, recipients=("a@example.com", "b@example.com")) -> Message:
    data = f"Message-ID: <m{n}@example.com>\r\nSubject: test {n}\r\n\r\nbody\r\n".encode()
    return Message(data, "s@example.com", tuple(recipients), f"<m{n}@example.com>", info=MessageInfo(locale="en"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox(tmp_path, clock):
    box = Outbox(tmp_path / "o.sqlite3", clock=clock)
    yield box
    box.close()


def test_add_is_committed_and_visible_to_another_connection(outbox, tmp_path):
    entry_id = outbox.add(message(), transport="default", template="welcome", max_age=60)
    # A second connection (another process) sees the row: it was committed.
    with sqlite3.connect(tmp_path / "o.sqlite3") as other:
        assert other.execute("SELECT state, message_id FROM messages WHERE id = ?", (entry_id,)).fetchone() == ("queued", "<m1@example.com>")
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    entry = outbox.get(entry_id, with_data=True)
    assert entry.message() == message()
    assert entry.template == "welcome" and entry.transport == "default" and entry.attempts == 0
    shown = entry.to_dict()
    assert shown["subject"] == "test 1" and shown["state"] == "queued" and "data" not in shown


def test_claim_takes_each_due_message_once(outbox, clock):
    first = outbox.add(message(1), transport=None, max_age=60)
    later = outbox.add(message(2), transport=None, max_age=60, delay=30)
    a, b = worker_id(), worker_id()
    [claimed] = outbox.claim(a, limit=10, lease=300)
    assert claimed.id == first and claimed.state == "in-flight" and claimed.attempts == 1 and claimed.worker == a
    assert outbox.claim(b, limit=10, lease=5) == []  # leased to a; the other is not due
    clock.now += 30
    assert [e.id for e in outbox.claim(b, limit=10, lease=5)] == [later]


def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_write(outbox, clock):
    entry_id = outbox.add(message(), transport=None, max_age=60)
    [stale] = outbox.claim("dead:1:x", lease=5)
    clock.now += 6  # the worker died; its lease ran out
    [taken] = outbox.claim("live:2:y", lease=5)
    assert taken.id == entry_id and taken.attempts == 2  # the lost attempt counts
    # The first worker comes back late: its result is fenced off.
    assert outbox.finish(stale, state="sent", accepted=["a@example.com"]) is False
    assert outbox.finish(taken, state="sent", accepted=list(taken.recipients)) is True
    assert outbox.get(entry_id).state == "sent"


def test_reclaim_dead_expires_leases_of_dead_local_processes(outbox, tmp_path):
    outbox.add(message(1), transport=None, max_age=60)
    outbox.add(message(2), transport=None, max_age=60)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = worker_id().rsplit(":", 2)[0]
    outbox.claim(f"{host}:{proc.pid}:dead", limit=1, lease=900)
    outbox.claim(f"{host}:{os.getpid()}:live", limit=1, lease=900)
    assert outbox.reclaim_dead() == 1
    [again] = outbox.claim("next:3:z", limit=5, lease=900)
    assert again.worker == "next:3:z" and again.message_id == "<m1@example.com>"


def test_finish_keeps_partial_progress(outbox, clock):
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


def test_operator_retry_and_purge(outbox, clock):
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


def test_list_and_next_due(outbox, clock):
    for n in range(3):
        outbox.add(message(n), transport=None, max_age=60, delay=n * 10)
    assert [e.message_id for e in outbox.list(limit=2)] == ["<m2@example.com>", "<m1@example.com>"]
    assert outbox.next_due() == clock.now
    assert outbox.unfinished() == 3
    assert [e.state for e in outbox.list(states=["sent"])] == []


def test_memory_outbox_works_without_a_file(clock):
    box = Outbox(None, clock=clock)
    assert not box.durable and box.where == ":memory:"
    entry_id = box.add(message(), transport=None, max_age=60)
    assert box.claim("w:1:a", lease=5)[0].id == entry_id
    box.close()


def test_unusable_path_is_an_outbox_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutboxError) as info:
        Outbox(tmp_path / "file" / "o.sqlite3")
    assert info.value.code == 500 and "o.sqlite3" in info.value.detail["path"]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "o.sqlite3"
    Outbox(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxError, match="newer"):
        Outbox(path)


def test_concurrent_submits_share_commits_and_each_gets_its_own_id(outbox):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: outbox.add(message(n), transport=None, max_age=60), range(200)))
    assert sorted(ids) == list(range(1, 201))
    # Every id names the message its caller submitted.
    assert all(outbox.get(i).message_id == f"<m{n}@example.com>" for n, i in enumerate(ids))


def test_refusals_round_trip_typed_and_stored_as_code_text_pairs(outbox, tmp_path):
    entry_id = outbox.add(message(), transport=None, max_age=60)
    [entry] = outbox.claim("w:1:a", lease=5)
    refused = {"a@example.com": Refusal(550, "5.1.1 no such user"), "b@example.com": Refusal(452, "4.2.2 mailbox full")}
    outbox.finish(entry, state="failed", refused=refused)
    with sqlite3.connect(tmp_path / "o.sqlite3") as other:
        [stored] = other.execute("SELECT refused FROM messages WHERE id = ?", (entry_id,)).fetchone()
    assert json.loads(stored) == {"a@example.com": [550, "5.1.1 no such user"], "b@example.com": [452, "4.2.2 mailbox full"]}
    loaded = outbox.get(entry_id).refused
    assert loaded == refused and all(type(r) is Refusal for r in loaded.values())
    assert loaded["b@example.com"].code == 452 and loaded["b@example.com"].text == "4.2.2 mailbox full"
    assert outbox.get(entry_id).to_dict()["refused"]["a@example.com"] == {"code": 550, "message": "5.1.1 no such user"}


def test_message_info_round_trips_through_the_meta_column(outbox, tmp_path):
    info = MessageInfo(template="welcome", locale="fr", locales={"subject": "fr", "html": "fr"})
    entry_id = outbox.add(Message(message().data, "s@example.com", ("a@example.com",), "<m1@example.com>", info=info), transport=None, max_age=60)
    with sqlite3.connect(tmp_path / "o.sqlite3") as other:
        [stored] = other.execute("SELECT meta FROM messages WHERE id = ?", (entry_id,)).fetchone()
    # The same JSON the free-form meta dict was stored as, so older versions read it too.
    assert json.loads(stored) == {"locale": "fr", "locales": {"subject": "fr", "html": "fr"}, "template": "welcome"}
    [claimed] = outbox.claim("w:1:a", lease=5)
    assert claimed.info == info and claimed.message().info == info
    plain = outbox.add(Message(message(2).data, "s@example.com", ("a@example.com",), "<m2@example.com>"), transport=None, max_age=60)
    with sqlite3.connect(tmp_path / "o.sqlite3") as other:
        assert other.execute("SELECT meta FROM messages WHERE id = ?", (plain,)).fetchone() == (None,)


def test_rows_written_by_the_free_form_meta_version_still_load(tmp_path, clock):
    # Rows exactly as the version with ``Message.meta: dict`` wrote them:
    # json.dumps(meta) or NULL, refusals as {addr: [code, text]}.
    path = tmp_path / "old.sqlite3"
    Outbox(path, clock=clock).close()
    rows = [
        ('{"locale": "fr-CA", "locales": {"subject": "fr", "html": "fr-CA", "from_name": null}, "template": "welcome"}', "{}"),
        ('{"locale": "en"}', '{"a@example.com": [550, "no such user"]}'),
        (None, "{}"),
    ]
    with sqlite3.connect(path) as db:
        for n, (meta, refused) in enumerate(rows, start=1):
            db.execute(
                "INSERT INTO messages (message_id, sender, recipients, pending, refused, data, smtputf8, meta, transport,"
                " template, state, created, updated, next_attempt, expires) VALUES (?, 's@example.com', '[\"a@example.com\"]',"
                " '[\"a@example.com\"]', ?, ?, 0, ?, NULL, NULL, 'queued', 1, 1, 1, 9e9)",
                (f"<old{n}@example.com>", refused, message(n).data, meta),
            )
    outbox = Outbox(path, clock=clock)
    try:
        welcome, english, plain = (outbox.get(n, with_data=True).message().info for n in (1, 2, 3))
        assert welcome == MessageInfo(template="welcome", locale="fr-CA", locales={"subject": "fr", "html": "fr-CA", "from_name": None})
        assert english == MessageInfo(locale="en") and plain == MessageInfo()
        assert outbox.get(2).refused == {"a@example.com": Refusal(550, "no such user")}
    finally:
        outbox.close()
