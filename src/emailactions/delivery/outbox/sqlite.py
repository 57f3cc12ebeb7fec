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
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from emailactions.errors import OutboxEntryNotFound, OutboxError, Refusal
from emailactions.mime.message import Message
from emailactions.delivery.outbox.entry import Entry, STATES, info_json, pid_alive

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    recipients   TEXT    NOT NULL,              -- JSON list: the whole envelope
    pending      TEXT    NOT NULL,              -- JSON list: still to deliver
    accepted     TEXT    NOT NULL DEFAULT '[]', -- JSON list
    refused      TEXT    NOT NULL DEFAULT '{}', -- JSON {addr: [code, text]}, final
    data         BLOB    NOT NULL,
    smtputf8     INTEGER NOT NULL,
    meta         TEXT,                          -- JSON {template, locale, locales}
    transport    TEXT,
    template     TEXT,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created      REAL    NOT NULL,
    updated      REAL    NOT NULL,
    next_attempt REAL    NOT NULL,
    expires      REAL    NOT NULL,
    lease_until  REAL,
    worker       TEXT,
    last_error   TEXT,                          -- JSON error body, no secrets
    rate_check   INTEGER NOT NULL DEFAULT 0     -- deferred by a rate limit: check again
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_attempt);
"""

# Everything but the message bytes, which listings never need.
_COLUMNS = (
    "id, message_id, sender, recipients, pending, accepted, refused, smtputf8, meta, transport, template, "
    "state, attempts, created, updated, next_attempt, expires, lease_until, worker, last_error, rate_check"
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
            self._migrate()
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

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise OutboxError(
                f"The outbox {self.where} has schema {version}, newer than this emailactions ({_SCHEMA_VERSION})",
                path=self.where,
            )
        if version < _SCHEMA_VERSION:
            # IF NOT EXISTS makes two processes creating it at once harmless.
            self._db.executescript(_SCHEMA + f"PRAGMA user_version={_SCHEMA_VERSION};")

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
    ) -> int:
        """Store a message as ``queued``; returns its id once committed.

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
                    ids = [
                        db.execute(
                            "INSERT INTO messages (message_id, sender, recipients, pending, data, smtputf8, meta,"
                            " transport, template, state, created, updated, next_attempt, expires, rate_check)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                            item.row,
                        ).lastrowid
                        for item in batch
                    ]
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
                " attempts = attempts + 1, updated = :now WHERE id IN ("
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
            # The lease value itself is the token: threads of one worker share
            # its id, so only an unchanged lease proves nobody re-claimed it.
            cursor = db.execute(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'in-flight'"
                " AND lease_until = ? AND lease_until > ?",
                (now + lease, entry.id, entry.worker, entry.lease_until, now),
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

        Only the worker holding the lease may write: if the lease ran out and
        another worker took the message, this returns False and changes nothing.
        ``uncount`` gives back the attempt a claim counted (a rate-limit deferral).
        """
        if state not in STATES or state == "in-flight":
            raise ValueError(f"bad final state {state!r}")
        now = self.clock()
        with self._sql() as db:
            cursor = db.execute(
                "UPDATE messages SET state = ?, pending = ?, accepted = ?, refused = ?, next_attempt = ?,"
                " last_error = COALESCE(?, last_error), rate_check = ?, attempts = attempts - ?, updated = ?,"
                " lease_until = NULL WHERE id = ? AND worker = ? AND state = 'in-flight'",
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
                    entry.worker,
                ),
            )
            return cursor.rowcount == 1

    def reclaim_dead(self, *, own_pid: int | None = None) -> int:
        """Expire the leases of workers on this machine whose process is gone.

        Saves waiting out the lease after a crash; workers elsewhere (another
        machine sharing the file) are left to their lease.
        """
        if os.name != "posix":
            return 0
        me = socket.gethostname()
        own_pid = own_pid if own_pid is not None else os.getpid()
        with self._sql() as db:
            workers = [r[0] for r in db.execute("SELECT DISTINCT worker FROM messages WHERE state = 'in-flight'")]
        dead = []
        for worker in workers:
            # host:pid:nonce, and a host name may itself hold colons.
            parts = (worker or "").rsplit(":", 2)
            if len(parts) != 3 or parts[0] != me or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid != own_pid and not pid_alive(pid):
                dead.append(worker)
        if not dead:
            return 0
        with self._sql() as db:
            count = 0
            for worker in dead:
                count += db.execute(
                    "UPDATE messages SET lease_until = 0 WHERE state = 'in-flight' AND worker = ?", (worker,)
                ).rowcount
        return count

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
