"""Outbox schema versions, per backend: each step's SQL, applied in order by ``migrate``.

``emailactions outbox migrate --print-sql`` prints the steps a database
still needs, for DBAs who apply schema changes themselves. A database with a
version newer than this code knows is refused rather than guessed at.
"""

from __future__ import annotations

from emailactions.errors import OutboxError

SQLITE_MIGRATIONS: dict[int, str] = {
    1: """
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
""",
    2: """
-- Fencing token: bumped by every claim; a result is recorded only under the token it was claimed with.
ALTER TABLE messages ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
-- A retried submit with the same key stores nothing new.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_idempotency ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Heartbeats: live workers release a silent one's leases.
CREATE TABLE workers (id TEXT PRIMARY KEY, started REAL NOT NULL, heartbeat REAL NOT NULL);
""",
}

POSTGRES_MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE emailactions_outbox_schema (
    version integer PRIMARY KEY,
    applied timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE emailactions_outbox (
    id              bigserial PRIMARY KEY,
    message_id      text    NOT NULL,
    sender          text    NOT NULL,
    recipients      text    NOT NULL,                -- JSON list: the whole envelope
    pending         text    NOT NULL,                -- JSON list: still to deliver
    accepted        text    NOT NULL DEFAULT '[]',   -- JSON list
    refused         text    NOT NULL DEFAULT '{}',   -- JSON {addr: [code, text]}, final
    data            bytea   NOT NULL,
    smtputf8        boolean NOT NULL,
    meta            text,                            -- JSON {template, locale, locales}
    transport       text,
    template        text,
    state           text    NOT NULL CHECK (state IN ('queued', 'in-flight', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    created         float8  NOT NULL,                -- epoch seconds, the database's clock
    updated         float8  NOT NULL,
    next_attempt    float8  NOT NULL,
    expires         float8  NOT NULL,
    lease_until     float8,
    worker          text,
    token           bigint  NOT NULL DEFAULT 0,      -- fencing token, bumped by every claim
    last_error      text,                            -- JSON error body, no secrets
    rate_check      boolean NOT NULL DEFAULT false,
    idempotency_key text
);
CREATE INDEX emailactions_outbox_due ON emailactions_outbox (next_attempt) WHERE state = 'queued';
CREATE INDEX emailactions_outbox_leases ON emailactions_outbox (lease_until) WHERE state = 'in-flight';
CREATE UNIQUE INDEX emailactions_outbox_idempotency ON emailactions_outbox (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE emailactions_outbox_workers (
    id        text PRIMARY KEY,                      -- host:pid:nonce
    started   float8 NOT NULL,
    heartbeat float8 NOT NULL
);
-- Wake idle workers on every insert (they poll as well, should a notice be missed).
CREATE FUNCTION emailactions_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('emailactions_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER emailactions_outbox_queued AFTER INSERT ON emailactions_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION emailactions_outbox_notify();
""",
}


def pending_migrations(migrations: dict[int, str], current: int, where: str) -> list[tuple[int, str]]:
    """The steps after ``current``, in order; a newer database is an error."""
    latest = max(migrations)
    if current > latest:
        raise OutboxError(f"The outbox {where} has schema {current}, newer than this emailactions ({latest})", path=where)
    return [(version, migrations[version]) for version in sorted(migrations) if version > current]


def print_sql(migrations: dict[int, str], current: int, *, postgres: bool) -> str:
    """The SQL a DBA runs to go from ``current`` to the latest version, with the version bookkeeping."""
    out = []
    for version, script in pending_migrations(migrations, current, "database"):
        out.append(f"-- emailactions outbox schema version {version}")
        out.append(script.strip())
        if postgres:
            out.append(f"INSERT INTO emailactions_outbox_schema (version) VALUES ({version});")
        else:
            out.append(f"PRAGMA user_version = {version};")
    if postgres and out:
        out = ["BEGIN;", *out, "COMMIT;"]
    return "\n".join(out) + ("\n" if out else "")
