"""Outbox on PostgreSQL: one table shared by app hosts and workers on any number of machines.

The same contract as :mod:`.sqlite` (durable before "Email submitted",
leases with fencing tokens, per-recipient state, operator control), built
for many writers: claims take rows with ``FOR UPDATE SKIP LOCKED`` (two
workers never get one row, and never wait on each other), every time is the
database's clock (hosts' clocks may disagree), an insert wakes idle workers
through ``LISTEN/NOTIFY``, and workers' heartbeats let live ones release a
dead one's leases in seconds.

Connections come from a ``psycopg_pool`` pool that checks each one before
use, so a database restart or a killed backend costs the callers during the
outage a clear :class:`~emailactions.errors.OutboxUnavailable` (503), and
nothing after it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping

from emailactions.delivery.outbox.entry import STATES, Entry, dead_local_workers, info_json
from emailactions.delivery.outbox.schema import POSTGRES_MIGRATIONS, pending_migrations
from emailactions.errors import EngineUnavailable, OutboxEntryNotFound, OutboxError, OutboxUnavailable, Refusal
from emailactions.mime.message import Message

log = logging.getLogger("emailactions.outbox")

CHANNEL = "emailactions_outbox"
# The database clock, unless a test fixed one (%(now)s). statement_timestamp()
# is one value for the whole statement, however often it appears.
NOW = "COALESCE(%(now)s::float8, EXTRACT(EPOCH FROM statement_timestamp())::float8)"
_COLUMNS = (
    "id, message_id, sender, recipients, pending, accepted, refused, smtputf8, meta, transport, template, "
    "state, attempts, created, updated, next_attempt, expires, lease_until, worker, token, last_error, rate_check"
)
# A lost result write is retried this long: the lease is still ours meanwhile.
_FINISH_PATIENCE = 30.0


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise EngineUnavailable(
            "The PostgreSQL outbox needs psycopg 3: pip install 'emailactions[postgres]'", key="outbox.url"
        ) from exc
    return psycopg, psycopg_pool


def redact(url: str) -> str:
    """The URL without its password (in the user part or libpq's ``?password=``),
    for messages and ``where``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[-1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        parts = parts._replace(query=urlencode([(k, "***" if k == "password" else v) for k, v in query], safe="*"))
    return urlunsplit(parts)


class PostgresOutbox:
    """The outbox tables in one PostgreSQL database; safe to share between threads."""

    durable = True

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        connect_timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
        migrate: bool = True,
        synchronous: str = "full",
    ) -> None:
        self.psycopg, pool_module = _psycopg()
        self.url = url
        self.where = redact(url)
        self._fixed_clock = clock
        self._skew = 0.0
        self._timeout = connect_timeout
        self._pool_timeout = pool_module.PoolTimeout
        self._pool = pool_module.ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            # "normal" (workers' results): a commit lost in a crash only means one
            # more attempt, with the same Message-ID; submits keep "full". A SET,
            # not libpq options, so the URL's own options stay.
            configure=_no_fsync_wait if synchronous == "normal" else None,
            # A connection the server dropped (restart, pg_terminate_backend) is
            # found here and replaced, not handed to a submitter. Workers skip
            # the extra round trip: they retry a failed claim or result anyway.
            check=pool_module.ConnectionPool.check_connection if synchronous == "full" else None,
            timeout=connect_timeout,
            open=False,
            name="emailactions-outbox",
        )
        # One direct connection first: a database that refuses it is a 503
        # now, not after the pool's connect timeout.
        with self._errors(), self.psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(connect_timeout))) as db:
            db.row_factory = self.psycopg.rows.dict_row
            db_now = db.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8 AS t").fetchone()["t"]
            self._skew = db_now - time.time()
            if migrate:
                self._migrate(db)
        self._pool.open(wait=False)

    # -- plumbing --------------------------------------------------------

    def clock(self) -> float:
        """Now by the database's clock (this host's clock corrected by the skew seen at connect)."""
        return self._fixed_clock() if self._fixed_clock is not None else time.time() + self._skew

    def _now(self) -> float | None:
        return self._fixed_clock() if self._fixed_clock is not None else None

    @contextmanager
    def _sql(self) -> Iterator[Any]:
        """A pooled connection (autocommit), with driver errors mapped at this boundary."""
        with self._errors(), self._pool.connection(timeout=self._timeout) as conn:
            conn.row_factory = self.psycopg.rows.dict_row
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver and pool errors as outbox errors: unreachable is 503 (try again), the rest 500."""
        psycopg = self.psycopg
        try:
            yield
        except psycopg.OperationalError as exc:
            raise OutboxUnavailable(f"The outbox database {self.where} is unavailable: {exc}", path=self.where) from exc
        except psycopg.Error as exc:
            raise OutboxError(f"Outbox {self.where} failed: {exc}", path=self.where) from exc
        except self._pool_timeout as exc:  # no connection came in time: the server is away
            raise OutboxUnavailable(f"The outbox database {self.where} is unavailable: {exc}", path=self.where) from exc

    def close(self) -> None:
        """Close every connection; idempotent."""
        self._pool.close()

    def schema_version(self) -> int:
        with self._sql() as db:
            exists = db.execute("SELECT to_regclass('emailactions_outbox_schema') IS NOT NULL AS e").fetchone()["e"]
            if not exists:
                return 0
            row = db.execute("SELECT MAX(version) AS v FROM emailactions_outbox_schema").fetchone()
            return int(row["v"] or 0)

    def migrate(self) -> list[int]:
        """Bring the schema up to date (one transaction, serialized by an advisory lock); the versions applied."""
        with self._sql() as db:
            return self._migrate(db)

    def _migrate(self, db: Any) -> list[int]:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(hashtext('emailactions_outbox_schema'))")
            exists = db.execute("SELECT to_regclass('emailactions_outbox_schema') IS NOT NULL AS e").fetchone()["e"]
            current = 0
            if exists:
                current = int(db.execute("SELECT MAX(version) AS v FROM emailactions_outbox_schema").fetchone()["v"] or 0)
            steps = pending_migrations(POSTGRES_MIGRATIONS, current, self.where)
            for version, script in steps:
                db.execute(script)
                db.execute("INSERT INTO emailactions_outbox_schema (version) VALUES (%s)", (version,))
        return [version for version, _ in steps]

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
        """
        args = {
            "now": self._now(), "message_id": message.message_id, "sender": message.sender,
            "recipients": json.dumps(list(message.recipients)), "data": message.data, "smtputf8": message.smtputf8,
            "meta": info_json(message.info), "transport": transport, "template": template, "delay": delay,
            "max_age": max_age, "rate_check": rate_check, "key": idempotency_key,
        }  # fmt: skip
        with self._sql() as db:
            row = db.execute(
                "INSERT INTO emailactions_outbox (message_id, sender, recipients, pending, data, smtputf8, meta,"
                " transport, template, state, created, updated, next_attempt, expires, rate_check, idempotency_key)"
                f" VALUES (%(message_id)s, %(sender)s, %(recipients)s, %(recipients)s, %(data)s, %(smtputf8)s, %(meta)s,"
                f" %(transport)s, %(template)s, 'queued', {NOW}, {NOW}, {NOW} + %(delay)s, {NOW} + %(max_age)s,"
                " %(rate_check)s, %(key)s) ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
                " RETURNING id",
                args,
            ).fetchone()
            if row is None:
                row = db.execute("SELECT id FROM emailactions_outbox WHERE idempotency_key = %s", (idempotency_key,)).fetchone()
                if row is None:  # the first one was purged between the two statements
                    raise OutboxError("The message with that idempotency key was just purged; submit again", path=self.where)
        return int(row["id"])

    def claim(self, worker: str, *, limit: int = 1, lease: float) -> list[Entry]:
        """Take up to ``limit`` due messages (queued and due, or in flight past
        their lease) with ``FOR UPDATE SKIP LOCKED``: rows another worker is
        claiming are skipped, never waited for or taken twice. Each claim
        bumps the row's fencing ``token``."""
        with self._sql() as db:
            rows = db.execute(
                "WITH expired AS (SELECT id FROM emailactions_outbox WHERE state = 'in-flight'"
                f" AND lease_until < {NOW} ORDER BY lease_until LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
                " due AS (SELECT id FROM emailactions_outbox WHERE state = 'queued'"
                f" AND next_attempt <= {NOW} ORDER BY next_attempt LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
                " chosen AS (SELECT id FROM expired UNION ALL SELECT id FROM due LIMIT %(limit)s)"
                f" UPDATE emailactions_outbox m SET state = 'in-flight', worker = %(worker)s, lease_until = {NOW} + %(lease)s,"
                f" attempts = attempts + 1, token = token + 1, updated = {NOW} FROM chosen WHERE m.id = chosen.id"
                f" RETURNING {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))}, m.data",
                {"now": self._now(), "worker": worker, "lease": lease, "limit": limit},
            ).fetchall()
        return sorted((Entry._from_row(r) for r in rows), key=lambda e: e.id)

    def renew(self, entry: Entry, *, lease: float) -> bool:
        """Extend a claimed entry's lease; False if it ran out or another claim fenced it off."""
        with self._sql() as db:
            cursor = db.execute(
                f"UPDATE emailactions_outbox SET lease_until = {NOW} + %(lease)s WHERE id = %(id)s AND token = %(token)s"
                f" AND state = 'in-flight' AND lease_until > {NOW}",
                {"now": self._now(), "lease": lease, "id": entry.id, "token": entry.token},
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
        """Record what happened to a claimed message, only under the claim's
        fencing token: False (and nothing written) once another worker took it.

        Retried while the database is briefly away (a restart): the write is
        guarded by the token, so applying it twice is harmless.
        """
        if state not in STATES or state == "in-flight":
            raise ValueError(f"bad final state {state!r}")
        args = {
            "now": self._now(), "state": state, "pending": json.dumps(list(pending)), "accepted": json.dumps(list(accepted)),
            "refused": json.dumps(dict(refused or {})), "next": next_attempt,
            "error": json.dumps(error, default=str) if error is not None else None, "rate_check": rate_check,
            "uncount": int(uncount), "id": entry.id, "token": entry.token,
        }  # fmt: skip
        query = (
            "UPDATE emailactions_outbox SET state = %(state)s, pending = %(pending)s, accepted = %(accepted)s,"
            f" refused = %(refused)s, next_attempt = COALESCE(%(next)s::float8, {NOW}),"
            " last_error = COALESCE(%(error)s, last_error), rate_check = %(rate_check)s, attempts = attempts - %(uncount)s,"
            f" updated = {NOW}, lease_until = NULL WHERE id = %(id)s AND token = %(token)s AND state = 'in-flight'"
        )
        deadline = time.monotonic() + _FINISH_PATIENCE
        while True:
            try:
                with self._sql() as db:
                    return db.execute(query, args).rowcount == 1
            except OutboxUnavailable:
                if time.monotonic() > deadline:
                    raise
                log.warning("outbox %s: cannot record the result of %d yet; retrying", self.where, entry.id)
                time.sleep(0.2)

    # -- workers on many hosts ------------------------------------------

    def heartbeat(self, worker: str) -> None:
        """Say ``worker`` is alive (its row in the workers table, by the database clock)."""
        with self._sql() as db:
            db.execute(
                f"INSERT INTO emailactions_outbox_workers (id, started, heartbeat) VALUES (%(w)s, {NOW}, {NOW})"
                f" ON CONFLICT (id) DO UPDATE SET heartbeat = {NOW}",
                {"now": self._now(), "w": worker},
            )

    def retire(self, worker: str) -> None:
        """A worker that stopped cleanly leaves the workers table."""
        with self._sql() as db:
            db.execute("DELETE FROM emailactions_outbox_workers WHERE id = %s", (worker,))

    def release_dead(self, dead_after: float) -> int:
        """Expire the leases of workers silent for ``dead_after`` seconds, on any host; how many."""
        with self._sql() as db, db.transaction():
            dead = [
                r["id"]
                for r in db.execute(
                    f"DELETE FROM emailactions_outbox_workers WHERE heartbeat < {NOW} - %(after)s RETURNING id",
                    {"now": self._now(), "after": dead_after},
                ).fetchall()
            ]
            if not dead:
                return 0
            return db.execute(
                "UPDATE emailactions_outbox SET lease_until = 0 WHERE state = 'in-flight' AND worker = ANY(%s)", (dead,)
            ).rowcount

    def release_orphans(self, worker: str, keep: Iterable[int], older_than: float) -> int:
        """Expire ``worker``'s leases on rows it is not working on, claimed over ``older_than`` seconds ago.

        A claim whose commit reached the database but whose answer was lost
        (the connection died) would otherwise sit out the whole lease.
        """
        with self._sql() as db:
            return db.execute(
                "UPDATE emailactions_outbox SET lease_until = 0 WHERE state = 'in-flight' AND worker = %(w)s"
                f" AND id <> ALL(%(keep)s) AND updated < {NOW} - %(older)s",
                {"now": self._now(), "w": worker, "keep": list(keep), "older": older_than},
            ).rowcount

    def reclaim_dead(self, *, own_pid: int | None = None) -> int:
        """Expire the leases of workers on this machine whose process is gone."""
        with self._sql() as db:
            workers = [r["worker"] for r in db.execute("SELECT DISTINCT worker FROM emailactions_outbox WHERE state = 'in-flight'")]
            dead = dead_local_workers(workers, own_pid)
            if not dead:
                return 0
            return db.execute(
                "UPDATE emailactions_outbox SET lease_until = 0 WHERE state = 'in-flight' AND worker = ANY(%s)", (dead,)
            ).rowcount

    def listen(self, wake: Callable[[], None], stop: threading.Event, *, retry: float = 1.0) -> None:
        """Call ``wake`` whenever a message is queued, until ``stop`` is set.

        One connection of its own (LISTEN holds it); re-opened after a
        restart. While it is away, workers still poll.
        """
        psycopg = self.psycopg
        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self._timeout))) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    wake()  # anything queued while we were not listening
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            wake()
            except psycopg.Error as exc:
                log.warning("outbox %s: LISTEN connection lost (%s); polling meanwhile", self.where, exc)
                stop.wait(retry)

    # -- operator control ------------------------------------------------

    def retry(self, ids: Iterable[int] = (), *, states: Iterable[str] = (), max_age: float) -> int:
        """Put failed (or queued) messages back to queued, due now, with a fresh budget and age.

        A failed message is retried for every recipient that did not accept it.
        """
        ids, states = list(ids), list(states)
        if not set(states) <= {"queued", "failed"}:
            raise ValueError("only queued or failed messages can be retried")
        where, args = _selection(ids, states or (["queued", "failed"] if ids else []))
        if not where:
            return 0
        args.update(now=self._now(), max_age=max_age)
        with self._sql() as db, db.transaction():
            count = db.execute(
                "UPDATE emailactions_outbox SET state = 'queued',"
                " pending = CASE WHEN state = 'failed' THEN (SELECT COALESCE(json_agg(r), '[]')::text FROM"
                " json_array_elements_text(recipients::json) r WHERE NOT (accepted::jsonb ? r)) ELSE pending END,"
                " refused = CASE WHEN state = 'failed' THEN '{}' ELSE refused END,"
                f" next_attempt = {NOW}, expires = {NOW} + %(max_age)s, attempts = 0, rate_check = false, updated = {NOW}"
                f" WHERE state IN ('queued', 'failed') AND ({where})",
                args,
            ).rowcount
            if count:
                db.execute(f"NOTIFY {CHANNEL}")
        return count

    def purge(self, ids: Iterable[int] = (), *, states: Iterable[str] = (), older_than: float | None = None) -> int:
        """Delete messages; never one in flight (a worker is sending it)."""
        ids, states = list(ids), list(states)
        if "in-flight" in states:
            raise ValueError("in-flight messages cannot be purged")
        where, args = _selection(ids, states)
        if not where:
            return 0
        if older_than is not None:
            where = f"({where}) AND updated < {NOW} - %(older)s"
            args.update(now=self._now(), older=older_than)
        with self._sql() as db:
            return db.execute(f"DELETE FROM emailactions_outbox WHERE state != 'in-flight' AND ({where})", args).rowcount

    # -- reading ---------------------------------------------------------

    def get(self, entry_id: int, *, with_data: bool = False) -> Entry:
        """One entry, or :class:`OutboxEntryNotFound`."""
        columns = _COLUMNS + (", data" if with_data else "")
        with self._sql() as db:
            row = db.execute(f"SELECT {columns} FROM emailactions_outbox WHERE id = %s", (entry_id,)).fetchone()
        if row is None:
            raise OutboxEntryNotFound(f"No outbox entry {entry_id}", id=entry_id)
        return Entry._from_row(row)

    def list(self, *, states: Iterable[str] = (), limit: int = 100, offset: int = 0) -> list[Entry]:
        """Entries, newest first, optionally in some states only."""
        states = list(states)
        where = "WHERE state = ANY(%(states)s)" if states else ""
        with self._sql() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM emailactions_outbox {where} ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
                {"states": states, "limit": limit, "offset": offset},
            ).fetchall()
        return [Entry._from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many messages are in each state (every state listed)."""
        with self._sql() as db:
            rows = {r["state"]: r["n"] for r in db.execute("SELECT state, COUNT(*) AS n FROM emailactions_outbox GROUP BY state")}
        return {state: int(rows.get(state, 0)) for state in STATES}

    def next_due(self) -> float | None:
        """When the next queued message is due, or an in-flight lease runs out."""
        with self._sql() as db:
            row = db.execute(
                "SELECT LEAST((SELECT MIN(next_attempt) FROM emailactions_outbox WHERE state = 'queued'),"
                " (SELECT MIN(lease_until) FROM emailactions_outbox WHERE state = 'in-flight')) AS t"
            ).fetchone()
        return row["t"]

    def unfinished(self) -> int:
        """Messages queued or in flight."""
        counts = self.counts()
        return counts["queued"] + counts["in-flight"]


def _no_fsync_wait(conn: Any) -> None:
    conn.execute("SET synchronous_commit = off")


def _selection(ids: list[int], states: list[str]) -> tuple[str, dict[str, Any]]:
    clauses, args = [], {}
    if ids:
        clauses.append("id = ANY(%(ids)s)")
        args["ids"] = ids
    if states:
        clauses.append("state = ANY(%(states)s)")
        args["states"] = states
    # ids and states together: those ids, only in those states.
    return " AND ".join(clauses), args
