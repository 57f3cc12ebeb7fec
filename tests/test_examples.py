"""Every file in examples/ is run here, as the README tells a newcomer to run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(args, cwd=ROOT):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_readme_first_command_sends_send_json_on_console():
    # README: emailactions action external/email send --params @examples/send.json
    proc = run([sys.executable, "-m", "emailactions", "action", "external/email", "send", "--params", "@examples/send.json"])
    assert proc.returncode == 0, proc.stderr
    assert "Subject: OpenIDM recon report" in proc.stdout
    assert "RCPT TO: bjensen@example.com, scarter@example.com, ops@example.com, audit@example.com" in proc.stdout
    assert "Bcc" not in proc.stdout


def test_embed_example():
    proc = run([sys.executable, str(EXAMPLES / "embed.py")])
    assert proc.returncode == 0, proc.stderr
    assert "Subject: Password changed" in proc.stdout
    assert '"message": "Bad To: email address"' in proc.stdout


def test_every_example_is_covered():
    # A file counts as run when a test names it, or names its example folder.
    texts = [p.read_text() for p in Path(__file__).parent.rglob("test_*.py")]
    for path in EXAMPLES.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        folder = path.parent.relative_to(EXAMPLES).parts
        folder_ref = f'"examples" / "{folder[0]}"' if folder else None
        assert any(path.name in t or (folder_ref and folder_ref in t) for t in texts), f"{path} is not run by any test"


def test_send_json_is_idms_example():
    params = json.loads((EXAMPLES / "send.json").read_text())
    assert params["subject"] == "OpenIDM recon report"
