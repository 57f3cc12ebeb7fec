"""Outbox throughput: durable submits vs draining vs the synchronous path, as ratios.

    python benchmarks/bench_outbox.py [--messages N] [--threads T]

All three run against one aiosmtpd server on loopback (the test server) in a
child process, so that server and client do not share a GIL, on the same
composed-from-params messages. Each figure is the best of ``--rounds``:

* submit: ``send`` with ``waitForCompletion=false`` into a file outbox with
  ``synchronous = full`` (every "Email submitted" is an fsynced commit), no
  delivery running; from ``T`` threads (concurrent submitters share commits)
  and from one thread (one fsync per message);
* drain: ``T`` worker threads delivering what was submitted;
* sync: ``send`` with ``waitForCompletion=true`` from ``T`` threads (the
  synchronous bulk rate), and from one thread for reference.

Targets (issue 5): submit >= 5x drain, drain >= 0.8x sync bulk. Against a
loopback server that answers at once, delivery costs little more than a
submit, so ``--latency 5`` shows the usual case of a relay that takes a few
milliseconds per message.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emailactions import ActionHost

TESTS = Path(__file__).resolve().parent.parent / "tests"
SERVER = (
    "import sys, logging; logging.disable(logging.CRITICAL); sys.path.insert(0, sys.argv[1]);"
    "from support.smtp_server import SMTPServer; s = SMTPServer().start(); latency = float(sys.argv[2]) / 1000;"
    "s.handler.stall = lambda received: latency; print(s.port, flush=True); sys.stdin.read()"
)


def config(port: int, threads: int, outbox: Path | None) -> dict:
    out = {
        "email": {"from": "bench@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": port, "pool_size": threads}},
        # Distinct recipients anyway; limits off so only delivery is measured.
        "rate_limits": {"enabled": False},
        "outbox": {"workers": 0, "synchronous": "full"},
    }
    if outbox is not None:
        out["outbox"]["path"] = str(outbox)
    return out


def params(n: int) -> dict:
    return {"to": f"user{n}@example.com", "subject": f"Bench {n}", "body": "Hello, this is a benchmark message.\n" * 20}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def bench(messages: int, threads: int, port: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        # submit, then drain, on one file outbox
        with ActionHost(config(port, threads, Path(tmp) / "outbox.sqlite3"), load_entry_points=False) as host:
            host.action("external/email", "send", params(-1), wait_for_completion=False)  # warm up: open, compile
            host.dispatcher.drain()
            half = messages // 2
            start = time.perf_counter()
            for n in range(half):
                host.action("external/email", "send", params(n), wait_for_completion=False)
            submit_one = rate(half, time.perf_counter() - start)
            start = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                submit_all = lambda n: host.action("external/email", "send", params(n), wait_for_completion=False)  # noqa: E731
                list(pool.map(submit_all, range(half, messages)))
            submit = rate(messages - half, time.perf_counter() - start)

            host.dispatcher.worker.threads = threads
            start = time.perf_counter()
            tally = host.dispatcher.drain()
            drain = rate(tally["sent"], time.perf_counter() - start)
            assert tally["sent"] == messages, tally

    # the synchronous path, bulk (T threads) and one by one
    with ActionHost(config(port, threads, None), load_entry_points=False) as host:
        host.action("external/email", "send", params(-1))
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda n: host.action("external/email", "send", params(n)), range(messages)))
        sync_bulk = rate(messages, time.perf_counter() - start)
        one = max(messages // 4, 1)
        start = time.perf_counter()
        for n in range(one):
            host.action("external/email", "send", params(n))
        sync_one = rate(one, time.perf_counter() - start)
    return {"submit": submit, "submit_one": submit_one, "drain": drain, "sync_bulk": sync_bulk, "sync_one": sync_one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS", help="The server waits this long before answering DATA, as a remote relay would.")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(TESTS), str(args.latency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        rounds = [bench(args.messages, args.threads, port) for _ in range(args.rounds)]
    finally:
        server.stdin.close()
        server.wait(10)
    r = {key: max(round_[key] for round_ in rounds) for key in rounds[0]}
    print(f"messages {args.messages}, threads {args.threads}, server latency {args.latency:g} ms, best of {args.rounds} rounds")
    print(f"submit ({args.threads} threads, fsync)  {r['submit']:8.0f} msg/s")
    print(f"submit (1 thread, fsync)   {r['submit_one']:8.0f} msg/s")
    print(f"drain ({args.threads} workers)          {r['drain']:8.0f} msg/s")
    print(f"sync bulk ({args.threads} threads)      {r['sync_bulk']:8.0f} msg/s")
    print(f"sync one by one            {r['sync_one']:8.0f} msg/s")
    print(f"submit / drain      {r['submit'] / r['drain']:6.2f}x   (target >= 5; one submitter thread: {r['submit_one'] / r['drain']:.2f}x)")
    print(f"drain / sync bulk   {r['drain'] / r['sync_bulk']:6.2f}x   (target >= 0.8)")


if __name__ == "__main__":
    main()
