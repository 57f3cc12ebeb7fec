"""Sequential and concurrent ``send`` actions over SMTP against a raw smtplib loop.

    python benchmarks/bench_send.py [N]

Both run against the same local sink in this process: the baseline sends
prebuilt bytes with ``smtplib.SMTP.sendmail`` on one connection; ours runs
``action("external/email", "send", params)`` end to end (validate, compose,
pooled connection, pipelining).
"""

from __future__ import annotations

import smtplib
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import HTML, PARAMS  # noqa: E402
from sink import sink  # noqa: E402

from emailactions import ActionHost  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000  # the figure: 5,000 sequential sends


def params() -> dict:
    p = {k: v for k, v in PARAMS.items() if k not in ("text", "html")}
    p.update(body=HTML, type="text/html")
    return p


def raw_loop(port: int, data: bytes, n: int) -> float:
    conn = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost")
    started = time.perf_counter()
    for _ in range(n):
        conn.sendmail("openidm@example.com", ["zoe@example.com", "ops@example.com"], data)
    elapsed = time.perf_counter() - started
    conn.quit()
    return elapsed


def host_for(port: int, **options) -> ActionHost:
    # Thousands of mails to one address: the default per-recipient limit would stop them.
    return ActionHost({"transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": port, **options}},
                       "rate_limits": {"enabled": False}}, load_entry_points=False)


def ours(port: int, n: int, **options) -> float:
    host = host_for(port, **options)
    p = params()
    host.action("external/email", "send", p)  # warm: connect, caches
    started = time.perf_counter()
    for _ in range(n):
        host.action("external/email", "send", p)
    elapsed = time.perf_counter() - started
    host.close()
    return elapsed


def concurrent(port: int, n: int, threads: int) -> tuple[float, int]:
    host = host_for(port, pool_size=threads)
    p = params()
    host.action("external/email", "send", p)
    per = n // threads

    def work() -> None:
        for _ in range(per):
            host.action("external/email", "send", p)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    opened = host.transport().connections_opened
    host.close()
    return elapsed, opened


def best(fn, rounds: int = 3) -> float:
    """Best of several rounds: other load on a 2-core machine only adds time."""
    return min(fn() for _ in range(rounds))


def main() -> None:
    host = ActionHost({"transports": {"default": {"backend": "memory"}}, "rate_limits": {"enabled": False}}, load_entry_points=False)
    host.action("external/email", "send", params())
    data = host.transport().outbox[0].data
    with sink() as (port, name):
        print(f"sink: {name}; {N} messages of {len(data)} bytes, 2 recipients each, best of 3 rounds")
        base = best(lambda: raw_loop(port, data, N))
        print(f"{'raw smtplib sendmail loop, prebuilt bytes':<52} {N / base:8.0f} msg/s  {base / N * 1e6:7.1f} µs/msg")
        for label, options in (("action() send, pooled, pipelining", {}), ("action() send, pooled, no pipelining", {"pipelining": False})):
            t = best(lambda: ours(port, N, **options))
            print(f"{label:<52} {N / t:8.0f} msg/s  {t / N * 1e6:7.1f} µs/msg   {base / t:5.2f}x raw throughput")
        for threads in (4, 20):
            t, opened = min(concurrent(port, N, threads) for _ in range(3))
            print(f"{f'action() send, {threads} threads, pool_size={threads}':<52} {N / t:8.0f} msg/s  {t / N * 1e6:7.1f} µs/msg   {base / t:5.2f}x raw throughput ({opened} connections)")


if __name__ == "__main__":
    main()
