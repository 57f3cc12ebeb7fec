"""Mail a one-shot command submits is never lost: delivered before exit without an outbox file, else queued and said where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest


def run(*args, cwd=None):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    env.pop("EMAILACTIONS_OUTBOX", None)
    return subprocess.run([sys.executable, "-m", "emailactions", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def config(tmp_path, port, outbox=""):
    path = tmp_path / "emailactions.toml"
    path.write_text(f'[email]\nfrom = "openidm@example.com"\n[transports.default]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
                    f'[rate_limits]\nenabled = false\n[outbox]\nsync_deadline = 1.5\nsync_backoff = 0.05\n{outbox}', encoding="utf-8")  # fmt: skip
    return path


def test_without_an_outbox_file_the_mail_is_delivered_before_exit(tmp_path, smtp_server):
    proc = run("--config", config(tmp_path, smtp_server.port), "send", "--to", "a@example.com", "--subject", "now", "--no-wait")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["message"] == "Email submitted" and result["state"] == "sent"
    assert [m.message["Subject"] for m in smtp_server.messages] == ["now"]
    assert proc.stderr.count("WARNING") == 1 and "set [outbox] path" in proc.stderr


def test_without_an_outbox_file_a_refusal_is_the_commands_error(tmp_path, smtp_server):
    smtp_server.handler.data_reply = lambda received: "554 5.7.1 Rejected"
    proc = run("--config", config(tmp_path, smtp_server.port), "send", "--to", "a@example.com", "--no-wait")
    assert proc.returncode == 1 and proc.stdout == ""
    error = json.loads(proc.stderr[proc.stderr.index("{"):])
    assert error["detail"]["smtp_code"] == 554


def test_without_an_outbox_file_a_relay_failing_until_sync_deadline_is_an_error(tmp_path, smtp_server):
    smtp_server.handler.data_reply = lambda received: "451 4.3.0 Try again later"
    started = time.monotonic()
    proc = run("--config", config(tmp_path, smtp_server.port), "send", "--to", "a@example.com", "--no-wait")
    assert proc.returncode == 1 and proc.stdout == ""
    error = json.loads(proc.stderr[proc.stderr.index("{"):])
    assert error["code"] == 504 and "sync_deadline (1.5 s)" in error["message"] and "[outbox] path" in error["message"]
    assert len(smtp_server.messages) == 0 and time.monotonic() - started < 15
    assert "undelivered" not in proc.stderr  # said once, by the error


def test_with_an_outbox_file_the_result_says_where_and_what_delivers_it(tmp_path, smtp_server):
    path = config(tmp_path, smtp_server.port, 'path = "outbox.sqlite3"\n')
    proc = run("--config", path, "send", "--to", "a@example.com", "--subject", "later", "--no-wait")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["message"] == "Email submitted" and result["state"] == "queued"
    assert result["outbox"] == str(tmp_path / "outbox.sqlite3")
    assert result["deliverWith"] == [f"emailactions --config {path} worker", f"emailactions --config {path} outbox drain"]
    assert smtp_server.messages == []  # a one-shot command leaves delivery to those
    drained = run(*result["deliverWith"][1].split()[1:])
    assert drained.returncode == 0 and json.loads(drained.stdout)["sent"] == 1
    assert [m.message["Subject"] for m in smtp_server.messages] == ["later"]


@pytest.mark.parametrize("script", ["send.js", "send.py"])
def test_a_script_that_submits_twice_gets_one_warning_saying_where(tmp_path, smtp_server, script):
    params = '{"to": "a@example.com", "subject": "s1"}'
    (tmp_path / script).write_text(f'openidm.action("external/email", "send", {params})\n' * 2 + "'done'\n")
    path = config(tmp_path, smtp_server.port, 'path = "outbox.sqlite3"\n')
    proc = run("--config", path, "run", "--no-wait", tmp_path / script)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == "done"  # the script's own result is left alone
    assert proc.stderr.count("WARNING") == 1 and f"queued in {tmp_path / 'outbox.sqlite3'}" in proc.stderr
    assert "outbox drain" in proc.stderr
