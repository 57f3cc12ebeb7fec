"""Hardening over real HTTP: body limits, JSON only, rate limits, no internals
in responses, logs without secrets, and the router's own errors."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from emailactions import ActionHost, hookimpl
from emailactions.config.server import body_limit
from emailactions.config.model import Limits
from emailactions.server import create_app
from emailactions.errors import ConfigError, EmailActionsError
from emailactions.server.protocol import public_error
from emailactions.transports.memory import MemoryTransport

from support.server import IDM_AUTH, SENDER_KEY, server_section, start

SEND = {"to": "a@example.com", "subject": "s", "body": "b"}
URL = "/openidm/external/email?_action=send"


@pytest.fixture
def own_server(server_config):
    """Start a server with ``server_config`` changed by the test; stopped afterwards."""
    started = []

    def run(**changes):
        for key, value in changes.items():
            server_config[key] = value
        host, server = start(server_config)
        started.append((host, server))
        return httpx.Client(base_url=server.url, timeout=20)

    yield run
    for host, server in started:
        server.stop()
        host.close()


def test_body_limit_413(own_server, smtp_server):
    client = own_server(server=server_section(max_body_bytes=1000))
    big = {**SEND, "body": "x" * 2000}
    declared = client.post(URL, headers=IDM_AUTH, json=big)
    assert declared.status_code == 413 and declared.json()["reason"] == "Request Entity Too Large"

    def chunks():  # no Content-Length: counted while read
        yield b'{"to": "a@example.com", "body": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    streamed = client.post(URL, headers={**IDM_AUTH, "Content-Type": "application/json"}, content=chunks())
    assert streamed.status_code == 413
    assert client.post(URL, headers=IDM_AUTH, json=SEND).status_code == 200
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(
    "headers, content",
    [
        ({"Content-Type": "text/plain"}, b'{"to": "a@example.com"}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"to=a@example.com"),
        ({}, b'{"to": "a@example.com"}'),
        ({"Content-Type": "application/json; charset=latin-1"}, b'{"to": "a@example.com"}'),
    ],
)
def test_json_only_415(client, headers, content):
    response = client.post(URL, headers={**IDM_AUTH, **headers}, content=content)
    assert response.status_code == 415 and response.json()["detail"]["kind"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content", [b"{", b'{"to": NaN}', b"[" * 50_000, b'["a"]', b"\xff\xfe", b'{"a": ' + b"9" * 5000 + b"}"]
)
def test_malformed_json_400(client, content, smtp_server):
    response = client.post(URL, headers={**IDM_AUTH, "Content-Type": "application/json"}, content=content)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]["param"] == "body"
    assert smtp_server.messages == []


def test_api_rate_limit_429_with_retry_after(own_server):
    client = own_server(server=server_section(rate_limits={"caller": "2 per minute"}))
    codes = [client.get("/openidm/config", headers=IDM_AUTH).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.get("/openidm/config", headers=IDM_AUTH)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60 and limited.json()["detail"]["retry_after"] >= 1


def test_failed_logins_are_throttled_per_address(client):
    wrong = {**IDM_AUTH, "X-OpenIDM-Password": "guess"}
    assert {client.get("/openidm/config", headers=wrong).status_code for _ in range(10)} == {401}
    blocked = client.get("/openidm/config", headers=IDM_AUTH)  # even the right password, for a while
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


def test_mail_rate_limit_is_429_with_retry_after(own_server, smtp_server):
    client = own_server(rate_limits={"recipient": "1 per minute"})
    assert client.post(URL, headers=IDM_AUTH, json=SEND).status_code == 200
    limited = client.post(URL, headers=IDM_AUTH, json=SEND)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert len(smtp_server.messages) == 1


class Exploding(MemoryTransport):
    """A buggy third-party transport: raises something that is not ours."""

    name = "exploding"

    def send(self, message):
        raise RuntimeError("db password is hunter2 at /srv/secret/path")


class ExplodingPlugin:
    __name__ = "exploding-plugin"

    @hookimpl
    def register_transports(self, register):
        register("exploding", Exploding)


def test_unexpected_errors_are_a_bare_500_and_logged(server_config, caplog):
    server_config["transports"] = {"default": {"backend": "exploding"}}
    server_config.pop("outbox")
    host, server = start(server_config, plugins=(ExplodingPlugin(),))
    try:
        with caplog.at_level(logging.INFO, logger="emailactions.server"):
            response = httpx.post(server.url + URL, headers=IDM_AUTH, json=SEND)
    finally:
        server.stop()
        host.close()
    assert response.status_code == 500
    assert response.json() == {"code": 500, "reason": "Internal Server Error", "message": "Internal error; the server log has the details", "detail": {"kind": "internal_error"}}
    assert "hunter2" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.name == "emailactions.server" and r.exc_info]
    assert logged and "hunter2" in str(logged[0].exc_info[1])


def test_internal_config_errors_are_hidden():
    error = ConfigError("Cannot read /etc/secret/emailactions.toml", key="x")
    shown = public_error(error)
    assert shown.code == 500 and "/etc/secret" not in shown.message
    assert public_error(EmailActionsError("x")).message != "x"


def test_logs_name_caller_and_outcome_never_password_or_body(client, caplog, smtp_server):
    mailer = {"X-OpenIDM-Username": "mailer", "X-OpenIDM-Password": "mailer-pass"}
    with caplog.at_level(logging.DEBUG):
        client.post(URL, headers=mailer, json={**SEND, "body": "SECRET-BODY-TEXT"})
        client.post(URL, headers={**mailer, "X-OpenIDM-Password": "wrong-pass-123"}, json=SEND)
    lines = [r.getMessage() for r in caplog.records if r.name == "emailactions.server"]
    assert any("caller=mailer" in line and "-> 200 ok" in line for line in lines), lines
    assert any("caller=mailer" in line and "-> 401 unauthorized" in line for line in lines), lines
    # Everything this package logged (the test SMTP server's own debug log shows the body it received).
    everything = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("emailactions", "uvicorn")))
    assert "mailer-pass" not in everything and "wrong-pass-123" not in everything and "SECRET-BODY-TEXT" not in everything


def test_router_errors_have_our_shapes(client):
    missing = client.get("/openidm/nothing", headers=IDM_AUTH)
    assert missing.status_code == 404 and missing.json()["reason"] == "Not Found"
    fa_missing = client.get("/api/nothing", headers=IDM_AUTH)
    assert fa_missing.status_code == 404 and "generalErrors" in fa_missing.json()
    wrong_method = client.post("/openidm/config", headers=IDM_AUTH)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert wrong_method.json()["reason"] == "Method Not Allowed"
    assert client.get("/openidm/info/ping").headers["Cache-Control"] == "no-store"


# -- the mail limit for callers without "*" ([server] recipient_limit) ---------------

MAILER = {"X-OpenIDM-Username": "mailer", "X-OpenIDM-Password": "mailer-pass"}


def test_callers_without_every_permission_are_limited_per_recipient(own_server, smtp_server):
    client = own_server()  # [rate_limits] off: the server's own default limit applies
    assert [client.post(URL, headers=MAILER, json=SEND).status_code for _ in range(5)] == [200] * 5
    limited = client.post(URL, headers=MAILER, json=SEND)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 14 * 60
    body = limited.json()
    assert body["detail"]["config_key"] == "server.recipient_limit" and "server.recipient_limit" in body["message"]
    assert body["detail"]["limit"] == "5 per 15 minutes"
    # Bcc counts: a@ is hidden behind another recipient, and still limited.
    hidden = client.post(URL, headers=MAILER, json={**SEND, "to": "b@example.com", "bcc": "a@example.com"})
    assert hidden.status_code == 429
    # IDM's admin ("*") is trusted with everything: no such limit.
    assert [client.post(URL, headers=IDM_AUTH, json=SEND).status_code for _ in range(3)] == [200] * 3
    assert len(smtp_server.messages) == 8


def test_recipient_limit_is_configurable_and_switchable_off(own_server, smtp_server):
    off = own_server(server=server_section(recipient_limit=""))
    assert [off.post(URL, headers=MAILER, json=SEND).status_code for _ in range(8)] == [200] * 8
    tight = own_server(server=server_section(recipient_limit="1 per hour"))
    assert [tight.post(URL, headers=MAILER, json=SEND).status_code for _ in range(2)] == [200, 429]


def test_recipient_limit_reaches_every_message_of_a_bulk_send(own_server, smtp_server):
    client = own_server(server=server_section(recipient_limit="1 per hour"))
    users = [f"u{n}@example.com" for n in range(6)]

    def send_all():  # sent separately by a pool of threads
        reply = client.post("/api/email/send/welcome?waitForCompletion=true", headers={"Authorization": SENDER_KEY},
                            json={"toAddresses": [{"address": a} for a in users], "requestData": {"userName": "x"}})  # fmt: skip
        assert reply.status_code == 202, reply.text
        return reply.json()

    assert send_all()["sent"] == 6
    again = send_all()
    assert again["sent"] == 0 and sorted(again["anonymousResults"]) == users
    assert {r["error"]["code"] for r in again["anonymousResults"].values()} == {429}
    assert len(smtp_server.messages) == 6


# -- the request body limit follows [email.limits] --------------------------------------


def test_default_body_limit_admits_the_largest_message_the_limits_allow(own_server):
    limits = Limits()
    assert body_limit(limits) >= 4 * -(-limits.max_message_bytes // 3) + limits.max_body_bytes
    bigger = {"max_message_bytes": 60 * 2**20, "max_attachment_bytes": 60 * 2**20}
    with ActionHost({"email": {"from": "a@example.com", "limits": bigger}}, load_entry_points=False) as host:
        assert create_app(host).state.emailactions.max_body_bytes == body_limit(Limits(**bigger)) > 80 * 2**20
    with ActionHost({"server": {"max_body_bytes": 1000}}, load_entry_points=False) as host:
        assert create_app(host).state.emailactions.max_body_bytes == 1000  # an explicit limit wins

    # Over real HTTP: 25 MiB of attachments (20 + 5, the per-attachment and per-message
    # limits) and a body, base64 in JSON: ~34 MiB, past the old 10 MiB default.
    client = own_server(transports={"default": {"backend": "memory"}})
    blob = base64.b64encode(b"\x00" * (limits.max_attachment_bytes)).decode("ascii")
    rest = base64.b64encode(b"\x01" * (limits.max_message_bytes - limits.max_attachment_bytes)).decode("ascii")
    params = {**SEND, "body": "b" * 2**20, "attachments": [
        {"filename": "big.bin", "fileType": "application/octet-stream", "data": blob},
        {"filename": "rest.bin", "fileType": "application/octet-stream", "data": rest}]}  # fmt: skip
    reply = client.post(URL, headers=IDM_AUTH, json=params, timeout=120)
    assert reply.status_code == 200, reply.text[:500]


def test_rest_callers_are_held_to_their_senders(own_server, smtp_server):
    section = server_section()
    section["users"]["mailer"]["senders"] = ["*@example.com"]
    section["api_keys"]["bound"] = {"key": "bound-key-0123456789abcdef", "permissions": ["send"], "senders": ["alerts@example.com"]}
    section["users"]["plain"] = {"password": section["users"]["mailer"]["password"], "roles": ["mailer"]}
    client = own_server(server=section, rate_limits={"enabled": False})
    spoof = {**SEND, "from": '"Security Team" <security@paypal.com>'}
    plain = {"X-OpenIDM-Username": "plain", "X-OpenIDM-Password": "mailer-pass"}
    bound_key = {"Authorization": "bound-key-0123456789abcdef"}
    refused = client.post(URL, headers=plain, json=spoof)
    assert refused.status_code == 403 and refused.json()["detail"]["param"] == "from"
    assert "from" in refused.json()["detail"]["param"] and "security@paypal.com" in refused.json()["message"]
    assert client.post(URL, headers=plain, json=SEND).status_code == 200  # the configured from
    assert client.post(URL, headers=MAILER, json={**SEND, "from": "team@example.com"}).status_code == 200
    assert client.post(URL, headers=MAILER, json=spoof).status_code == 403
    assert client.post(URL, headers=bound_key, json={**SEND, "from": "alerts@example.com"}).status_code == 200
    assert client.post(URL, headers=bound_key, json=SEND).status_code == 403  # not even the configured from
    assert client.post(URL, headers=IDM_AUTH, json=spoof).status_code == 200  # "*" without senders: free
    assert [m.mail_from for m in smtp_server.messages] == [
        "openidm@example.com", "team@example.com", "alerts@example.com", "security@paypal.com",
    ]


def test_json_nested_past_the_limit_is_the_same_400_as_everywhere(client, smtp_server):
    deep = "[" * 300 + "]" * 300
    body = '{"templateName": "welcome", "to": "a@example.com", "object": %s}' % deep
    url = "/openidm/external/email?_action=sendTemplate"
    reply = client.post(url, headers={**IDM_AUTH, "Content-Type": "application/json"}, content=body)
    assert reply.status_code == 400 and "nests too deeply" in reply.json()["message"]
    assert smtp_server.messages == []
