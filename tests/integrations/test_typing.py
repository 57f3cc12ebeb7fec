"""The typed API as a user's editor and ``mypy --strict`` see it (``py.typed`` ships)."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample_user_code.py"

MISTAKES = '''\
from emailactions import ActionHost
from emailactions.integrations.flask import EmailActions


def wrong(host: ActionHost, mail: EmailActions) -> int:
    host.send(to=1)
    host.send(subjet="typo")
    mail.send_template(name=3)
    return host.send(to="a@example.com").message_id
'''


def test_mypy_strict_accepts_the_sample_and_catches_mistakes(tmp_path):
    mistakes = tmp_path / "mistakes.py"
    mistakes.write_text(MISTAKES, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache"),
         str(SAMPLE), str(mistakes)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if "sample_user_code" in e], run.stdout + run.stderr
    found = {(line.split(":")[1], line.rsplit("[", 1)[-1].rstrip("]")) for line in errors}
    assert found == {("6", "arg-type"), ("7", "call-arg"), ("8", "arg-type"), ("9", "return-value")}, run.stdout


def test_the_sample_runs(example_config):
    spec = importlib.util.spec_from_file_location("sample_user_code", SAMPLE)
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)
    from emailactions import ActionHost

    with ActionHost(example_config, load_entry_points=False) as host:
        assert sample.notify(host, "bjensen@example.com").startswith("<")
        assert sample.welcome(host, ["a@example.com", "b@example.com"]) == ["a@example.com: sent", "b@example.com: sent"]
        assert asyncio.run(sample.notify_async(host)) == 3
    app = sample.create_app()
    try:
        assert app.test_client().post("/contact").json["message"] == "Email sent"
    finally:
        app.extensions["emailactions"].close()
