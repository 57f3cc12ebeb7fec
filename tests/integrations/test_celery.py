"""Celery delivers the outbox: a real Celery worker (a child process) on a real Redis broker.

The application submits with ``waitForCompletion`` false; the doorbell queues
the drain task; the worker's host drains the shared SQLite outbox into the
test SMTP server. The outbox row is the record throughout: a task lost with a
dead worker or a dead broker loses no mail.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from celery import Celery

from support import ROOT, wait_for
from emailactions import ActionHost
from emailactions.integrations.celery import TASK_NAME, CeleryOutbox

TASKS = textwrap.dedent(
    """
    import os
    from celery import Celery
    from emailactions.integrations.celery import CeleryOutbox

    app = Celery("mailtest", broker=os.environ["TEST_BROKER"])
    outbox = CeleryOutbox(app, os.environ["TEST_CONFIG"])
    """
)

#: The redis_server (session) and own_redis fixtures.
pytest_plugins = ("support.redis",)


@pytest.fixture
def setup(tmp_path, smtp_server, redis_server):
    """(config file, broker URL): SMTP to the test server, a shared SQLite outbox, delivery left to Celery."""
    broker = redis_server.url.rsplit("/", 1)[0] + "/1"  # a database of its own
    import redis

    redis.Redis.from_url(broker).flushdb()
    config = tmp_path / "emailactions.toml"
    config.write_text(textwrap.dedent(f"""
        [email]
        from = "openidm@example.com"
        [transports.default]
        backend = "smtp"
        host = "127.0.0.1"
        port = {smtp_server.port}
        [outbox]
        path = "{tmp_path / 'outbox.sqlite3'}"
        workers = 0
        [rate_limits]
        enabled = false
    """))
    (tmp_path / "mailtasks.py").write_text(TASKS)
    return config, broker


class Worker:
    """``celery -A mailtasks worker`` in a child process, stopped by its pid."""

    def __init__(self, folder: Path, config: Path, broker: str) -> None:
        self.log = folder / f"worker-{time.monotonic_ns()}.log"
        env = {**os.environ, "TEST_BROKER": broker, "TEST_CONFIG": str(config),
               "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT / "src"), *sys.path])}  # fmt: skip
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "mailtasks", "worker", "--pool=solo", "-l", "info", "--without-gossip",
                 "--without-mingle", "--without-heartbeat", "-n", f"mailtest{os.getpid()}@localhost"],
                cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        wait_for(lambda: self.process.poll() is not None or "ready." in self.text(), timeout=60, interval=0.1)
        assert self.process.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # warm shutdown: the task in progress finishes
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def submitter(config: Path, broker: str) -> tuple[ActionHost, CeleryOutbox]:
    outbox = CeleryOutbox(Celery("mailtest", broker=broker), str(config), every=None)
    return ActionHost(str(config), load_entry_points=False, plugins=[outbox.doorbell]), outbox


def submit(host: ActionHost, to: str) -> dict:
    return host.action("external/email", "send", {"to": to, "subject": "via Celery", "body": "x"}, wait_for_completion=False)


def test_each_queued_message_rings_the_doorbell_and_the_celery_worker_delivers_it(setup, smtp_server, tmp_path):
    config, broker = setup
    worker = Worker(tmp_path, config, broker)
    host, _ = submitter(config, broker)
    try:
        results = [submit(host, f"user{n}@example.com") for n in range(5)]
        assert all(r["message"] == "Email submitted" for r in results)
        wait_for(lambda: len(smtp_server.messages) == 5, timeout=30)
        outbox = host.dispatcher.outbox
        wait_for(lambda: all(outbox.get(r["outboxId"]).state == "sent" for r in results), timeout=10)
        delivered = sorted(m.message["Message-ID"] for m in smtp_server.messages)
        assert delivered == sorted(r["messageId"] for r in results)  # each once, with its own Message-ID
        assert TASK_NAME in worker.text() and "outbox drained" in worker.text()
        assert not host.dispatcher.worker.running  # the application host delivered nothing itself
    finally:
        host.close()
        worker.stop()


def test_a_doorbell_rung_while_no_worker_runs_is_answered_when_one_starts(setup, smtp_server, tmp_path):
    config, broker = setup
    worker = Worker(tmp_path, config, broker)
    worker.kill()  # a crashed worker: the broker keeps the task, the outbox keeps the mail
    host, _ = submitter(config, broker)
    try:
        result = submit(host, "late@example.com")
        time.sleep(0.5)
        assert not smtp_server.messages and host.dispatcher.outbox.get(result["outboxId"]).state == "queued"
        worker = Worker(tmp_path, config, broker)
        wait_for(lambda: len(smtp_server.messages) == 1, timeout=30)
        assert smtp_server.messages[0].message["Message-ID"] == result["messageId"]
    finally:
        host.close()
        worker.stop()


def test_a_dead_broker_does_not_fail_a_submit_and_the_next_drain_delivers(setup, smtp_server, tmp_path, own_redis, caplog):
    config, _ = setup
    broker = own_redis.url
    own_redis.kill()
    host, outbox = submitter(config, broker)
    caplog.set_level(logging.ERROR)
    try:
        started = time.monotonic()
        result = submit(host, "patient@example.com")
        assert result["message"] == "Email submitted" and time.monotonic() - started < 10
        assert "message_queued" in caplog.text  # the doorbell's failure is logged, not raised
        own_redis.start()
        worker = Worker(tmp_path, config, broker)
        try:
            outbox.task.apply_async()  # the next ring (or the beat entry) drains what waited
            wait_for(lambda: len(smtp_server.messages) == 1, timeout=30)
        finally:
            worker.stop()
        assert smtp_server.messages[0].message["Message-ID"] == result["messageId"]
    finally:
        host.close()


def test_the_beat_entry_and_task_name():
    app = Celery("beat", broker="memory://")
    outbox = CeleryOutbox(app, {"transports": {"default": {"backend": "memory"}}}, every=15)
    assert app.conf.beat_schedule[TASK_NAME] == {"task": TASK_NAME, "schedule": 15}
    assert outbox.task.name == TASK_NAME and TASK_NAME in app.tasks
    # In process (eager), the task drains through the outbox's drain action.
    result = outbox.task.apply().get()
    assert result["status"] == "OK" and result["sent"] == 0 and json.dumps(result)
    outbox.close()
