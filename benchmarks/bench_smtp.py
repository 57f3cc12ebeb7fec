"""SMTP throughput, a new address per message, against raw baselines in the same run (issue 17, target 2).

    python benchmarks/bench_smtp.py [N]

One connection: ``action("external/email", "send")`` (defaults, pooled,
PIPELINING) against a raw ``smtplib.SMTP.sendmail`` loop of prebuilt bytes,
both to the sink directly and through a relay that adds 1 ms before every
burst of server replies (a round trip on a real network). Four connections:
four threads calling ``action()`` with ``pool_size = 4`` against Postfix's
``smtp-source -s 4`` (four sessions, the sink's own load generator).
"""

from __future__ import annotations

import itertools
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).parent))

from common import HTML, PARAMS  # noqa: E402
from sink import sink  # noqa: E402

from emailactions import ActionHost  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
SENDER = "openidm@example.com"
_numbers = itertools.count()


def params() -> dict:
    p = {k: v for k, v in PARAMS.items() if k not in ("text", "html", "cc")}
    p.update(body=HTML, type="text/html")
    return p


def new_to() -> str:
    return f'"Zoë Ærøskøbing" <zoe{next(_numbers)}@example.com>'


@contextmanager
def delayed(port: int, delay: float) -> Iterator[int]:
    """A loopback relay to ``port`` that holds each burst of server replies ``delay`` seconds."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket, wait: float) -> None:
        try:
            while chunk := src.recv(65536):
                if wait:
                    time.sleep(wait)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", port))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=pump, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, delay), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def raw_loop(port: int, data: bytes, n: int) -> float:
    conn = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost")
    started = time.perf_counter()
    for i in range(n):
        conn.sendmail(SENDER, [f"zoe{i}@example.com"], data)
    elapsed = time.perf_counter() - started
    conn.quit()
    return elapsed


def host_for(port: int, **options) -> ActionHost:
    return ActionHost({"transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": port, **options}}},
                      load_entry_points=False)


def ours(port: int, n: int, threads: int = 1) -> float:
    host = host_for(port, pool_size=threads)
    p = params()
    host.action("external/email", "send", {**p, "to": new_to()})  # warm: connect
    per = n // threads

    def work() -> None:
        for _ in range(per):
            host.action("external/email", "send", {**p, "to": new_to()})

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    host.close()
    return elapsed


def smtp_source(port: int, n: int, sessions: int, size: int) -> float | None:
    binary = shutil.which("smtp-source") or next(
        (p for p in ("/usr/sbin/smtp-source", "/usr/lib/postfix/sbin/smtp-source") if Path(p).exists()), None)
    if binary is None:
        return None
    args = [binary, "-d", "-N", "-s", str(sessions), "-m", str(n), "-l", str(size), "-f", SENDER, "-t", "zoe@example.com",
            f"127.0.0.1:{port}"]
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def best(fn, rounds: int = 3) -> float:
    """Best of several rounds: other load on a shared machine only adds time."""
    return min(fn() for _ in range(rounds))


def line(label: str, n: int, t: float, base: float | None = None, base_name: str = "") -> None:
    ratio = f"   {base / t:5.2f}x {base_name}" if base else ""
    print(f"{label:<58} {n / t:8.0f} msg/s  {t / n * 1e6:7.1f} µs/msg{ratio}")


def main() -> None:
    host = ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    host.action("external/email", "send", {**params(), "to": new_to()})
    data = host.transport().outbox[0].data
    with sink() as (port, name):
        print(f"sink: {name}; {N} messages of {len(data)} bytes, a new recipient each, best of 3 rounds")
        for delay in (0.0, 0.001):
            with delayed(port, delay) if delay else _direct(port) as target:
                where = f"+{delay * 1000:.0f} ms per reply burst" if delay else "sink answers at once"
                base = best(lambda: raw_loop(target, data, N))
                line(f"raw smtplib sendmail loop, prebuilt bytes ({where})", N, base)
                line(f"action() send, one pooled pipelined connection ({where})", N, best(lambda: ours(target, N)), base, "raw")
        source = smtp_source(port, N, 4, len(data))
        if source is None:
            print("smtp-source not found (install Debian's postfix): no four-session baseline")
            return
        source = min(source, *(smtp_source(port, N, 4, len(data)) for _ in range(2)))
        line("Postfix smtp-source -s 4 (four sessions)", N, source)
        line("action() send, 4 threads, pool_size 4", N, best(lambda: ours(port, N, 4)), source, "smtp-source")


@contextmanager
def _direct(port: int) -> Iterator[int]:
    yield port


if __name__ == "__main__":
    main()
