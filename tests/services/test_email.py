"""IDM's documented ``send`` example, end to end against a real SMTP server."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, RecipientsRefused, SMTPUTF8Unsupported
from support.smtp_server import SMTPServer

IDM_SEND = {
    "from": "openidm@example.com",
    "to": 'bjensen@example.com, "Sam Carter" <scarter@example.com>',
    "cc": "ops@example.com",
    "bcc": "audit@example.com",
    "subject": "OpenIDM recon report",
    "type": "text/html",
    "body": "<html><body><p>Recon report follows...</p></body></html>",
}


def test_idm_send_example_over_smtp(smtp_host, smtp_server):
    result = smtp_host.action("external/email", "send", IDM_SEND)
    assert result["status"] == "OK" and result["message"] == "Email sent"
    assert result["messageId"].startswith("<") and result["refused"] == {}
    [received] = smtp_server.messages
    assert received.mail_from == "openidm@example.com"
    assert received.rcpt_tos == ["bjensen@example.com", "scarter@example.com", "ops@example.com", "audit@example.com"]
    msg = received.message
    assert msg["To"] == 'bjensen@example.com, Sam Carter <scarter@example.com>'
    assert msg["Cc"] == "ops@example.com"
    assert msg["Bcc"] is None and b"audit@example.com" not in received.data
    assert msg["Subject"] == "OpenIDM recon report"
    assert msg["Message-ID"] == result["messageId"]
    assert msg.get_content_type() == "text/html"
    assert msg.get_content().replace("\r\n", "\n") == IDM_SEND["body"] + "\n"


def test_underscore_aliases(smtp_host, smtp_server):
    smtp_host.action("external/email", "send", {"_from": "a@example.com", "_to": "b@example.com", "_cc": "c@example.com",
                                                 "_bcc": "d@example.com", "_subject": "S", "_body": "B", "_type": "text/plain"})
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["b@example.com", "c@example.com", "d@example.com"]
    assert received.message["Subject"] == "S"


def test_config_from_is_the_default_sender(smtp_host, smtp_server):
    smtp_host.action("external/email", "send", {"to": "b@example.com", "subject": "x", "body": "y"})
    assert smtp_server.messages[0].mail_from == "openidm@example.com"


def test_duplicates_are_sent_once(smtp_host, smtp_server):
    smtp_host.action("external/email", "send", {"to": "a@example.com, A@EXAMPLE.com; b@example.com",
                                                 "cc": ["b@example.com", {"address": "c@example.com", "display": "C"}],
                                                 "bcc": "a@Example.com"})
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["a@example.com", "b@example.com", "c@example.com"]
    assert received.message["Cc"] == "C <c@example.com>"


def test_idn_domain_goes_out_as_punycode(smtp_host, smtp_server):
    smtp_host.action("external/email", "send", {"to": "Jürgen <j@bücher.de>", "subject": "x"})
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["j@xn--bcher-kva.de"]
    assert received.message["To"].addresses[0].display_name == "Jürgen"
    assert "SMTPUTF8" not in received.mail_options


def test_non_ascii_local_part_uses_smtputf8(smtp_host, smtp_server):
    result = smtp_host.action("external/email", "send", {"to": "用户@例子.广告", "subject": "x"})
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["用户@xn--fsqu00a.xn--4rr70v"]
    assert "SMTPUTF8" in received.mail_options
    assert result["accepted"] == ["用户@xn--fsqu00a.xn--4rr70v"]


def test_non_ascii_local_part_fails_clearly_without_smtputf8():
    server = SMTPServer(smtputf8=False).start()
    try:
        host = ActionHost({"email": {"from": "a@example.com"},
                           "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": server.port}}}, load_entry_points=False)
        with pytest.raises(SMTPUTF8Unsupported) as info:
            host.action("external/email", "send", {"to": "用户@example.com"})
        assert info.value.code == 502 and "SMTPUTF8" in info.value.message
        assert server.messages == []
        # The pooled connection is still good for ASCII mail.
        host.action("external/email", "send", {"to": "ok@example.com"})
        assert len(server.messages) == 1
        host.close()
    finally:
        server.stop()


def test_refused_recipients_are_reported(smtp_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda a: "550 5.1.1 No such user" if a.startswith("gone") else None
    result = smtp_host.action("external/email", "send", {"to": "gone@example.com, here@example.com"})
    assert result["accepted"] == ["here@example.com"]
    assert result["refused"] == {"gone@example.com": {"code": 550, "message": "5.1.1 No such user"}}
    assert smtp_server.messages[0].rcpt_tos == ["here@example.com"]


def test_every_recipient_refused_is_an_error(smtp_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda a: "550 No such user"
    with pytest.raises(RecipientsRefused) as info:
        smtp_host.action("external/email", "send", {"to": "a@example.com, b@example.com"})
    err = info.value.to_dict()
    assert err["code"] == 502 and set(err["detail"]["refused"]) == {"a@example.com", "b@example.com"}
    smtp_server.handler.rcpt_reply = lambda a: None
    smtp_host.action("external/email", "send", {"to": "a@example.com"})  # connection reset and reusable
    assert len(smtp_server.messages) == 1


def test_wait_for_completion_false_answers_submitted(smtp_host, smtp_server):
    result = smtp_host.action("external/email", "send", {"to": "a@example.com"}, wait_for_completion=False)
    assert result["message"] == "Email submitted"
    result = smtp_host.action("external/email", "send", {"to": "a@example.com", "waitForCompletion": False})
    assert result["message"] == "Email submitted"
    # Delivery is asynchronous now: drain the outbox before looking.
    smtp_host.action("external/email/outbox", "drain")
    assert len(smtp_server.messages) == 2
