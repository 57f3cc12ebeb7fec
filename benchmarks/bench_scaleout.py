"""Scale-out on one PostgreSQL outbox: 2 submitting processes, 1 / 2 / 4 worker processes.

    python benchmarks/bench_scaleout.py [--messages N] [--threads T]

Starts its own PostgreSQL (Debian's binaries, as the tests do) and two relays:
Postfix's ``smtp-sink`` answering at once and dumping every message to a file
(to count them), and an aiosmtpd relay in a child process that waits 5 ms
before each answer. For each configuration it prints the submit rate of the
two submitting processes (each answer an fsynced commit), then the drain rate
of the worker processes (from the moment all is due to the last message
recorded as sent; their start-up is not measured), the scaling against one
worker process, each worker's share, and the count of acknowledged Message-IDs
lost and of Message-IDs delivered more than once. Baselines in the same run:
the SQLite outbox (one machine) on the 0 ms sink, and one worker process.
A last run SIGKILLs one of two workers halfway.

Targets (issue 14): lost = 0 in every run; 5 ms relay: 2 workers >= 1.7x one;
0 ms sink: no slower than the SQLite outbox.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.postgres import PostgresServer, free_port  # noqa: E402

SUBMITTER = """
import json, sys
from emailactions import ActionHost
config, start, end, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
host = ActionHost(config, load_entry_points=False)
ids = []
for n in range(start, end):
    result = host.action("external/email", "send", {"to": f"user{n}@example.com", "subject": f"Bench {n}",
                         "body": "Hello, this is a benchmark message.\\n" * 20}, wait_for_completion=False)
    ids.append(result["messageId"])
host.close()
with open(out, "w") as f:
    json.dump(ids, f)
