"""Nothing lost: a host killed with SIGKILL mid-batch, then started again, delivers everything."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from support import ROOT, wait_for
from support.smtp_server import SMTPServer

CHILD = ROOT / "tests" / "support" / "outbox_child.py"
BATCH = 300


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "emailactions.toml"
    path.write_text(
        f"""
[email]
from = "openidm@example.com"

[transports.default]
backend = "smtp"
host = "127.0.0.1"
port = {port}
timeout = 5
pool_size = 4

[outbox]
path = "outbox.sqlite3"
backoff = 0.01
backoff_max = 0.05
poll_interval = 0.05

[rate_limits]
enabled = false
""",
        encoding="utf-8",
    )
    return path


def start_child(config: Path, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(config), str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_mid_batch_loses_nothing(tmp_path):
    server = SMTPServer().start()
    # A little latency per message, so the kill lands while submits and sends are both running.
    server.handler.stall = lambda received: 0.01
    try:
        config = write_config(tmp_path, server.port)
        child = start_child(config, BATCH)
        acknowledged: dict[int, str] = {}

        def read() -> None:
            for line in child.stdout:
                outbox_id, message_id = line.split()
                acknowledged[int(outbox_id)] = message_id

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        wait_for(lambda: len(server.messages) >= 20 or child.poll() is not None, timeout=30)
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join(5)
        assert child.returncode == -signal.SIGKILL
        with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state").fetchall())
        in_flight_at_kill = states.get("in-flight", 0)
        delivered_at_kill = len(server.messages)
        # Killed in the middle: some delivered, some not.
        assert 0 < delivered_at_kill < BATCH and states.get("queued", 0) + in_flight_at_kill > 0, states

        restarted = start_child(config, 0)  # a restarted host: reclaims the dead worker's messages
        out, err = restarted.communicate(timeout=60)
        assert restarted.returncode == 0 and out.strip() == "done", err

        with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
            rows = dict(db.execute("SELECT message_id, state FROM messages").fetchall())
        received = collections.Counter(m.message["Message-ID"] for m in server.messages)
        # Every message acknowledged as "Email submitted" arrived...
        assert set(acknowledged.values()) <= set(received)
        # ...and every message committed to the outbox too (some were committed
        # but not yet acknowledged when the kill came), and nothing else.
        assert set(received) == set(rows) and set(rows.values()) == {"sent"}
        # Duplicates only from messages in flight at the kill, and recognisable
        # by Message-ID: the receiving side sees the same id twice.
        duplicates = sum(count - 1 for count in received.values())
        assert duplicates <= in_flight_at_kill
        print(f"acknowledged {len(acknowledged)}, stored {len(rows)}, delivered before kill {delivered_at_kill}, "
              f"in flight at kill {in_flight_at_kill}, duplicates {duplicates}")  # fmt: skip
    finally:
        server.stop()
