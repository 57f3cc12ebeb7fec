"""Cold import and CLI start against ``python -c "import smtplib, email.message"``.

    python benchmarks/bench_startup.py

Each figure is the best of 15 fresh interpreter runs (wall time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def best_wall(args: list[str], runs: int = 15) -> float:
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": os.environ.get("EMAILACTIONS_LOAD_PLUGINS", "")}
    env.pop("EMAILACTIONS_CONFIG", None)
    best = float("inf")
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
            best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    py = sys.executable
    base = best_wall([py, "-c", "import smtplib, email.message"])
    rows = [
        ('python -c "import smtplib, email.message" (baseline)', base),
        ('python -c "import emailactions"', best_wall([py, "-c", "import emailactions"])),
        ("emailactions send (console transport)", best_wall(
            [py, "-m", "emailactions", "send", "--from", "a@example.com", "--to", "b@example.com", "--subject", "Grüße", "--body", "hi"]
        )),
    ]
    for name, seconds in rows:
        print(f"{name:<58} {seconds * 1000:7.1f} ms   {seconds / base:5.2f}x baseline")


if __name__ == "__main__":
    main()
