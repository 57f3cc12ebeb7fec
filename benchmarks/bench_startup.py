"""Cold import and CLI start against ``python -c "import smtplib, email.message"``.

    python benchmarks/bench_startup.py

Each figure is the best of 15 fresh interpreter runs, wall and CPU time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def best_wall(args: list[str], runs: int = 15) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of ``runs`` fresh processes.

    CPU time is the steadier figure on a shared machine: waiting for a core
    adds wall time, not CPU time."""
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": os.environ.get("EMAILACTIONS_LOAD_PLUGINS", "")}
    env.pop("EMAILACTIONS_CONFIG", None)
    wall = cpu = float("inf")
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(runs):
            started = time.perf_counter()
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise SystemExit(f"{args} exited {proc.returncode}")
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, usage.ru_utime + usage.ru_stime)
    return wall, cpu


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
    print(f"{'':<58} {'wall':>9}  {'ratio':>6}   {'CPU':>9}  {'ratio':>6}")
    for name, (wall, cpu) in rows:
        print(f"{name:<58} {wall * 1000:6.1f} ms  {wall / base[0]:5.2f}x   {cpu * 1000:6.1f} ms  {cpu / base[1]:5.2f}x")

if __name__ == "__main__":
    main()
