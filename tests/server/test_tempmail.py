"""cloudflare_temp_email's send API over real HTTP, mail seen at a real SMTP server:
the documented Python snippets run verbatim (but for the worker's address, the
recipient placeholder and the token), then the token's binding and the errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Iterator

import httpx
import pytest

from support.server import Serve, copy_conf, make_config, start, write_config
from support.smtp_server import free_port
from emailactions.cli.tokens import issue

SECRET = "tempmail-test-secret-0123456789abcdef"
SENDER = "box@tempmail.example.com"

# cloudflare_temp_email's documentation, "Send Email via HTTP API", verbatim.
METHOD_1 = '''
send_body = {
    "from_name": "Sender Name",
    "to_name": "Recipient Name",
    "to_mail": "Recipient Address",
    "subject": "Email Subject",
    "is_html": False,  # Set whether it's HTML based on content
    "content": "<Email content: html or text>",
}

res = requests.post(
    "https://your_worker_domain/api/send_mail",
    json=send_body, headers={
        "Authorization": f"Bearer {address_JWT}",
        # "x-custom-auth": "<your_website_password>", # If private site password is enabled
        "Content-Type": "application/json"
    }
)
'''
METHOD_2 = '''
send_body = {
    "token": "<address_JWT>",
    "from_name": "Sender Name",
    "to_name": "Recipient Name",
    "to_mail": "Recipient Address",
    "subject": "Email Subject",
    "is_html": False,  # Set whether it's HTML based on content
    "content": "<Email content: html or text>",
}
res = requests.post(
    "https://your_worker_domain/external/api/send_mail",
    json=send_body, headers={
        # "x-custom-auth": "<your_website_password>", # If private site password is enabled
        "Content-Type": "application/json"
    }
)
'''


def run_snippet(snippet: str, base_url: str, token: str):
    """Run a documented snippet against ``base_url``; returns its ``res``."""
    try:
        import requests
    except ImportError:  # pragma: no cover - the same call through httpx
        requests = httpx
    code = (snippet.replace("https://your_worker_domain", base_url)
            .replace('"Recipient Address"', '"rcpt@example.com"').replace('"<address_JWT>"', repr(token)))  # fmt: skip
    scope = {"requests": requests, "address_JWT": token}
    exec(code, scope)
    return scope["res"]


def tempmail_config(config: dict) -> dict:
    config["server"].update(apis=["idm", "tempmail"], jwt_secret=SECRET)
    return config


@pytest.fixture(scope="module")
def tempmail(module_smtp, tmp_path_factory) -> Iterator:
    folder = tmp_path_factory.mktemp("tempmail")
    host, server = start(tempmail_config(make_config(copy_conf(folder), module_smtp.port, folder)))
    yield server
    server.stop()
    host.close()


@pytest.mark.parametrize("snippet", [METHOD_1, METHOD_2], ids=["bearer", "body-token"])
def test_documented_snippets(tempmail, smtp_server, snippet):
    res = run_snippet(snippet, tempmail.url, issue(SENDER, SECRET)["jwt"])
    assert res.status_code == 200 and res.json() == {"status": "ok"}
    [received] = smtp_server.messages  # sent before the answer, as the worker does
    assert received.mail_from == SENDER and received.rcpt_tos == ["rcpt@example.com"]
    msg = received.message
    assert msg["From"] == f"Sender Name <{SENDER}>" and msg["To"] == "Recipient Name <rcpt@example.com>"
    assert msg["Subject"] == "Email Subject" and msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "<Email content: html or text>"


def test_the_token_decides_the_sender(tempmail, smtp_server):
    token = issue(SENDER, SECRET)["jwt"]
    body = {"from_name": "Boss <boss@bank.example>", "to_mail": "rcpt@example.com", "subject": "S", "content": "<b>x</b>", "is_html": True}
    res = httpx.post(tempmail.url + "/api/send_mail", json=body, headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200, res.text
    [received] = smtp_server.messages
    assert received.mail_from == SENDER and received.message["From"].addresses[0].addr_spec == SENDER
    assert received.message.get_content_type() == "text/html"
    forged = httpx.post(tempmail.url + "/api/send_mail", json={**body, "from": "boss@bank.example"}, headers={"Authorization": f"Bearer {token}"})
    assert forged.status_code == 400 and forged.text.startswith("Failed to send mail")
    assert len(smtp_server.messages) == 1


def test_bad_tokens(tempmail, smtp_server):
    body = {"to_mail": "rcpt@example.com", "subject": "S", "content": "x"}
    other = issue(SENDER, "another-secret-of-32-characters-or-more")["jwt"]
    expired = issue(SENDER, SECRET, expires_in=60, now=1_000_000)["jwt"]
    for token in (other, expired, "not.a.jwt"):
        res = httpx.post(tempmail.url + "/api/send_mail", json=body, headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 401 and res.headers["content-type"].startswith("text/plain")
        external = httpx.post(tempmail.url + "/external/api/send_mail", json={**body, "token": token})
        assert external.status_code == 400 and external.text.startswith("Failed to send mail Invalid address token")
    assert httpx.post(tempmail.url + "/api/send_mail", json=body).status_code == 401
    assert smtp_server.messages == []


def test_missing_fields_fail_as_the_worker_says(tempmail, smtp_server):
    token = issue(SENDER, SECRET)["jwt"]
    res = httpx.post(tempmail.url + "/api/send_mail", json={"to_mail": "rcpt@example.com", "subject": "S"},
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert res.status_code == 400 and res.text == "Failed to send mail Field 'content' is required"


def test_cli_token_against_emailactions_serve(smtp_server, tmp_path, monkeypatch):
    port = free_port()
    config = write_config(tmp_path, smtp_server.port, port)
    config.write_text(config.read_text().replace("shutdown_timeout = 20\n", 'shutdown_timeout = 20\napis = ["idm", "tempmail"]\n'))
    env = {"EMAILACTIONS_JWT_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    made = subprocess.run([sys.executable, "-m", "emailactions", "--config", str(config), "address-token", SENDER, "--expires", "1h"],
                          capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["jwt"]
    monkeypatch.setenv("EMAILACTIONS_JWT_SECRET", SECRET)
    serve = Serve(config, port)
    try:
        res = run_snippet(METHOD_2, serve.url, token)
        assert res.status_code == 200 and res.json() == {"status": "ok"}
        assert smtp_server.messages[0].mail_from == SENDER
    finally:
        serve.stop()