"""

RELAY = (
    "import sys, json, logging; logging.disable(logging.CRITICAL); sys.path.insert(0, sys.argv[1]);"
    "from support.smtp_server import SMTPServer; s = SMTPServer().start(); latency = float(sys.argv[2]) / 1000;"
    "s.handler.stall = lambda received: latency; print(s.port, flush=True); sys.stdin.read();"
    "print(json.dumps([m.message['Message-ID'] for m in s.messages]), flush=True)"
)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.IGNORECASE | re.MULTILINE)


class Sink:
    """Postfix's smtp-sink, dumping each message into a directory (counted afterwards)."""

    def __init__(self) -> None:
        binary = shutil.which("smtp-sink") or next(
            (p for p in ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink") if os.path.exists(p)), None
        )
        if binary is None:
            raise SystemExit("bench_scaleout needs Postfix's smtp-sink: apt-get install postfix")
        self.dir = Path(tempfile.mkdtemp(prefix="sink-"))
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        args = [binary, "-d", f"{self.dir}/%H%M%S."]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        self.proc = subprocess.Popen(args + [f"127.0.0.1:{self.port}", "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def reset(self) -> None:
        for path in self.dir.iterdir():
            path.unlink()

    def received(self) -> list[str]:
        return [m.decode() for path in self.dir.iterdir() for m in _MESSAGE_ID.findall(path.read_bytes())]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Relay:
    """aiosmtpd answering after ``latency_ms``, in a child process (no GIL shared with us)."""

    def __init__(self, latency_ms: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", RELAY, str(ROOT / "tests"), str(latency_ms)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.port = int(self.proc.stdout.readline())

    def finish(self) -> list[str]:
        self.proc.stdin.close()
        ids = json.loads(self.proc.stdout.readline())
        self.proc.wait()
        return ids


def write_config(folder: Path, port: int, threads: int, store: dict) -> Path:
    # SQLite has no NOTIFY: its workers poll, so both poll often enough not to idle on a backlog.
    outbox = {"workers": 0, "dead_after": 5.0, "poll_interval": 0.1, "backoff": 0.05, "backoff_max": 0.5, **store}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in outbox.items())
    path = folder / "emailactions.toml"
    path.write_text(
        f'[email]\nfrom = "bench@example.com"\n[transports.default]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
        f"pool_size = {threads}\ntimeout = 10\n[outbox]\n{lines}\n[rate_limits]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def open_outbox(store: dict):
    if "url" in store:
        from emailactions.delivery.outbox.postgres import PostgresOutbox

        return PostgresOutbox(store["url"], pool_size=2)
    from emailactions.delivery.outbox.sqlite import Outbox

    return Outbox(store["path"])


def shares(outbox, store: dict) -> list[int]:
    """Messages sent per worker process, largest first."""
    counts = collections.Counter(e.worker.rsplit(":", 2)[1] for e in outbox.list(states=["sent"], limit=10**7))
    return sorted(counts.values(), reverse=True)


def run(folder: Path, port: int, store: dict, *, workers: int, threads: int, messages: int, kill: bool = False) -> dict:
    """Submit ``messages`` from 2 processes (no worker running), then time the workers draining them."""
    config = write_config(folder, port, threads, store)
    outbox = open_outbox(store)  # creates the schema before anyone races for it
    half = messages // 2
    outputs = [folder / f"ids{n}.json" for n in range(2)]
    started = time.perf_counter()
    submitters = [
        subprocess.Popen([sys.executable, "-c", SUBMITTER, str(config), str(a), str(b), str(out)])
        for (a, b), out in zip(((0, half), (half, messages)), outputs)
    ]
    for proc in submitters:
        proc.wait()
    submit_rate = messages / (time.perf_counter() - started)
    hold(store, True)  # not due while the workers start: their start-up is not what is measured
    procs = [
        subprocess.Popen([sys.executable, "-m", "emailactions", "--config", str(config), "worker", "--threads", str(threads),
                          "--log-level", "ERROR"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        for _ in range(workers)
    ]
    time.sleep(2.0)
    started = time.perf_counter()
    hold(store, False)
    killed = False
    while True:
        counts = outbox.counts()
        if kill and not killed and counts["sent"] >= messages // 2:
            procs[0].send_signal(signal.SIGKILL)
            killed = True
        if counts["sent"] + counts["failed"] >= messages:
            break
        if time.perf_counter() - started > 600:
            raise SystemExit(f"timed out: {counts}")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    split = shares(outbox, store)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait()
    outbox.close()
    acknowledged = [i for out in outputs for i in json.loads(out.read_text())]
    return {"rate": messages / elapsed, "submit": submit_rate, "acknowledged": acknowledged, "shares": split}


def hold(store: dict, held: bool) -> None:
    """Push every queued message a day ahead (``held``), or make them all due now and wake the workers."""
    shift = 86400.0 if held else -86400.0
    if "url" in store:
        import psycopg

        with psycopg.connect(store["url"], autocommit=True) as db, db.transaction():
            db.execute("UPDATE emailactions_outbox SET next_attempt = next_attempt + %s WHERE state = 'queued'", (shift,))
            db.execute("NOTIFY emailactions_outbox")
    else:
        import sqlite3

        with sqlite3.connect(store["path"]) as db:
            db.execute("UPDATE messages SET next_attempt = next_attempt + ? WHERE state = 'queued'", (shift,))


def count(acknowledged: list[str], received: list[str]) -> tuple[int, int]:
    """(lost, duplicated): acknowledged ids never received; deliveries beyond the first per id."""
    seen = collections.Counter(received)
    return len(set(acknowledged) - set(seen)), sum(n - 1 for n in seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4, help="delivery threads per worker process")
    args = parser.parse_args()
    server = PostgresServer().start()
    sink = Sink()
    rows = []
    try:
        print(f"PostgreSQL {server.bindir.parent.name} on loopback; {os.cpu_count()} CPUs; {args.messages} messages, "
              f"2 submitting processes, {args.threads} threads per worker process", flush=True)  # fmt: skip

        def measure(label: str, relay: str, store: dict, workers: int, kill: bool = False) -> dict:
            with tempfile.TemporaryDirectory() as tmp:
                if relay == "5 ms":
                    latency = Relay(5)
                    port = latency.port
                else:
                    sink.reset()
                    port = sink.port
                if store.get("path") == "":
                    store = {"path": str(Path(tmp) / "outbox.sqlite3")}
                result = run(Path(tmp), port, store, workers=workers, threads=args.threads, messages=args.messages, kill=kill)
                received = latency.finish() if relay == "5 ms" else sink.received()
            lost, duplicated = count(result["acknowledged"], received)
            row = {"label": label, "relay": relay, "workers": workers, **result, "lost": lost, "duplicated": duplicated}
            rows.append(row)
            print(f"  {label:<24} {relay:>5}  {workers} worker(s)  submit {row['submit']:6.0f} msg/s  "
                  f"drain {row['rate']:6.0f} msg/s  shares {row['shares']}  "
                  f"lost {lost}  duplicated {duplicated}", flush=True)  # fmt: skip
            return row

        base = {}
        for relay in ("0 ms", "5 ms"):
            for workers in (1, 2, 4):
                row = measure("postgresql", relay, {"url": server.create_db()}, workers)
                base.setdefault(relay, row["rate"])
                row["scaling"] = row["rate"] / base[relay]
        sqlite = [measure("sqlite (baseline)", "0 ms", {"path": ""}, workers) for workers in (1, 2)]
        kill = measure("postgresql, kill 1 of 2", "5 ms", {"url": server.create_db()}, 2, kill=True)
    finally:
        sink.stop()
        server.stop()

    print("\n| outbox | relay | worker processes | submit msg/s (2 processes) | drain msg/s | vs 1 worker | shares | lost | duplicated |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        scaling = f"{row['scaling']:.2f}x" if "scaling" in row else ""
        print(f"| {row['label']} | {row['relay']} | {row['workers']} | {row['submit']:.0f} | {row['rate']:.0f} | {scaling} | "
              f"{'/'.join(map(str, row['shares']))} | {row['lost']} | {row['duplicated']} |")  # fmt: skip
    best_sqlite = max(r["rate"] for r in sqlite)
    pg_zero = [r for r in rows if r["label"] == "postgresql" and r["relay"] == "0 ms"]
    two = next(r for r in rows if r["label"] == "postgresql" and r["relay"] == "5 ms" and r["workers"] == 2)
    print(f"\n5 ms relay, 2 workers vs 1: {two['scaling']:.2f}x (target >= 1.7x)")
    print(f"0 ms sink, best PostgreSQL vs best SQLite: {max(r['rate'] for r in pg_zero) / best_sqlite:.2f}x (target >= 1.0x)")
    print(f"lost in every run: {sum(r['lost'] for r in rows)} (target 0); duplicated in the kill run: {kill['duplicated']}")


if __name__ == "__main__":
    main()
