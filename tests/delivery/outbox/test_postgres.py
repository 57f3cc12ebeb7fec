"""The PostgreSQL outbox: the contract every backend meets, on a real server the suite
starts (tests/support/postgres.py), and what is PostgreSQL's own: the database's
clock, schema versions, NOTIFY, and a clear 503 while the database is away."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from emailactions.delivery.outbox.postgres import PostgresOutbox, redact
from emailactions.delivery.outbox.schema import POSTGRES_MIGRATIONS, print_sql
from emailactions.errors import OutboxError, OutboxUnavailable
from support.outbox_contract import OutboxContract, message
from support.postgres import free_port


class TestPostgresContract(OutboxContract):
    latest = max(POSTGRES_MIGRATIONS)

    @pytest.fixture(autouse=True)
    def _url(self, postgres):
        self.url = postgres.create_schema()

    def make(self, clock):
        return PostgresOutbox(self.url, clock=clock)

    def stored(self, outbox, entry_id, column):
        with psycopg.connect(self.url) as other:
            return other.execute(f"SELECT {column} FROM emailactions_outbox WHERE id = %s", (entry_id,)).fetchone()[0]


@pytest.fixture
def url(postgres):
    return postgres.create_schema()


def test_times_come_from_the_database_clock(url):
    outbox = PostgresOutbox(url)
    try:
        entry_id = outbox.add(message(), transport=None, max_age=60)
        with psycopg.connect(url) as other:
            db_now = other.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8").fetchone()[0]
        entry = outbox.get(entry_id)
        assert db_now - 5 < entry.created <= db_now and entry.expires == pytest.approx(entry.created + 60)
        [claimed] = outbox.claim("w:1:a", lease=30)
        assert claimed.lease_until == pytest.approx(claimed.updated + 30)
        assert abs(outbox.clock() - db_now) < 5
    finally:
        outbox.close()


def test_a_newer_schema_is_refused_and_print_sql_lists_the_steps(url):
    PostgresOutbox(url).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO emailactions_outbox_schema (version) VALUES (99)")
    with pytest.raises(OutboxError, match="newer"):
        PostgresOutbox(url)
    sql = print_sql(POSTGRES_MIGRATIONS, 0, postgres=True)
    assert sql.startswith("BEGIN;") and "FOR EACH STATEMENT" in sql and "VALUES (1);" in sql and sql.rstrip().endswith("COMMIT;")


def test_print_sql_applied_by_hand_gives_a_schema_the_outbox_accepts(url):
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(print_sql(POSTGRES_MIGRATIONS, 0, postgres=True))
    outbox = PostgresOutbox(url, migrate=False)
    try:
        assert outbox.schema_version() == max(POSTGRES_MIGRATIONS) and outbox.migrate() == []
        assert outbox.add(message(), transport=None, max_age=60) == 1
    finally:
        outbox.close()


def test_an_insert_notifies_listeners(url):
    outbox = PostgresOutbox(url)
    stop, woken = threading.Event(), threading.Event()
    calls = []

    def wake():
        calls.append(time.monotonic())
        if len(calls) > 1:  # the first call is the one made on (re)connecting
            woken.set()

    listener = threading.Thread(target=outbox.listen, args=(wake, stop), daemon=True)
    listener.start()
    try:
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        outbox.add(message(), transport=None, max_age=60)
        assert woken.wait(5)
    finally:
        stop.set()
        listener.join(5)
        outbox.close()
    assert not listener.is_alive()


def test_an_unreachable_database_is_a_503_naming_it_without_the_password():
    url = f"postgresql://mail:s3cret@127.0.0.1:{free_port()}/outbox"
    started = time.monotonic()
    with pytest.raises(OutboxUnavailable) as info:
        PostgresOutbox(url, connect_timeout=1)
    assert info.value.code == 503 and info.value.kind == "outbox_unavailable"
    assert "s3cret" not in info.value.message and "mail:***@127.0.0.1" in info.value.detail["path"]
    assert time.monotonic() - started < 10
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_password_in_the_query_string_is_redacted_too():
    url = f"postgresql://mail@127.0.0.1:{free_port()}/outbox?sslmode=disable&password=Qu3ry-Secret"
    with pytest.raises(OutboxUnavailable) as info:
        PostgresOutbox(url, connect_timeout=1)
    assert "Qu3ry-Secret" not in info.value.message and "Qu3ry-Secret" not in str(info.value.detail)
    assert redact(url).endswith("?sslmode=disable&password=***")


def test_workers_connections_skip_the_fsync_wait_and_keep_the_urls_options(url):
    # "normal" is what the dispatcher opens its worker's outbox with: a lost result is one more attempt.
    for synchronous, expected in (("normal", "off"), ("full", "on")):
        outbox = PostgresOutbox(url, synchronous=synchronous)
        try:
            with outbox._sql() as db:
                assert db.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == expected
            assert outbox.add(message(), transport=None, max_age=60)  # the URL's search_path still holds
        finally:
            outbox.close()
