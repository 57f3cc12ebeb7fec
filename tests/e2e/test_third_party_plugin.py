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

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b'{"queued": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
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
