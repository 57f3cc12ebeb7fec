"""The separately installable plugin in plugins/ is installed and used for real.

It is pip-installed into a fresh virtual environment layered over this one,
then found through the ``emailactions`` entry-point group like any plugin.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import sysconfig
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from support import ROOT

PLUGIN = ROOT / "plugins" / "emailactions-webhook"


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory) -> str:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    # See this environment's packages (emailactions, pip, setuptools) too.
    Path(target_site, "_parent_env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(PLUGIN)],
        check=True,
        capture_output=True,
    )
    return str(python)


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    #: What the endpoint answers; a test sets an error status to see retries.
    status = 202

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b'{"queued": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.status = [], 202
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_cli(python, *args, env=None):
    return subprocess.run([python, "-m", "emailactions", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)


def test_plugins_lists_builtins_and_the_installed_transport(plugin_python):
    proc = run_cli(plugin_python, "plugins")
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    assert plugins["webhook"]["transports"] == ["webhook"]
    assert plugins["webhook"]["distribution"] == "emailactions-webhook" and plugins["webhook"]["version"] == "0.1.0"
    assert plugins["emailactions.transports.smtp"]["transports"] == ["smtp"]
    assert plugins["emailactions.services.email"]["actions"] == ["external/email/send"] or "external/email/send" in plugins["emailactions.services.email"]["actions"]


def test_send_through_the_installed_transport(plugin_python, receiver, tmp_path):
    config = tmp_path / "emailactions.toml"
    config.write_text(
        '[email]\nfrom = "openidm@example.com"\n'
        f'[transports.default]\nbackend = "webhook"\nurl = "http://127.0.0.1:{receiver.server_port}/send"\ntoken = "tkn"\n'
    )
    proc = run_cli(plugin_python, "--config", str(config), "send", "--to", "bjensen@example.com", "--subject", "via webhook")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["message"] == "Email sent"
    [(auth, payload)] = _Receiver.received
    assert auth == "Bearer tkn" and payload["to"] == ["bjensen@example.com"]
    assert b"Subject: via webhook" in base64.b64decode(payload["raw"])


def test_allowlist_keeps_the_plugin_out(plugin_python):
    proc = run_cli(plugin_python, "plugins", env={"EMAILACTIONS_LOAD_PLUGINS": "nothing-else"})
    assert "webhook" not in {p["name"] for p in json.loads(proc.stdout)}


def webhook_config(tmp_path, receiver) -> str:
    config = tmp_path / "emailactions.toml"
    config.write_text(
        '[email]\nfrom = "openidm@example.com"\n'
        f'[transports.default]\nbackend = "webhook"\nurl = "http://127.0.0.1:{receiver.server_port}/send"\n'
        f'[outbox]\npath = "{tmp_path / "outbox.sqlite3"}"\nsync_deadline = 1.0\nsync_backoff = 0.05\n'
    )
    return str(config)


@pytest.mark.parametrize("status, permanent", [(400, True), (404, True), (408, False), (429, False), (503, False)])
def test_webhook_4xx_fails_at_once_and_others_are_retried(plugin_python, receiver, tmp_path, status, permanent):
    _Receiver.status = status
    proc = run_cli(plugin_python, "--config", webhook_config(tmp_path, receiver), "send", "--to", "bjensen@example.com", "--subject", "s")
    assert proc.returncode == 1
    error = json.loads(proc.stderr)
    assert error["message"] == f"Webhook answered {status}"
    assert error["detail"]["status"] == status and error["detail"]["permanent"] is permanent
    # Within sync_deadline: one attempt for a permanent answer, several otherwise.
    assert (len(_Receiver.received) == 1) if permanent else (len(_Receiver.received) > 1)


@pytest.mark.parametrize("status, state", [(403, "failed"), (503, "queued")])
def test_webhook_4xx_in_the_outbox_fails_and_5xx_waits(plugin_python, receiver, tmp_path, status, state):
    _Receiver.status = status
    config = webhook_config(tmp_path, receiver)
    params = json.dumps({"to": "bjensen@example.com", "subject": "s", "waitForCompletion": False})
    submitted = run_cli(plugin_python, "--config", config, "action", "external/email", "send", "--params", params)
    assert submitted.returncode == 0, submitted.stderr
    entry_id = str(json.loads(submitted.stdout)["outboxId"])
    # Whichever process makes the attempt (the submitter's worker or drain), it is made once.
    drained = run_cli(plugin_python, "--config", config, "outbox", "drain")
    assert drained.returncode == 0, drained.stderr
    entry = json.loads(run_cli(plugin_python, "--config", config, "outbox", "show", entry_id).stdout)
    assert (entry["state"], entry["attempts"], len(_Receiver.received)) == (state, 1, 1)
    assert entry["lastError"]["detail"]["permanent"] is (status == 403)
