"""``emailactions serve`` as a real process: it answers, and on SIGTERM lets
in-flight sends finish and leaves submitted mail in the outbox; plus the
credential helpers and the server extra being optional."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time

import httpx
import pytest

from click.testing import CliRunner

from support import wait_for
from emailactions import ActionHost
from emailactions.cli.server import api_key_command, hash_password_command
from emailactions.config.passwords import key_digest, parse_hash
from support.smtp_server import SMTPServer, free_port

from support.server import IDM_AUTH, Serve, write_config

SEND = {"from": "openidm@example.com", "to": "your_email@example.com", "subject": "Test", "body": "Test"}


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


def test_serve_finishes_in_flight_sends_on_sigterm(tmp_path, smtp):
    port = free_port()
    smtp.handler.stall = lambda received: 1.0  # the relay takes its time over DATA
    serve = Serve(write_config(tmp_path, smtp.port, port), port)
    answers = []
    request = threading.Thread(target=lambda: answers.append(
        httpx.post(serve.url + "/openidm/external/email?_action=send", headers=IDM_AUTH, json=SEND, timeout=30)))
    request.start()
    time.sleep(0.5)  # the send is now waiting on the relay
    status, log = serve.stop()
    request.join(30)
    assert answers and answers[0].status_code == 200, log
    assert answers[0].json()["message"] == "Email sent"
    assert len(smtp.messages) == 1
    assert status == 0, log
    assert "caller=openidm-admin" in log and "-> 200 ok" in log
    assert '"body"' not in log and "X-OpenIDM-Password" not in log


def test_submitted_mail_stays_in_the_outbox_across_a_stop(tmp_path):
    port, smtp_port = free_port(), free_port()  # nothing listens on smtp_port yet: the relay is down
    config = write_config(tmp_path, smtp_port, port)
    serve = Serve(config, port)
    submitted = httpx.post(serve.url + "/openidm/external/email?_action=send&waitForCompletion=false", headers=IDM_AUTH, json=SEND)
    assert submitted.json()["message"] == "Email submitted"
    status, log = serve.stop()
    assert status == 0, log

    # A later process (here: a host in this one) finds the message and delivers it once the relay is up.
    relay = SMTPServer()
    relay.port = relay.controller.port = smtp_port
    relay.start()
    host = ActionHost(config, load_entry_points=False)
    try:
        [entry] = host.action("external/email/outbox", "list")["entries"]
        assert entry["id"] == submitted.json()["outboxId"] and entry["state"] in ("queued", "retrying")
        host.action("external/email/outbox", "retry", {"ids": [entry["id"]]})
        wait_for(lambda: relay.messages)
        assert [m.message["Subject"] for m in relay.messages] == ["Test"]
    finally:
        host.close()
        relay.stop()


def test_serve_https_with_tls_cert_and_key(tmp_path, ca, smtp):
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    port = free_port()
    config = write_config(tmp_path, smtp.port, port)
    # Relative to the config file's folder, inside the [server] table.
    config.write_text(config.read_text().replace("shutdown_timeout = 20\n", 'shutdown_timeout = 20\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n'))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    serve = Serve(config, port, verify=context)
    try:
        response = httpx.post(serve.url + "/openidm/external/email?_action=send", headers=IDM_AUTH, json=SEND, verify=context)
        assert response.status_code == 200 and response.json()["message"] == "Email sent"
    finally:
        status, log = serve.stop()
    assert status == 0, log
    assert len(smtp.messages) == 1


def test_hash_password_and_api_key_commands():
    runner = CliRunner()
    hashed = runner.invoke(hash_password_command, ["--stdin"], input="s3cret pass\n")
    assert hashed.exit_code == 0, hashed.output
    assert parse_hash(json.loads(hashed.output)["hash"]).verify("s3cret pass")
    key = json.loads(runner.invoke(api_key_command).output)
    assert len(key["key"]) >= 40 and key_digest(key["key"]).hex() == key["key_sha256"]


BLOCK_SERVER_LIBS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("starlette", "uvicorn"):
            raise ImportError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
"""


def test_serve_without_the_extra_names_it_and_the_rest_still_works():
    missing = run_python(BLOCK_SERVER_LIBS + "from emailactions.cli.root import main\nmain(['serve', '--port', '0'])")
    assert missing.returncode == 2  # a missing extra is a config problem: a plain message
    assert missing.stderr.startswith("Error: ") and "emailactions[server]" in missing.stderr
    light = run_python(BLOCK_SERVER_LIBS + (
        "import emailactions, emailactions.server, emailactions.config.loader\n"
        "from emailactions.cli.root import main\n"
        "assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules\n"
        "main(['send', '--from', 'a@example.com', '--to', 'b@example.com', '--subject', 'hi'])"))  # fmt: skip
    assert light.returncode == 0, light.stderr
    assert "Email sent" in light.stdout
