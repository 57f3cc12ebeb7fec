"""Shared helpers for the benchmarks: a timer and the reference message."""

from __future__ import annotations

import time
from typing import Callable

TEXT = ("Grüße aus Köln! Ihr Konto wurde erstellt. " * 25)[:1000]
HTML = ("<p>Grüße aus <b>Köln</b>! Ihr Konto wurde erstellt.</p>\n" * 40)[:2000]
PARAMS = {
    "from": '"Jürgen Müller" <openidm@example.com>',
    "to": '"Zoë Ærøskøbing" <zoe@example.com>',
    "cc": "ops@example.com",
    "subject": "Willkommen bei Köln — Ihr Konto ✓",
    "text": TEXT,
    "html": HTML,
}


def per_call(fn: Callable[[], object], *, seconds: float = 1.0, min_calls: int = 50) -> float:
    """Best-of-5 seconds per call of ``fn``."""
    fn()
    calls = min_calls
    while True:  # find a batch size that takes ~seconds/5
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 5 or calls > 1_000_000:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(4):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def show(name: str, seconds: float, baseline: float | None = None, baseline_name: str = "") -> None:
    """One result line, with a ratio against the baseline when given."""
    line = f"{name:<58} {seconds * 1e6:10.1f} µs"
    if baseline:
        line += f"   {seconds / baseline:6.3f}x {baseline_name}"
    print(line)
