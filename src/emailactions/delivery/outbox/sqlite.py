"""Outbox: the SQLite table where submitted messages wait until delivered or refused.

A message is inserted (and the insert committed) before ``send`` answers
"Email submitted", so a crash after that answer cannot lose it. Workers take
due messages with a lease: a row is ``in-flight`` only until ``lease_until``,
after which any worker may take it again, so a worker that died mid-send
never strands mail. This module only stores state; :mod:`.worker` decides
what happens to a message.

States::

    queued ──claim──> in-flight ──accepted──> sent
      ^                  │  └────refused / gave up──> failed
      └──temporary error─┘     (operator "retry" puts failed back to queued)
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from emailactions.errors import OutboxEntryNotFound, OutboxError, Refusal
from emailactions.mime.message import Message
from emailactions.delivery.outbox.entry import Entry, STATES, dead_local_workers, info_json
from emailactions.delivery.outbox.schema import SQLITE_MIGRATIONS, pending_migrations

# Everything but the message bytes, which listings never need.
_COLUMNS = (
    "id, message_id, sender, recipients, pending, accepted, refused, smtputf8, meta, transport, template, "
    "state, attempts, created, updated, next_attempt, expires, lease_until, worker, token, last_error, rate_check"
)


@dataclass
class _Pending:
    """A row waiting for a group commit, and what became of it."""

    row: tuple[Any, ...]
    id: int | None = None
    error: sqlite3.Error | None = None


class Outbox:
    """The outbox table in one SQLite database (a file, or memory when ``path`` is None).

    One connection per instance, used under a lock, so an instance is safe to
    share between threads; separate processes share a file through SQLite's
    own locking (WAL mode, so readers never block the writer).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        synchronous: str = "full",
        clock: Callable[[], float] = time.time,
        migrate: bool = True,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.clock = clock
        self._lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: each statement commits on its own, and
            # explicit BEGIN IMMEDIATE where several must go together.
            self._db = sqlite3.connect(
                str(self.path) if self.path else ":memory:", isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.row_factory = sqlite3.Row
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            # FULL fsyncs every commit: "Email submitted" then survives power
            # loss, not only a crash. NORMAL is enough where a lost commit only
            # means a message is tried once more (worker state changes).
            self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
            if migrate:
                self._migrate(self._db)
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"Cannot open the outbox {self.where}: {exc}", path=self.where) from exc

    @property
    def where(self) -> str:
        """The file path, or ``:memory:``."""
        return str(self.path) if self.path else ":memory:"

    @property
    def durable(self) -> bool:
        """Whether a message survives the process (file, not memory)."""
        return self.path is not None

    def schema_version(self) -> int:
        with self._sql() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[int]:
        """Bring the schema up to date, in one write transaction; the versions applied."""
        with self._sql() as db:
            return self._migrate(db)

    def _migrate(self, db: sqlite3.Connection) -> list[int]:
        if db.execute("PRAGMA user_version").fetchone()[0] == max(SQLITE_MIGRATIONS):
            return []  # the common case, without taking the write lock
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the lock: another process may have just migrated.
            steps = pending_migrations(SQLITE_MIGRATIONS, db.execute("PRAGMA user_version").fetchone()[0], self.where)
            for version, script in steps:
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise
        return [version for version, _ in steps]

    @contextmanager
    def _sql(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with SQLite errors mapped at this boundary."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.rollback()
                raise OutboxError(f"Outbox {self.where} failed: {exc}", path=self.where) from exc

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            self._db.close()

    # -- writing ---------------------------------------------------------

    def add(
        self,
        message: Message,
        *,
        transport: str | None,
        template: str | None = None,
        max_age: float,
        delay: float = 0.0,
        rate_check: bool = False,
        idempotency_key: str | None = None,
    ) -> int:
        """Store a message as ``queued``; returns its id once committed.

        With ``idempotency_key``, a second add with the same key stores
        nothing and returns the first message's id.

        Group commit: threads that submit while another thread's commit is
        under way are written together by the next one in, in one transaction
        and one fsync, so concurrent submitters do not queue up behind the disk.
        """
        now = self.clock()
        pending = _Pending(
            (
                message.message_id,
                message.sender,
                json.dumps(list(message.recipients)),
                json.dumps(list(message.recipients)),
                message.data,
                int(message.smtputf8),
                info_json(message.info),
                transport,
                template,
                now,
                now,
                now + delay,
                now + max_age,
                int(rate_check),
                idempotency_key,
            )
        )
        with self._queue_lock:
            self._queue.append(pending)
        with self._sql() as db:
            if pending.id is None and pending.error is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    db.execute("BEGIN IMMEDIATE")
                    ids = [_insert(db, item.row) for item in batch]
                    db.execute("COMMIT")
                except BaseException as exc:
                    # Every submitter in this group commit learns why, not just this one.
                    for item in batch:
                        item.error = exc
                    raise
                for item, row_id in zip(batch, ids):
                    item.id = int(row_id or 0)
        if pending.error is not None:
            raise OutboxError(f"Outbox {self.where} failed: {pending.error}", path=self.where) from pending.error
        assert pending.id is not None
        return pending.id

    def claim(self, worker: str, *, limit: int = 1, lease: float) -> list[Entry]:
        """Take up to ``limit`` due messages: queued ones whose time has come,
        and in-flight ones whose lease ran out (their worker died).

        One UPDATE ... RETURNING, so two workers never take the same row.
        ``attempts`` counts here, before sending: a message that kills its
        worker every time still runs out of attempts.
        """
        now = self.clock()
        with self._sql() as db:
            # Two index searches, no sort: an OR or an ORDER BY over both
            # states would sort every due row on every claim.
            rows = db.execute(
                "UPDATE messages SET state = 'in-flight', worker = :worker, lease_until = :until,"
                " attempts = attempts + 1, token = token + 1, updated = :now WHERE id IN ("
                " SELECT id FROM messages WHERE state = 'in-flight' AND lease_until < :now"
                " UNION ALL SELECT id FROM (SELECT id FROM messages WHERE state = 'queued' AND next_attempt <= :now"
                " ORDER BY next_attempt LIMIT :limit) LIMIT :limit) RETURNING *",
                {"worker": worker, "until": now + lease, "now": now, "limit": limit},
            ).fetchall()
        return sorted((Entry._from_row(r) for r in rows), key=lambda e: e.id)

    def renew(self, entry: Entry, *, lease: float) -> bool:
        """Extend a claimed entry's lease to ``lease`` seconds from now.

        False if the lease already ran out (another worker may own the entry).
        Entries claimed together share a lease; renewing before each send
        keeps a slow batch from outliving it.
        """
        now = self.clock()
        with self._sql() as db:
            cursor = db.execute(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND token = ? AND state = 'in-flight' AND lease_until > ?",
                (now + lease, entry.id, entry.token, now),
            )
            return cursor.rowcount == 1

    def finish(
        self,
        entry: Entry,
        *,
        state: str,
        pending: Iterable[str] = (),
        accepted: Iterable[str] = (),
        refused: Mapping[str, Refusal] | None = None,
        next_attempt: float | None = None,
        error: Mapping[str, Any] | None = None,
        rate_check: bool = False,
        uncount: bool = False,
    ) -> bool:
        """Record what happened to a claimed message.

        Only under the claim's fencing token: if the lease ran out and another
        worker took the message, this returns False and changes nothing.
        ``uncount`` gives back the attempt a claim counted (a rate-limit deferral).
        """
        if state not in STATES or state == "in-flight":
            raise ValueError(f"bad final state {state!r}")
        now = self.clock()
        with self._sql() as db:
            cursor = db.execute(
                "UPDATE messages SET state = ?, pending = ?, accepted = ?, refused = ?, next_attempt = ?,"
                " last_error = COALESCE(?, last_error), rate_check = ?, attempts = attempts - ?, updated = ?,"
                " lease_until = NULL WHERE id = ? AND token = ? AND state = 'in-flight'",
                (
                    state,
                    json.dumps(list(pending)),
                    json.dumps(list(accepted)),
                    json.dumps(dict(refused or {})),  # a Refusal is a tuple: [code, text]
                    next_attempt if next_attempt is not None else now,
                    json.dumps(error, default=str) if error is not None else None,
                    int(rate_check),
                    int(uncount),
                    now,
                    entry.id,
                    entry.token,
                ),
            )
            return cursor.rowcount == 1

    def reclaim_dead(self, *, own_pid: int | None = None) -> int:
        """Expire the leases of workers on this machine whose process is gone."""
        with self._sql() as db:
            workers = [r[0] for r in db.execute("SELECT DISTINCT worker FROM messages WHERE state = 'in-flight'")]
        return self._expire_leases(dead_local_workers(workers, own_pid))

    def heartbeat(self, worker: str) -> None:
        """Say ``worker`` is alive."""
        now = self.clock()
        with self._sql() as db:
            db.execute(
                "INSERT INTO workers (id, started, heartbeat) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat = ?",
                (worker, now, now, now),
            )

    def retire(self, worker: str) -> None:
        """A worker that stopped cleanly leaves the workers table."""
        with self._sql() as db:
            db.execute("DELETE FROM workers WHERE id = ?", (worker,))

    def release_dead(self, dead_after: float) -> int:
        """Expire the leases of workers silent for ``dead_after`` seconds; how many."""
        with self._sql() as db:
            dead = [r[0] for r in db.execute("DELETE FROM workers WHERE heartbeat < ? RETURNING id", (self.clock() - dead_after,))]
        return self._expire_leases(dead)

    def release_orphans(self, worker: str, keep: Iterable[int], older_than: float) -> int:
        """Expire ``worker``'s leases on rows it is not working on, claimed over ``older_than`` seconds ago
        (a claim committed whose answer never came back)."""
        keep = list(keep)
        with self._sql() as db:
            return db.execute(
                "UPDATE messages SET lease_until = 0 WHERE state = 'in-flight' AND worker = ? AND updated < ?"
                f" AND id NOT IN ({', '.join('?' * len(keep))})",
                (worker, self.clock() - older_than, *keep),
            ).rowcount

    def _expire_leases(self, workers: list[str]) -> int:
        if not workers:
            return 0
        with self._sql() as db:
            return db.execute(
                f"UPDATE messages SET lease_until = 0 WHERE state = 'in-flight' AND worker IN ({', '.join('?' * len(workers))})",
                workers,
            ).rowcount

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """No notifications in SQLite: workers of other processes poll."""

    # -- operator control ------------------------------------------------

    def retry(self, ids: Iterable[int] = (), *, states: Iterable[str] = (), max_age: float) -> int:
        """Put failed (or queued) messages back to queued, due now, with a fresh
        attempt budget and age: the operator fixed whatever made them fail.

        A failed message is retried for every recipient that did not accept it.
        """
        ids, states = list(ids), list(states)
        if not set(states) <= {"queued", "failed"}:
            raise ValueError("only queued or failed messages can be retried")
        where, args = self._selection(ids, states or (["queued", "failed"] if ids else []))
        if not where:
            return 0
        now = self.clock()
        with self._sql() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                f"SELECT id, state, recipients, pending, accepted FROM messages WHERE state IN ('queued', 'failed') AND ({where})",
                args,
            ).fetchall()
            for row in rows:
                pending = json.loads(row["pending"])
                if row["state"] == "failed":
                    accepted = set(json.loads(row["accepted"]))
                    pending = [a for a in json.loads(row["recipients"]) if a not in accepted]
                db.execute(
                    "UPDATE messages SET state = 'queued', pending = ?, refused = CASE WHEN state = 'failed' THEN '{}'"
                    " ELSE refused END, next_attempt = ?, expires = ?, attempts = 0, rate_check = 0, updated = ?"
                    " WHERE id = ?",
                    (json.dumps(pending), now, now + max_age, now, row["id"]),
                )
            db.execute("COMMIT")
        return len(rows)

    def purge(self, ids: Iterable[int] = (), *, states: Iterable[str] = (), older_than: float | None = None) -> int:
        """Delete messages; never one in flight (a worker is sending it)."""
        ids, states = list(ids), list(states)
        if "in-flight" in states:
            raise ValueError("in-flight messages cannot be purged")
        where, args = self._selection(ids, states)
        if not where:
            return 0
        if older_than is not None:
            where = f"({where}) AND updated < ?"
            args.append(self.clock() - older_than)
        with self._sql() as db:
            return db.execute(f"DELETE FROM messages WHERE state != 'in-flight' AND ({where})", args).rowcount

    @staticmethod
    def _selection(ids: list[int], states: list[str]) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if ids:
            clauses.append(f"id IN ({', '.join('?' * len(ids))})")
            args.extend(ids)
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(states)
        # ids and states together: those ids, only in those states.
        return " AND ".join(clauses), args

    # -- reading ---------------------------------------------------------

    def get(self, entry_id: int, *, with_data: bool = False) -> Entry:
        """One entry, or :class:`OutboxEntryNotFound`."""
        columns = _COLUMNS + (", data" if with_data else "")
        with self._sql() as db:
            row = db.execute(f"SELECT {columns} FROM messages WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise OutboxEntryNotFound(f"No outbox entry {entry_id}", id=entry_id)
        return Entry._from_row(row)

    def list(self, *, states: Iterable[str] = (), limit: int = 100, offset: int = 0) -> list[Entry]:
        """Entries, newest first, optionally in some states only."""
        states = list(states)
        where = f"WHERE state IN ({', '.join('?' * len(states))})" if states else ""
        with self._sql() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM messages {where} ORDER BY id DESC LIMIT ? OFFSET ?", (*states, limit, offset)
            ).fetchall()
        return [Entry._from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many messages are in each state (every state listed)."""
        with self._sql() as db:
            rows = dict(db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state").fetchall())
        return {state: rows.get(state, 0) for state in STATES}

    def next_due(self) -> float | None:
        """When the next queued message is due, or an in-flight lease runs out."""
        with self._sql() as db:
            row = db.execute(
                "SELECT MIN(t) FROM (SELECT MIN(next_attempt) AS t FROM messages WHERE state = 'queued'"
                " UNION ALL SELECT MIN(lease_until) FROM messages WHERE state = 'in-flight')"
            ).fetchone()
        return row[0]

    def unfinished(self) -> int:
        """Messages queued or in flight."""
        counts = self.counts()
        return counts["queued"] + counts["in-flight"]


def _insert(db: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """One row; with an idempotency key already stored, the first row's id instead."""
    cursor = db.execute(
        "INSERT INTO messages (message_id, sender, recipients, pending, data, smtputf8, meta, transport, template, state,"
        " created, updated, next_attempt, expires, rate_check, idempotency_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id",
        row,
    ).fetchone()
    if cursor is None:
        cursor = db.execute("SELECT id FROM messages WHERE idempotency_key = ?", (row[-1],)).fetchone()
    return int(cursor[0])


def _statements(script: str) -> Iterator[str]:
    """A migration script's statements one by one (``executescript`` would commit our transaction)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buffer.splitlines()):
        yield buffer
