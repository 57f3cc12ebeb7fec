"""Workers on a shared PostgreSQL outbox, when things break: a worker SIGKILLed mid-send,
a worker stalled past its lease, the database restarted (fast and immediate) or its
connections killed under load, a poison message. Real processes, a real server, real SMTP.

In every case: nothing acknowledged ("Email submitted") is lost, duplicates come only
from messages a dead or fenced-off worker held, with the same Message-ID.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from emailactions import ActionHost, OutboxUnavailable
from support import wait_for
from support.outbox_contract import message
from support.smtp_server import SMTPServer

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and Debian's PostgreSQL")


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def url(postgres):
    return postgres.create_schema()


def config(tmp_path: Path, smtp_port: int, url: str, **outbox) -> Path:
    settings = {"url": url, "workers": 0, "backoff": 0.01, "backoff_max": 0.05, "poll_interval": 0.05, "dead_after": 1.0, **outbox}
    path = tmp_path / "emailactions.toml"
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items())
    path.write_text(
        f'[email]\nfrom = "openidm@example.com"\n[transports.default]\nbackend = "smtp"\nhost = "127.0.0.1"\n'
        f"port = {smtp_port}\ntimeout = 5\npool_size = 4\n[outbox]\n{lines}\n[rate_limits]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def start_worker(path: Path, threads: int = 2) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "emailactions", "--config", str(path), "worker", "--threads", str(threads), "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def stop_worker(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def submit(host: ActionHost, n: int) -> dict:
    return host.action("external/email", "send", {"to": f"user{n}@example.com", "subject": f"m{n}", "body": "x" * 200}, wait_for_completion=False)


def rows(url: str) -> dict[str, str]:
    with psycopg.connect(url) as db:
        return dict(db.execute("SELECT message_id, state FROM emailactions_outbox").fetchall())


def held_by(url: str, pid: int) -> set[str]:
    with psycopg.connect(url) as db:
        found = db.execute("SELECT message_id, worker FROM emailactions_outbox WHERE state = 'in-flight'").fetchall()
    return {mid for mid, worker in found if worker.rsplit(":", 2)[1] == str(pid)}


def in_flight(url: str) -> set[str]:
    with psycopg.connect(url) as db:
        return {r[0] for r in db.execute("SELECT message_id FROM emailactions_outbox WHERE state = 'in-flight'")}


def live_workers(url: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute("SELECT count(*) FROM emailactions_outbox_workers").fetchone()[0]


def received(smtp: SMTPServer) -> collections.Counter:
    return collections.Counter(m.message["Message-ID"] for m in smtp.messages)


def all_sent(url: str, count: int):
    def check():
        states = rows(url)
        return len(states) == count and set(states.values()) == {"sent"}

    return check


def test_a_worker_killed_mid_send_loses_nothing_and_live_workers_take_over_in_seconds(tmp_path, smtp, url):
    smtp.handler.stall = lambda received: 0.01
    # lease 900 s (the default): only heartbeats can explain a quick takeover. dead_after leaves
    # room for a loaded machine's late heartbeats, and for reading what the killed worker held.
    path = config(tmp_path, smtp.port, url, dead_after=3.0)
    with ActionHost(path, load_entry_points=False) as host:
        acknowledged = {submit(host, n)["messageId"] for n in range(150)}
    victim, survivor = start_worker(path), start_worker(path)
    try:
        wait_for(lambda: len(smtp.messages) >= 20, timeout=30)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        held = held_by(url, victim.pid)
        killed_at = time.monotonic()
        wait_for(lambda: not held & in_flight(url), timeout=60)
        took = time.monotonic() - killed_at  # until the killed worker's messages were taken over
        wait_for(all_sent(url, 150), timeout=90)
    finally:
        stop_worker(victim)
        err = stop_worker(survivor)
    counts = received(smtp)
    assert acknowledged == set(counts)  # every acknowledged message arrived, nothing else
    duplicated = {mid for mid, n in counts.items() if n > 1}
    assert duplicated <= held  # duplicates only among what the killed worker held
    assert took < 30, (len(held), took, err)  # dead_after (3 s), not the 900 s lease
    print(f"held by the killed worker {len(held)}, duplicated {len(duplicated)}, all sent {took:.1f}s after the kill")


def test_a_worker_stalled_past_its_lease_cannot_record_its_late_result(tmp_path, smtp, url):
    stalls = iter([3.0])
    smtp.handler.stall = lambda received: next(stalls, 0.0)  # the first send hangs 3 s
    path = config(tmp_path, smtp.port, url, lease=1.0)
    with ActionHost(path, load_entry_points=False) as host:
        first = submit(host, 1)
    slow, fast = ActionHost(path, load_entry_points=False), ActionHost(path, load_entry_points=False)
    try:
        slow_worker = slow.dispatcher.worker
        slow_worker.threads = 1
        outcome = []
        [claimed] = slow_worker.outbox.claim(slow_worker.id, lease=1.0)
        sending = threading.Thread(target=lambda: outcome.append(slow_worker.deliver(claimed)))
        sending.start()
        time.sleep(1.3)  # the lease runs out while the relay stalls
        assert fast.dispatcher.drain(timeout=10)["sent"] == 1  # another worker takes it and sends
        sending.join(10)
        assert outcome == ["lost"]  # the late result was fenced off
        entry = fast.dispatcher.outbox.get(first["outboxId"])
        assert entry.state == "sent" and entry.attempts == 2 and entry.token == 2
    finally:
        slow.close()
        fast.close()
    assert received(smtp) == {first["messageId"]: 2}  # the duplicate carries the same Message-ID


def _submitter(host: ActionHost, stop: threading.Event, acknowledged: list, refused: list) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        try:
            acknowledged.append(submit(host, 10_000 + n)["messageId"])
        except OutboxUnavailable as exc:
            refused.append(exc)
        time.sleep(0.005)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_database_restart_under_load_is_survived_without_restarting_workers(tmp_path, smtp, url, postgres, mode):
    smtp.handler.stall = lambda received: 0.005
    path = config(tmp_path, smtp.port, url)
    workers = [start_worker(path), start_worker(path)]
    acknowledged: list[str] = []
    refused: list[OutboxUnavailable] = []
    stop = threading.Event()
    with ActionHost(path, load_entry_points=False) as host:
        submitter = threading.Thread(target=_submitter, args=(host, stop, acknowledged, refused))
        submitter.start()
        try:
            wait_for(lambda: len(smtp.messages) >= 30 and live_workers(url) == 2, timeout=30)
            postgres.restart(mode)
            before = len(acknowledged)
            wait_for(lambda: len(acknowledged) >= before + 30, timeout=30)  # submits work again
            stop.set()
            submitter.join(30)
            wait_for(lambda: set(acknowledged) <= set(received(smtp)), timeout=90)
            dead = [w for w in workers if w.poll() is not None]
            assert not dead, [stop_worker(w)[-3000:] for w in dead]  # the same worker processes, still delivering
        finally:
            stop.set()
            errs = [stop_worker(w) for w in workers]
    counts = received(smtp)
    assert set(acknowledged) <= set(counts), errs
    stored = rows(url)
    assert set(counts) <= set(stored)  # nothing delivered that was not stored
    assert all(isinstance(e, OutboxUnavailable) and e.code == 503 for e in refused)
    print(f"{mode}: acknowledged {len(acknowledged)}, refused with 503 {len(refused)}, "
          f"duplicated {sum(n - 1 for n in counts.values())}")  # fmt: skip


def test_killed_database_connections_are_survived(tmp_path, smtp, url):
    path = config(tmp_path, smtp.port, url)
    workers = [start_worker(path), start_worker(path)]
    try:
        with ActionHost(path, load_entry_points=False) as host:
            first = {submit(host, n)["messageId"] for n in range(20)}
            wait_for(lambda: first <= set(received(smtp)), timeout=30)
            with psycopg.connect(url, autocommit=True) as db:
                killed = db.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchone()[0]
            assert killed >= 4  # each worker's pool and LISTEN connection, and this host's
            later = {submit(host, n)["messageId"] for n in range(20, 40)}
            wait_for(lambda: later <= set(received(smtp)), timeout=30)
        assert all(w.poll() is None for w in workers)
    finally:
        for w in workers:
            stop_worker(w)


def test_a_poison_message_fails_after_max_attempts_and_the_rest_goes_out(tmp_path, smtp, url):
    smtp.handler.rcpt_reply = lambda address: "451 4.3.0 try later" if address.startswith("poison") else None
    path = config(tmp_path, smtp.port, url, max_attempts=3)
    worker = start_worker(path)
    try:
        with ActionHost(path, load_entry_points=False) as host:
            poison = host.action("external/email", "send", {"to": "poison@example.com", "subject": "p"}, wait_for_completion=False)
            fine = [submit(host, n) for n in range(5)]
            outbox = host.dispatcher.outbox
            wait_for(lambda: outbox.get(poison["outboxId"]).state == "failed", timeout=30)
            entry = outbox.get(poison["outboxId"])
            assert entry.attempts == 3 and "poison@example.com" in entry.refused and "try later" in json.dumps(entry.last_error)
            assert all(outbox.get(r["outboxId"]).state == "sent" for r in fine)
            time.sleep(0.3)
            assert outbox.get(poison["outboxId"]).attempts == 3  # no endless loop
    finally:
        stop_worker(worker)


def test_a_message_whose_every_attempt_killed_its_worker_is_failed_without_another_send(tmp_path, smtp, url):
    path = config(tmp_path, smtp.port, url, max_attempts=2)
    with ActionHost(path, load_entry_points=False) as host:
        outbox = host.dispatcher.outbox
        entry_id = outbox.add(message(), transport=None, max_age=60)
        # Three claims whose workers never reported back (their leases expired at once).
        for _ in range(3):
            [claimed] = outbox.claim("dead:1:x", lease=0.0)
        [claimed] = outbox.claim(host.dispatcher.worker.id, lease=30)
        assert claimed.attempts == 4 and host.dispatcher.worker.deliver(claimed) == "failed"
        assert outbox.get(entry_id).state == "failed" and smtp.messages == []
