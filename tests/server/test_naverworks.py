"""NAVER WORKS ``POST /users/{userId}/mail`` over real HTTP, mail seen at a real
SMTP server: the documented example body runs verbatim (its base64 with a space
inside), then recipients, subject cut, sender identity, records and refusals."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Iterator

import httpx
import pytest

from support import wait_for
from support.server import Serve, copy_conf, make_config, start, write_config
from support.smtp_server import free_port

ADMIN_KEY = "naver-admin-key-0123456789"
OTHER_KEY = "naver-other-key-0123456789"
ROOT_KEY = "naver-root-key-01234567890"
# NAVER WORKS' documented example request body, verbatim (line numbers of the page dropped).
EXAMPLE = """{
 "to": "admin@example.com",
 "subject": "Test",
 "body": "Body",
 "contentType": "html",
 "userName": "admin",
 "isSaveSentMail": true,
 "isSaveTracking": true,
 "isSendSeparately": false,
 "attachments": [
  {
   "filename": "index.html",
   "fileType": "text/html",
   "data": "PCFET0NUWVBFIGh0bWw+CjxodG1sIGxhbmc9ImphIj4KPGhlYWQ+Cjx0aXRsZT5XZWxjb21lIHRvIFdPUktTIEFQSTwvdGl0bGU+CjwvaGVhZD4K PGJvZHk+CjxoMT5XZWxjb21lIFRvIFdPUktTIEFQSTwvaDE+CldlbGNvbWUgdG8gdGhlIFdPUktTIEFQSSB3b3JsZC4KPC9ib2R5Pgo8L2h0bWw+"
  }
 ]
}"""
EXAMPLE_FILE = (b'<!DOCTYPE html>\n<html lang="ja">\n<head>\n<title>Welcome to WORKS API</title>\n</head>\n<body>\n'
                b'<h1>Welcome To WORKS API</h1>\nWelcome to the WORKS API world.\n</body>\n</html>')  # fmt: skip
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}


def naver_config(config: dict) -> dict:
    server = config["server"]
    server["apis"] = ["idm", "naverworks"]
    server["api_keys"].update({
        "admin": {"key": ADMIN_KEY, "permissions": ["send"]},
        "other": {"key": OTHER_KEY, "permissions": ["send"]},
        "root": {"key": ROOT_KEY, "permissions": ["*"]},
    })  # fmt: skip
    server["users"]["admin"] = {"password": server["users"]["mailer"]["password"], "permissions": [], "email": "admin.sender@example.com"}
    return config


@pytest.fixture(scope="module")
def naver(module_smtp, tmp_path_factory) -> Iterator:
    folder = tmp_path_factory.mktemp("naver")
    host, server = start(naver_config(make_config(copy_conf(folder), module_smtp.port, folder)))
    server.host = host
    yield server
    server.stop()
    host.close()


def post(server, body, user="me", headers=HEADERS):
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(f"{server.url}/users/{user}/mail", content=content.encode(), headers=headers, timeout=20)


def test_documented_example(naver, smtp_server):
    response = post(naver, EXAMPLE)
    assert response.status_code == 202 and response.content == b""
    [received] = wait_for(lambda: smtp_server.messages)  # through the outbox: a sent-mail record stays
    msg = received.message
    assert received.rcpt_tos == ["admin@example.com"] and received.mail_from == "admin.sender@example.com"
    assert msg["From"] == "admin <admin.sender@example.com>" and msg["Subject"] == "Test"
    assert msg.get_body(("html",)).get_content().strip() == "Body"
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "index.html" and attachment.get_content_type() == "text/html"
    assert attachment.get_payload(decode=True) == EXAMPLE_FILE
    entry = wait_for(lambda: naver.host.action("external/email/outbox", "list", {"state": "sent"})["entries"])[0]
    assert entry["recipients"] == ["admin@example.com"] and entry["from"] == "admin.sender@example.com"


def test_recipients_subject_and_text(naver, smtp_server):
    long_subject = "S" * 200
    body = {"to": "a@example.com; b@example.com", "cc": "c@example.com", "bcc": "d@example.com;", "subject": long_subject,
            "body": "plain", "contentType": "text", "isSaveSentMail": False, "isSaveTracking": False}  # fmt: skip
    assert post(naver, body).status_code == 202
    [received] = smtp_server.messages  # no record asked: sent before the answer
    assert sorted(received.rcpt_tos) == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    assert received.message["Subject"] == "S" * 180 and received.message.get_content_type() == "text/plain"


def test_send_separately(naver, smtp_server):
    body = {"to": "a@example.com;b@example.com", "subject": "Each", "isSendSeparately": True, "isSaveSentMail": False, "isSaveTracking": False}
    assert post(naver, body).status_code == 202
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["a@example.com", "b@example.com"]


def test_inline_image_by_cid(naver, smtp_server):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    wrapped = png[:8] + "\r\n" + png[8:]
    body = {"to": "a@example.com", "subject": "Dot", "body": '<img src="cid:reddotiVBORw0KGgoAAAA" alt="Red dot" />',
            "isSaveSentMail": False, "isSaveTracking": False,
            "attachments": [{"filename": "dot.png", "fileType": "image/png", "data": wrapped, "cid": "reddotiVBORw0KGgoAAAA", "inline": True}]}  # fmt: skip
    assert post(naver, body).status_code == 202
    image = next(p for p in smtp_server.messages[0].message.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<reddotiVBORw0KGgoAAAA>" and image.get_payload(decode=True) == b"\x89PNG\r\n\x1a\nfake"


def test_a_key_acts_for_its_own_user_unless_it_has_star(naver, smtp_server):
    body = {"to": "a@example.com", "subject": "x", "isSaveSentMail": False, "isSaveTracking": False}
    assert post(naver, body, user="admin").status_code == 202
    refused = post(naver, body, user="admin", headers={**HEADERS, "Authorization": f"Bearer {OTHER_KEY}"})
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    root = post(naver, body, user="admin", headers={**HEADERS, "Authorization": f"Bearer {ROOT_KEY}"})
    assert root.status_code == 202
    assert [m.mail_from for m in smtp_server.messages] == ["admin.sender@example.com"] * 2


@pytest.mark.parametrize("change, field", [
    ({"attachments": [{"filename": "a.txt", "data": "aGVsbG8!"}]}, "attachments[0].data"),
    ({"attachments": [{"filename": "a" * 247 + ".txt", "data": "aGVsbG8="}]}, "attachments[0].filename"),
    ({"securityLevel": "Secret"}, "securityLevel"),
    ({"contentType": "markdown"}, "contentType"),
    ({"contentType": {}}, "contentType"),  # found by the OpenAPI fuzzer: was a 500
    ({"to": ""}, "to"),
    ({"subject": ""}, "subject"),
    ({"isSaveSentMail": "yes"}, "isSaveSentMail"),
    ({"priority": 1}, "priority"),
])  # fmt: skip
def test_bad_requests_are_400(naver, smtp_server, change, field):
    response = post(naver, {"to": "a@example.com", "subject": "x", **change})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_PARAMETER" and field in response.json()["description"]
    assert smtp_server.messages == []


def test_security_level_is_accepted(naver, smtp_server):
    body = {"to": "a@example.com", "subject": "x", "securityLevel": "Confidential", "isSaveSentMail": False, "isSaveTracking": False}
    assert post(naver, body).status_code == 202 and len(smtp_server.messages) == 1


def test_bad_token_is_401_in_naver_shape(naver):
    response = post(naver, EXAMPLE, headers={**HEADERS, "Authorization": "Bearer wrong-token-0123456789"})
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


def test_example_against_emailactions_serve_and_outbox_list(smtp_server, tmp_path):
    port = free_port()
    config = write_config(tmp_path, smtp_server.port, port, extra=f"""
[server.api_keys.admin]
key = "{ADMIN_KEY}"
permissions = ["send"]
""")  # fmt: skip
    config.write_text(config.read_text().replace("shutdown_timeout = 20\n", 'shutdown_timeout = 20\napis = ["idm", "naverworks"]\n'))
    serve = Serve(config, port)
    try:
        assert post(serve, EXAMPLE).status_code == 202
        wait_for(lambda: smtp_server.messages, timeout=20)
    finally:
        serve.stop()
    listed = subprocess.run([sys.executable, "-m", "emailactions", "--config", str(config), "outbox", "list", "--sent"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["entries"]
    assert entry["state"] == "sent" and entry["recipients"] == ["admin@example.com"]
