"""What a script costs on top of the action it calls, as ratios against ``host.action``.

    python benchmarks/bench_scripts.py

All on the memory transport, in one process. The baseline is
``host.action("external/email", "send", params)`` with IDM's send params;
the scripts make that same call: IDM's example as JavaScript (a fresh QuickJS
context, the prelude, JSON across the bridge) and as Python (read, parse,
compile, exec). ``1 + 1`` shows the fixed cost of a run with no action.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


if __name__ == "__main__":
    main()
