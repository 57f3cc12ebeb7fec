"""The SQLite outbox: the contract every backend meets, and what is SQLite's own (WAL, the
file, ``PRAGMA user_version``, reclaiming leases of dead local processes)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from emailactions.errors import OutboxError, Refusal
from emailactions.mime.message import MessageInfo
from emailactions.delivery.outbox.sqlite import Outbox
from emailactions.delivery.outbox.entry import worker_id
from emailactions.delivery.outbox.schema import SQLITE_MIGRATIONS
from support.outbox_contract import Clock, OutboxContract, message


class TestSqliteContract(OutboxContract):
    latest = max(SQLITE_MIGRATIONS)

    @pytest.fixture(autouse=True)
    def _dir(self, tmp_path):
        self.dir = tmp_path

    def make(self, clock):
        return Outbox(self.dir / "o.sqlite3", clock=clock)

    def stored(self, outbox, entry_id, column):
        with sqlite3.connect(outbox.path) as other:
            return other.execute(f"SELECT {column} FROM messages WHERE id = ?", (entry_id,)).fetchone()[0]


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


def test_a_version_1_file_is_migrated_in_place_and_its_leases_stay_fenced(tmp_path, clock):
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SQLITE_MIGRATIONS[1] + "PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO messages (message_id, sender, recipients, pending, data, smtputf8, state, created, updated,"
            " next_attempt, expires, lease_until, worker, attempts) VALUES ('<old@example.com>', 's@example.com',"
            " '[\"a@example.com\"]', '[\"a@example.com\"]', ?, 0, 'in-flight', 1, 1, 1, 9e9, 5, 'old:1:x', 1)",
            (message().data,),
        )
    outbox = Outbox(path, clock=clock)
    try:
        assert outbox.schema_version() == max(SQLITE_MIGRATIONS)
        stale = outbox.get(1)
        assert stale.token == 0
        [taken] = outbox.claim("new:2:y", lease=5)  # the old lease ran out long ago
        assert taken.message_id == "<old@example.com>" and taken.token == 1
        assert outbox.finish(stale, state="sent", accepted=["a@example.com"]) is False
    finally:
        outbox.close()


def test_print_sql_gives_the_steps_a_database_still_needs():
    from emailactions.delivery.outbox.schema import print_sql

    assert "ADD COLUMN token" in print_sql(SQLITE_MIGRATIONS, 1, postgres=False)
    assert "CREATE TABLE IF NOT EXISTS messages" not in print_sql(SQLITE_MIGRATIONS, 1, postgres=False)
    assert print_sql(SQLITE_MIGRATIONS, max(SQLITE_MIGRATIONS), postgres=False) == ""
