"""What a script costs on top of the action it calls, as ratios against ``host.action``.

    python benchmarks/bench_scripts.py

All on the memory transport, in one process. The baseline is
``host.action("external/email", "send", params)`` with IDM's send params;
the scripts make that same call: IDM's example as JavaScript (a fresh QuickJS
context and the prelude in the warm sandbox process, JSON over its pipes)
and as Python (read, parse, compile, exec). ``1 + 1`` shows the fixed cost
of a run with no action.

Back to back, a JavaScript run costs what its sandbox process spends on it
(it builds the next run's context while the host does other work, which a
tight loop leaves no time for); the "5 ms apart" lines are the median time
of runs with a pause between them, as scripts usually arrive. "cold" is a
run that has to start a sandbox process first (the first run, or the next
after one was killed).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))

from common import per_call, show  # noqa: E402

from emailactions import ActionHost  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEND_JS = (ROOT / "examples" / "scripts" / "send.js").read_text(encoding="utf-8")
SEND_PY = (ROOT / "examples" / "scripts" / "send.py").read_text(encoding="utf-8")
PARAMS = {
    "from": "openidm@example.com",
    "to": "your_email@example.com",
    "cc": "bjensen@example.com,scarter@example.com",
    "subject": "OpenIDM recon report",
    "type": "text/html",
    "body": "<html><body><p>Recon report follows...</p></body></html>",
}


def apart(fn: Callable[[], object], *, gap: float = 0.005, runs: int = 200) -> float:
    """Median seconds per call of ``fn`` with ``gap`` seconds of idle time before each."""
    times = []
    for _ in range(runs):
        time.sleep(gap)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    config = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}, "rate_limits": {"enabled": False}}
    with ActionHost(config, load_entry_points=False) as host:
        outbox = host.transport().outbox

        def action() -> None:
            host.action("external/email", "send", PARAMS)
            outbox.clear()

        def script(source: str, language: str) -> None:
            host.run_script(source, language=language)
            outbox.clear()

        base = per_call(action)
        show("host.action send (baseline)", base)
        show("javascript: IDM send example", per_call(lambda: script(SEND_JS, "javascript")), base, "action")
        show("python: send example", per_call(lambda: script(SEND_PY, "python")), base, "action")
        show("javascript: 1 + 1 (no action)", per_call(lambda: host.run_script("1 + 1", language="javascript")), base, "action")
        show("python: 1 + 1 (no action)", per_call(lambda: host.run_script("1 + 1", language="python")), base, "action")
        show("javascript: IDM send example, 5 ms apart", apart(lambda: script(SEND_JS, "javascript")), base, "action")
        show("javascript: 1 + 1, 5 ms apart", apart(lambda: host.run_script("1 + 1", language="javascript")), base, "action")
        language = host.scripting.language("javascript")

        def cold() -> None:
            language.close()  # no warm sandbox process left: the run starts one
            host.run_script("1 + 1", language="javascript")

        show("javascript: 1 + 1, cold (starts a sandbox process)", apart(cold, runs=20), base, "action")


if __name__ == "__main__":
    main()
