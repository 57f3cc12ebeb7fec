"""SMTP front door throughput: messages accepted into the outbox per second, as a ratio.

    python benchmarks/bench_frontdoor.py [--messages N] [--threads T]

Both paths commit to a file outbox with ``synchronous = full`` (each accepted
message is an fsynced commit) and no delivery running, with the same message:

* front door: ``emailactions smtp-serve`` in a child process (its own GIL, as
  it runs in production); ``T`` stdlib ``smtplib`` connections, each logged in
  once, each message one MAIL/RCPT/DATA transaction answered ``250`` only
  after the commit;
* baseline: ``host.action("external/email", "send", ..., wait_for_completion=False)``
  from ``T`` threads in this process (the direct submit).

The ratio is front door / direct. The front door parses and checks each
message again, and speaks SMTP over loopback (five round trips per message).
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emailactions import ActionHost
from emailactions.config.passwords import hash_password

PASSWORD = "bench-password"
PARAMS = {"from": "bench@example.com", "subject": "Bench", "body": "Hello, this is a benchmark message.\n" * 20}


def config(outbox: Path) -> dict:
    return {
        "email": {"from": "bench@example.com"},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"enabled": False},
        "outbox": {"path": str(outbox), "workers": 0, "synchronous": "full"},
        "server": {"recipient_limit": "", "users": {"bench": {"password": hash_password(PASSWORD, n=2**10), "permissions": ["send"], "senders": ["*@example.com"]}}},
        "smtp_server": {"identity_limit": "", "max_messages_per_connection": 1_000_000},
    }


def toml(data: dict, prefix: str = "") -> str:
    out = [f"[{prefix}]"] if prefix else []
    out += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            out.append(toml(value, f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key)))
    return "\n".join(out)


def message_bytes() -> bytes:
    """The bytes ``send`` composes for PARAMS, so both paths carry the same message."""
    with ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False) as host:
        host.action("external/email", "send", {**PARAMS, "to": "user@example.com"})
        return host.transport().outbox[0].data


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def front_door(tmp: Path, messages: int, threads: int) -> float:
    path = tmp / "door.toml"
    path.write_text(toml(config(tmp / "door.sqlite3")), encoding="utf-8")
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "emailactions", "--config", str(path), "--log-level", "error", "smtp-serve", "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise SystemExit("smtp-serve did not start")
                time.sleep(0.05)
        data = message_bytes()
        clients = []
        for _ in range(threads):
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
            smtp.login("bench", PASSWORD)
            smtp.sendmail("bench@example.com", ["warm@example.com"], data)  # warm up
            clients.append(smtp)
        per = messages // threads

        def run(smtp: smtplib.SMTP) -> None:
            for n in range(per):
                smtp.sendmail("bench@example.com", [f"user{n}@example.com"], data)

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, clients))
        elapsed = time.perf_counter() - start
        for smtp in clients:
            smtp.quit()
        return rate(per * threads, elapsed)
    finally:
        child.terminate()
        child.wait(30)


def direct(tmp: Path, messages: int, threads: int) -> float:
    with ActionHost(config(tmp / "direct.sqlite3"), load_entry_points=False) as host:
        host.action("external/email", "send", {**PARAMS, "to": "warm@example.com"}, wait_for_completion=False)
        per = messages // threads

        def run(_: int) -> None:
            for n in range(per):
                host.action("external/email", "send", {**PARAMS, "to": f"user{n}@example.com"}, wait_for_completion=False)

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, range(threads)))
        return rate(per * threads, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.messages} messages, {args.threads} connections/threads, best of {args.rounds}; cpus={os.cpu_count()}")
    for threads in sorted({1, args.threads}):
        door = best = 0.0
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                door = max(door, front_door(Path(tmp), args.messages, threads))
                best = max(best, direct(Path(tmp), args.messages, threads))
        print(f"{threads} thread(s): front door {door:8.0f} msg/s   direct host.action submit {best:8.0f} msg/s   ratio {door / best:5.2f}x")


if __name__ == "__main__":
    main()
