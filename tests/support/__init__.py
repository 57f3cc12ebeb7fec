"""Helpers shared by the tests: polling, fast outbox settings, paths.

Contract suites (``transport_contract``, ``engine_contract``, ``store_contract``), the SMTP
test server and the REST helpers are modules of this package.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: Outbox settings that keep retry tests fast: millisecond backoffs and polls.
FAST_OUTBOX = {
    "backoff": 0.01,
    "backoff_max": 0.05,
    "sync_backoff": 0.01,
    "sync_deadline": 2.0,
    "poll_interval": 0.02,
    "lease": 30.0,
}


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.01):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
