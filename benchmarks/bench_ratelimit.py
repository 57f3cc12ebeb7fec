"""The per-recipient limiter's cost per check, memory storage, a new address each time.

    python benchmarks/bench_ratelimit.py [N]

Runs, in this process and on the same messages: ``RateLimiter.acquire`` with
``[rate_limits] recipient = "5 per 15 minutes"`` (the default ``memory://``
storage, moving window), against the baseline of one bare ``limits`` call per
message (``MovingWindowRateLimiter.hit`` on ``MemoryStorage``, what the
limiter used to make twice). Then the whole ``send`` action on the memory
transport with the limit on and off (issue 17: ≤ 80 µs with, ≤ 50 µs without).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import HTML, show  # noqa: E402

from emailactions import ActionHost  # noqa: E402
from emailactions.config import RateLimitConfig  # noqa: E402
from emailactions.delivery.ratelimit import build  # noqa: E402
from emailactions.mime.message import Message  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
LIMIT = "5 per 15 minutes"


def messages(tag: str) -> list[Message]:
    return [Message(b"x", "openidm@example.com", (f"user{n}.{tag}@example.com",), f"<{n}@x>") for n in range(N)]


def per_message(fn, items) -> float:
    """CPU seconds per item (this process's, all threads: ``limits``'s expiry thread counts)."""
    started = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - started) / len(items)


def limits_baseline(test_first: bool = False) -> float:
    """One ``limits`` hit per message; ``test_first``: a test then a hit, as the limiter did before."""
    from limits import parse
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    strategy, item = MovingWindowRateLimiter(MemoryStorage()), parse(LIMIT)

    def check(message: Message) -> None:
        if test_first:
            strategy.test(item, "rate_limits.recipient", message.recipients[0])
        strategy.hit(item, "rate_limits.recipient", message.recipients[0])

    return per_message(check, messages(f"limits{test_first}"))


def ours() -> float:
    limiter = build(RateLimitConfig(recipient=LIMIT))
    return per_message(limiter.acquire, messages("ours"))


def send(limit: str | None) -> float:
    config = {"transports": {"default": {"backend": "memory"}}, "rate_limits": {"recipient": limit or ""}}
    host = ActionHost(config, load_entry_points=False)
    params = [{"from": "openidm@example.com", "to": f"user{n}@example.com", "subject": "Hi", "body": HTML, "type": "text/html"}
              for n in range(N // 10)]  # fmt: skip
    host.action("external/email", "send", dict(params[0], to="warm@example.com"))
    cost = per_message(lambda p: host.action("external/email", "send", p), params)
    host.close()
    return cost


def main() -> None:
    baseline = limits_baseline()
    show("limits MovingWindowRateLimiter.hit (MemoryStorage)", baseline)
    show("limits test + hit (the limiter's calls before)", limits_baseline(test_first=True), baseline, "limits")
    show("RateLimiter.acquire, recipient limit, memory://", ours(), baseline, "limits")
    # Alternated, best of five: other processes on the machine move single runs a lot.
    runs = [(send(None), send(LIMIT)) for _ in range(5)]
    without, limited = min(r[0] for r in runs), min(r[1] for r in runs)
    show("send, memory transport, no limit (best of 5)", without)
    show("send, memory transport, recipient limit, memory:// (best of 5)", limited, without, "no limit")


if __name__ == "__main__":
    main()
