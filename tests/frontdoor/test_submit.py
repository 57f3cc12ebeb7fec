"""smtplib -> front door -> outbox -> a recording aiosmtpd sink."""

from __future__ import annotations

import re
import smtplib

import pytest
from support import wait_for

from frontdoor.conftest import API_KEY, TOKEN_ADDRESS, client, drain, token

MESSAGE = (
    "From: App <app@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    "Message-ID: <kept.1@example.com>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nHello Bob\r\n"
)


def test_a_message_is_in_the_outbox_before_the_250_and_delivered_byte_for_byte(door, sink):
    with client(door) as smtp:
        smtp.mail("app@example.com")
        smtp.rcpt("bob@example.org")
        code, reply = smtp.data(MESSAGE)
    assert code == 250
    outbox_id = int(re.match(rb"2\.0\.0 OK queued as (\d+) <kept\.1@example\.com>", reply).group(1))
    entry = door.host.action("external/email/outbox", "show", {"id": outbox_id})
    assert entry["state"] == "queued" and entry["messageId"] == "<kept.1@example.com>"
    assert sink.messages == []  # durable first, delivered later
    assert drain(door)["sent"] == 1
    [received] = sink.messages
    assert received.mail_from == "app@example.com" and received.rcpt_tos == ["bob@example.org"]
    assert received.data == MESSAGE.encode()
    assert received.message["Subject"] == "Grüße"


def test_a_missing_message_id_and_date_are_added_and_bcc_is_dropped(door, sink):
    body = "From: app@example.com\r\nTo: bob@example.org\r\nBcc: hidden@example.org\r\nSubject: s\r\n\r\nx\r\n"
    with client(door) as smtp:
        smtp.sendmail("app@example.com", ["bob@example.org", "hidden@example.org"], body)
    drain(door)
    [received] = sink.messages
    assert received.rcpt_tos == ["bob@example.org", "hidden@example.org"]
    parsed = received.message
    assert parsed["Bcc"] is None and b"hidden" not in received.data
    assert re.fullmatch(r"<[^@\s]+@example\.com>", parsed["Message-ID"])
    assert parsed["Date"] is not None
    entry = door.host.action("external/email/outbox", "list", {})["entries"][0]
    assert entry["messageId"] == parsed["Message-ID"]


def test_an_api_key_logs_in_as_apikey_and_keeps_to_its_senders(door, sink):
    with client(door, "apikey", API_KEY) as smtp:
        smtp.sendmail("ci@example.com", ["bob@example.org"], "From: ci@example.com\r\nSubject: ci\r\n\r\nx\r\n")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\n\r\nx\r\n")
    assert refused.value.smtp_code == 550 and refused.value.smtp_error.startswith(b"5.7.1")
    drain(door)
    assert [m.mail_from for m in sink.messages] == ["ci@example.com"]


def test_cloudflare_temp_email_python_snippet_runs_verbatim(door, sink):
    """The snippet of cloudflare_temp_email's docs; only host, port, the token and the
    addresses (shown there as Cloudflare's obfuscated "[email protected]") filled in."""
    port, jwt_token_password = door.port, token()
    sender, admin = TOKEN_ADDRESS, "admin@example.org"
    # --- the documentation's snippet ---
    import smtplib

    from email.mime.text import MIMEText
    from email.mime.multipart import MIMEMultipart

    with smtplib.SMTP('localhost', port) as smtp:
        smtp.login("jwt", jwt_token_password)
        message = MIMEMultipart()
        message['From'] = f"Me <{sender}>"
        message['To'] = f"Admin <{admin}>"
        message['Subject'] = "Test Subject"
        message.attach(MIMEText("Test Content", 'html'))
        smtp.sendmail(sender, admin, message.as_string())
    # --- end of the snippet ---
    drain(door)
    [received] = sink.messages
    assert received.mail_from == TOKEN_ADDRESS and received.rcpt_tos == [admin]
    parsed = received.message
    assert parsed["Subject"] == "Test Subject" and parsed["From"] == f"Me <{TOKEN_ADDRESS}>"
    assert parsed.get_body(("html",)).get_content().strip() == "Test Content"


def test_an_address_token_sends_only_as_its_address(door, sink):
    with client(door, "jwt", token()) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("noreply@example.com", ["bob@example.org"], "From: noreply@example.com\r\n\r\nx\r\n")
        assert refused.value.smtp_code == 550
        # The envelope is its own, the From header someone else's: refused too.
        with pytest.raises(smtplib.SMTPDataError) as forged:
            smtp.sendmail(TOKEN_ADDRESS, ["bob@example.org"], "From: ceo@example.com\r\n\r\nx\r\n")
        assert forged.value.smtp_code == 550 and forged.value.smtp_error.startswith(b"5.7.1")
    assert drain(door)["sent"] == 0 and sink.messages == []


def test_a_user_without_senders_may_use_only_the_configured_from(door, sink):
    with client(door, "plain") as smtp:
        smtp.sendmail("noreply@example.com", ["bob@example.org"], "From: noreply@example.com\r\n\r\nx\r\n")
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\n\r\nx\r\n")
    drain(door)
    assert len(sink.messages) == 1


def test_the_sender_header_is_held_to_the_policy_too(door):
    with client(door) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\nSender: x@evil.example.net\r\n\r\nx\r\n")
    assert refused.value.smtp_code == 550


def test_allowed_senders_of_the_config_bind_every_identity(make_door):
    door = make_door(email={"from": "noreply@example.com", "allowed_senders": ["noreply@example.com"]})
    with client(door) as smtp:
        code, reply = smtp.mail("app@example.com")
    assert code == 550 and reply.startswith(b"5.7.1") and b"allowed_senders" in reply


def test_starttls_with_a_trustme_certificate(make_door, ca, tmp_path, sink):
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "door.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "door.key"))
    door = make_door(smtp_server={"tls_cert": str(tmp_path / "door.pem"), "tls_key": str(tmp_path / "door.key")})
    import ssl

    context = ssl.create_default_context()
    ca.configure_trust(context)
    with smtplib.SMTP("localhost", door.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls") and smtp.has_extn("enhancedstatuscodes") and smtp.has_extn("size")
        smtp.starttls(context=context)
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"] and "LOGIN" in smtp.esmtp_features["auth"]
        smtp.login("app", "app-password-1")
        smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\n\r\nover TLS\r\n")
    drain(door)
    assert sink.messages[0].message.get_content().strip() == "over TLS"


def test_implicit_tls(make_door, ca, tmp_path, sink):
    import ssl

    cert = ca.issue_cert("localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "door.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "door.key"))
    door = make_door(smtp_server={"tls_cert": str(tmp_path / "door.pem"), "tls_key": str(tmp_path / "door.key"), "implicit_tls": True})
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with smtplib.SMTP_SSL("localhost", door.port, timeout=10, context=context) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        smtp.login("app", "app-password-1")
        smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\n\r\nimplicit\r\n")
    drain(door)
    assert len(sink.messages) == 1


def test_the_outbox_retries_with_the_same_message_id(door, sink):
    attempts: list[bytes] = []

    def reply(received):
        attempts.append(received.data)
        return "451 4.3.0 try later" if len(attempts) == 1 else None

    sink.handler.data_reply = reply
    with client(door) as smtp:
        smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\nSubject: retry\r\n\r\nx\r\n")
    wait_for(lambda: drain(door)["sent"] == 1, timeout=10)
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    [received] = sink.messages
    assert received.message["Message-ID"] == door.host.action("external/email/outbox", "list", {})["entries"][0]["messageId"]
