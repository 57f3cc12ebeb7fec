"""Memory of a separate (one message per recipient) bulk send, 10,000 vs 100,000 recipients.

    python benchmarks/bench_bulk.py [--smtp]

Messages are composed lazily and at most 2 x pool_size are alive, so the
peak should grow only with what is inherently per recipient (the address list
given and the per-recipient results returned), not with message size x count.
The baseline is the size of the messages themselves, were they all held.
With --smtp the messages go to a local sink (Postfix smtp-sink if installed),
and the bulk rate is compared with single sends on the same pool; otherwise
they go to a transport that discards them.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sink import sink  # noqa: E402

from emailactions import ActionHost, BaseTransport, hookimpl  # noqa: E402

BODY = ("Your statement is ready. " * 3 + "\n") * 250  # ~19 KB


class DiscardTransport(BaseTransport):
    """Accepts and forgets."""

    name = "discard"
    pool_size = 4

    def send(self, message):
        return self.result(message)


class Discard:
    @hookimpl
    def register_transports(self, register):
        register("discard", DiscardTransport)


def run(host: ActionHost, n: int) -> tuple[float, int, float]:
    to = [f"customer{i}@example.com" for i in range(n)]
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    result = host.action("external/email", "send", {"to": to, "subject": "Statement", "body": BODY, "sendSeparately": True})
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result["sent"] == n, result["failed"]
    return elapsed, peak, len(BODY) * n


def rates(host: ActionHost, singles: int = 10_000, bulk: int = 100_000) -> None:
    """Issue 17, target 3: the bulk rate against single sends on the same pool, without tracemalloc."""
    started = time.perf_counter()
    for i in range(singles):
        host.action("external/email", "send", {"to": f"single{i}@example.com", "subject": "Statement", "body": BODY})
    single = singles / (time.perf_counter() - started)
    started = time.perf_counter()
    result = host.action("external/email", "send", {"to": [f"bulk{i}@example.com" for i in range(bulk)], "subject": "Statement",
                                                    "body": BODY, "sendSeparately": True})
    rate = bulk / (time.perf_counter() - started)
    assert result["sent"] == bulk, result["failed"]
    print(f"{singles} single sends, one after another: {single:7.0f} msg/s")
    print(f"sendSeparately to {bulk} new addresses:  {rate:7.0f} msg/s   {rate / single:5.2f}x the single-send rate")


def main() -> None:
    use_smtp = "--smtp" in sys.argv
    config = {"email": {"from": "billing@example.com"}, "rate_limits": {"enabled": False}}
    if use_smtp:
        context = sink()
        port, name = context.__enter__()
        config["transports"] = {"default": {"backend": "smtp", "host": "127.0.0.1", "port": port, "pool_size": 4}}
    else:
        context, name = None, "discarding transport"
        config["transports"] = {"default": {"backend": "discard"}}
    host = ActionHost(config, load_entry_points=False, plugins=[Discard()])
    print(f"one message per recipient, {len(BODY)} byte body, to {name} (tracemalloc on: times are slower than usual)")
    try:
        for n in (10_000, 100_000):
            elapsed, peak, held = run(host, n)
            print(f"{n:>7} recipients: peak {peak / 1e6:6.1f} MB ({peak / n:5.0f} B/recipient)   "
                  f"{held / peak:6.0f}x less than holding the messages ({held / 1e9:.2f} GB)   {elapsed:5.1f} s")
        if use_smtp:
            rates(host)
    finally:
        host.close()
        if context is not None:
            context.__exit__(None, None, None)


if __name__ == "__main__":
    main()
