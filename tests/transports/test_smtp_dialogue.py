"""The SMTP dialogue in the ``emailactions.smtp`` log: every line, credentials and message masked."""

from __future__ import annotations

import base64
import logging

from emailactions.mime.compose import compose
from emailactions.params.addresses import Address
from emailactions.params.send import Body, SendRequest
from emailactions.transports.smtp import SMTPTransport

from support.smtp_server import PASSWORD, USER

SECRET_BODY = "reset your password: https://idm.example.com/reset?token=Zm9vYmFy"


def message():
    return compose(SendRequest(sender=Address("idm@example.com"), to=(Address("b@example.com"),),
                               subject="Reset", bodies=(Body("plain", SECRET_BODY),)))  # fmt: skip


def dialogue(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "emailactions.smtp" and r.getMessage()[:3] in ("C: ", "S: ")]


def test_debug_logs_the_dialogue_with_auth_and_message_masked(caplog, smtp_tls_server, ca_file):
    caplog.set_level(logging.DEBUG, logger="emailactions.smtp")
    transport = SMTPTransport(host="127.0.0.1", port=smtp_tls_server.port, starttls=True, ca_file=ca_file,
                              username=USER, password=PASSWORD, debug=True)  # fmt: skip
    try:
        transport.send(message())
    finally:
        transport.close()
    lines = dialogue(caplog)
    assert lines[0].startswith("S: 220 ") and "C: STARTTLS" in lines
    [auth] = [line for line in lines if line.startswith("C: AUTH")]
    assert auth in ("C: AUTH PLAIN ********", "C: AUTH LOGIN ********", "C: AUTH LOGIN")
    assert any(line.startswith("S: 235") for line in lines)
    assert any(line.startswith("C: MAIL FROM:<idm@example.com>") for line in lines)
    assert any(line.startswith("C: <message, ") and line.endswith(" bytes>") for line in lines)
    text = caplog.text
    secrets = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()]
    assert not any(secret in text for secret in secrets)
    assert "token=" not in text and "Subject: Reset" not in text
    assert len(smtp_tls_server.messages) == 1


def test_multiline_replies_keep_their_continuation_marks(caplog, smtp_server):
    caplog.set_level(logging.DEBUG, logger="emailactions.smtp")
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port)  # DEBUG enabled is enough, without debug=true
    try:
        transport.send(message())
    finally:
        transport.close()
    ehlo = [line for line in dialogue(caplog) if line.startswith("S: 250")]
    assert any(line.startswith("S: 250-") for line in ehlo) and any(line.startswith("S: 250 ") for line in ehlo)


def test_no_dialogue_unless_asked(caplog, smtp_server):
    caplog.set_level(logging.INFO, logger="emailactions.smtp")
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port)
    try:
        transport.send(message())
    finally:
        transport.close()
    assert dialogue(caplog) == []


def test_auth_login_continuations_are_masked_until_the_server_stops_asking(caplog):
    from emailactions.transports.smtp_dialogue import _Dialogue

    caplog.set_level(logging.DEBUG, logger="emailactions.smtp")
    talk = _Dialogue(logging.getLogger("emailactions.smtp"))
    talk.sent(b"AUTH LOGIN aWRt\r\n")
    talk.replied(334, b"UGFzc3dvcmQ6")
    talk.sent(b"czNjcjN0LXBhNTU=\r\n")
    talk.replied(235, b"2.7.0 Authentication successful")
    talk.sent(b"MAIL FROM:<a@example.com>\r\n")
    assert dialogue(caplog) == ["C: AUTH LOGIN ********", "S: 334 UGFzc3dvcmQ6", "C: ********",
                                "S: 235 2.7.0 Authentication successful", "C: MAIL FROM:<a@example.com>"]  # fmt: skip
