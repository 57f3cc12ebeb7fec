"""Every refusal, with its reply code and enhanced status code; nothing refused reaches the outbox."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl

import pytest
from support.smtp_server import outward_address

from frontdoor.conftest import _HASH, PASSWORD, client, token
from emailactions import hookimpl
from emailactions.frontdoor.session import auth_allowed

OK = "From: app@example.com\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nx\r\n"


def stored(door) -> int:
    return sum(door.host.action("external/email/outbox", "list", {})["counts"].values())


def transaction(smtp: smtplib.SMTP, data: str, sender: str = "app@example.com", rcpt: str = "bob@example.org") -> tuple[int, bytes]:
    assert smtp.mail(sender)[0] == 250
    assert smtp.rcpt(rcpt)[0] == 250
    return smtp.data(data)


def test_mail_without_auth_is_530(door):
    with client(door, user=None) as smtp:
        assert smtp.mail("app@example.com") == (530, b"5.7.0 Authentication required")


def test_wrong_password_is_535_and_an_anonymous_login_is_no_login(door):
    with client(door, user=None) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            smtp.login("app", "nope")
        assert wrong.value.smtp_code == 535 and wrong.value.smtp_error.startswith(b"5.7.8")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("anonymous", "anonymous")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("jwt", "not-a-token")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("jwt", token() + "x")


def test_auth_login_mechanism_works_too(door):
    with client(door, user=None) as smtp:
        smtp.user, smtp.password = "app", PASSWORD
        assert smtp.auth("LOGIN", smtp.auth_login)[0] == 235


def test_failed_logins_are_throttled_with_454(make_door):
    door = make_door(server={"rate_limits": {"auth_failures": "2 per minute"}})
    with client(door, user=None) as smtp:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("app", "nope")
        with pytest.raises(smtplib.SMTPAuthenticationError) as throttled:
            smtp.login("app", PASSWORD)  # even the right password, until the window passes
    assert throttled.value.smtp_code == 454 and throttled.value.smtp_error.startswith(b"4.7.0")


def test_an_identity_without_send_is_refused_at_mail(door):
    with client(door, "reader") as smtp:
        code, reply = smtp.mail("noreply@example.com")
    assert code == 550 and reply.startswith(b"5.7.1") and b"send" in reply


def test_malformed_recipient_is_553_too_many_is_452(make_door):
    door = make_door(email={"from": "noreply@example.com", "limits": {"max_recipients": 2}})
    with client(door) as smtp:
        assert smtp.mail("app@example.com")[0] == 250
        code, reply = smtp.rcpt("not an address@@example.org")
        assert (code, reply[:5]) in ((553, b"5.1.3"), (501, b"5.5.4"))
        code, reply = smtp.rcpt("bob@invalid")
        assert code == 553 and reply.startswith(b"5.1.3")
        assert smtp.rcpt("a@example.org")[0] == 250
        assert smtp.rcpt("b@example.org")[0] == 250
        assert smtp.rcpt("c@example.org") == (452, b"4.5.3 Too many recipients (limit 2 per message)")
    assert stored(door) == 0


def test_size_is_advertised_and_enforced_with_552(make_door):
    door = make_door(smtp_server={"max_message_bytes": 2048})
    with client(door) as smtp:
        assert smtp.esmtp_features["size"] == "2048"
        code, reply = smtp.mail("app@example.com", ["SIZE=4096"])
        assert code == 552 and reply.startswith(b"5.3.4")
        code, reply = transaction(smtp, OK + ("y" * 70 + "\r\n") * 40)
        assert code == 552 and reply.startswith(b"5.3.4")
        code, reply = transaction(smtp, OK + "y" * 1200 + "\r\n")
        assert code == 500 and reply.startswith(b"5.5.2 Line too long")
    assert stored(door) == 0


@pytest.mark.parametrize(
    "data, param",
    [
        ("From: app@example.com\r\nSubject: =?utf-8?q?hi=0D=0ABcc:_victim@example.org?=\r\n\r\nx\r\n", b"Subject"),
        ("From: app@example.com\r\nSubject: =?utf-8?b?aGkNCkJjYzogdkBleGFtcGxlLm9yZw==?=\r\n\r\nx\r\n", b"Subject"),
        ("From: =?utf-8?q?Eve=0A?= <app@example.com>\r\n\r\nx\r\n", b"From"),
        ("From: app@example.com\r\nX-Note: a\x00b\r\n\r\nx\r\n", b"X-Note"),
        ("From: app@example.com\r\nFrom: app@example.com\r\n\r\nx\r\n", b"From"),
        ("From: app@example.com, other@example.com\r\n\r\nx\r\n", b"From"),
        ("To: bob@example.org\r\n\r\nx\r\n", b"From"),
        ("From: app@example.com\r\nMessage-ID: <a@b> <c@d>\r\n\r\nx\r\n", b"Message-ID"),
        ("From: app@example.com\r\nbroken header line\r\n\r\nx\r\n", b"malformed"),
        ("From: =?utf-8?q?=E2=80=AEgro.elpmaxe?= <app@example.com>\r\n\r\nx\r\n", b"From"),
    ],
    ids=["q-crlf", "b-crlf", "display-lf", "nul", "two-from", "two-mailboxes", "no-from", "two-ids", "malformed", "bidi"],
)
def test_headers_are_checked_as_send_checks_params_after_decoding(door, data, param):
    with client(door) as smtp:
        code, reply = transaction(smtp, data)
    assert code == 554 and reply.startswith(b"5.6.0") and param in reply
    assert stored(door) == 0


def test_a_subject_longer_than_the_limit_is_refused(make_door):
    door = make_door(email={"from": "noreply@example.com", "limits": {"max_subject_chars": 10}})
    with client(door) as smtp:
        code, reply = transaction(smtp, "From: app@example.com\r\nSubject: " + "s" * 11 + "\r\n\r\nx\r\n")
    assert code == 554 and b"Subject" in reply and b"10" in reply


def test_per_identity_limit_is_451_and_counts_per_identity(make_door):
    door = make_door(smtp_server={"identity_limit": "2 per minute"})
    with client(door) as smtp:
        assert transaction(smtp, OK)[0] == 250
        assert transaction(smtp, OK)[0] == 250
        code, reply = smtp.mail("app@example.com")
        assert code == 451 and reply.startswith(b"4.7.0") and b"retry in" in reply
    with client(door, "plain") as other:
        assert transaction(other, OK.replace("app@", "noreply@"), sender="noreply@example.com")[0] == 250
    assert stored(door) == 3


def test_the_hosts_rate_limits_answer_451_and_store_nothing(make_door):
    door = make_door(rate_limits={"enabled": True, "recipient": "1 per minute"})
    with client(door) as smtp:
        assert transaction(smtp, OK)[0] == 250
        code, reply = transaction(smtp, OK)
    assert code == 451 and reply.startswith(b"4.7.0")
    assert stored(door) == 1


def test_the_server_recipient_limit_binds_callers_without_star(make_door):
    door = make_door(server={"recipient_limit": "1 per hour"})
    with client(door) as smtp:
        assert transaction(smtp, OK)[0] == 250
        assert transaction(smtp, OK)[0] == 451
        assert transaction(smtp, OK, rcpt="carol@example.org")[0] == 250


def test_messages_per_connection_then_421_and_hang_up(make_door):
    door = make_door(smtp_server={"max_messages_per_connection": 2})
    with client(door) as smtp:
        assert transaction(smtp, OK)[0] == 250
        assert transaction(smtp, OK)[0] == 250
        code, reply = smtp.mail("app@example.com")
        assert code == 421 and reply.startswith(b"4.7.0")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()


def test_refused_commands_then_421_and_hang_up(make_door):
    door = make_door(smtp_server={"max_bad_commands": 3})
    with client(door, user=None) as smtp:
        assert smtp.docmd("BOGUS") == (500, b'5.5.2 command "BOGUS" not recognized')
        assert smtp.mail("app@example.com")[0] == 530
        assert smtp.mail("app@example.com")[0] == 530  # the third refusal, then the hang-up
        code, reply = smtp.getreply()
        assert code == 421 and reply.startswith(b"4.7.0 Too many refused")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()


def test_malformed_sender_is_553_5_1_7(door):
    with client(door) as smtp:
        code, reply = smtp.mail("bob@invalid")
    assert code == 553 and reply.startswith(b"5.1.7")


class Failing:
    """A prepare_message stage that breaks, as a full disk or a lost database would."""

    @hookimpl
    def prepare_message(self, message, host):
        raise RuntimeError("/var/secret/path is on fire")


def test_a_failure_to_store_is_451_and_says_nothing_of_it(make_door, caplog):
    door = make_door(plugins=(Failing(),))
    with client(door) as smtp:
        code, reply = transaction(smtp, OK)
    assert code == 451 and reply.startswith(b"4.3.0") and b"secret" not in reply
    assert "front door session error" in caplog.text


def test_a_star_identity_is_not_held_to_the_recipient_limit(make_door):
    door = make_door(server={"recipient_limit": "1 per hour", "users": {"root": {"password": _HASH, "permissions": ["*"], "senders": ["*"]}}})
    with client(door, "root") as smtp:
        assert transaction(smtp, OK)[0] == 250
        assert transaction(smtp, OK)[0] == 250


def test_smtputf8_addresses_pass_through(door, sink):
    with client(door) as smtp:
        assert smtp.has_extn("smtputf8")
        smtp.sendmail("app@example.com", ["jörg@example.org"], "From: app@example.com\r\nTo: jörg@example.org\r\n\r\nx\r\n".encode(), mail_options=["SMTPUTF8"])
    door.host.action("external/email/outbox", "drain", {"timeout": 10})
    [received] = sink.messages
    assert received.rcpt_tos == ["jörg@example.org"] and "SMTPUTF8" in received.mail_options


def test_connections_past_max_connections_are_greeted_with_421(make_door):
    door = make_door(smtp_server={"max_connections": 1})
    with client(door):
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", door.port, timeout=10)
        assert refused.value.smtp_code == 421 and refused.value.smtp_error.startswith(b"4.7.0")
    with client(door) as again:  # the first one gone, there is room
        assert again.noop()[0] == 250


def test_a_connection_cannot_idle_on_noop_forever(door):
    with client(door) as smtp:
        for _ in range(50):
            assert smtp.noop()[0] == 250
        code, reply = smtp.noop()
        assert code == 421 and reply.startswith(b"4.7.0")


# -- AUTH only after TLS, unless on loopback --------------------------------


def test_auth_policy_function():
    assert auth_allowed(("127.0.0.1", 5000), tls=False)
    assert auth_allowed(("::1", 5000, 0, 0), tls=False)
    assert auth_allowed(("::ffff:127.0.0.1", 5000, 0, 0), tls=False)
    assert not auth_allowed(("192.0.2.2", 5000), tls=False)
    assert not auth_allowed(("fd00::2", 5000, 0, 0), tls=False)
    assert not auth_allowed("not-an-address", tls=False)
    assert auth_allowed(("203.0.113.9", 5000), tls=True)


def test_auth_is_refused_before_tls_from_a_non_loopback_peer(make_door, ca, tmp_path):
    outward = outward_address()
    assert outward, "this test needs a non-loopback address on the machine"
    cert = ca.issue_cert("localhost", outward)
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "door.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "door.key"))
    door = make_door(bind=outward, smtp_server={"tls_cert": str(tmp_path / "door.pem"), "tls_key": str(tmp_path / "door.key")})
    with smtplib.SMTP(outward, door.port, timeout=10, source_address=(outward, 0)) as smtp:
        smtp.ehlo()
        assert "auth" not in smtp.esmtp_features
        plain = base64.b64encode(f"\0app\0{PASSWORD}".encode()).decode()
        assert smtp.docmd("AUTH", f"PLAIN {plain}") == (538, b"5.7.11 Encryption required for requested authentication mechanism")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        smtp.starttls(context=context)
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"]
        smtp.login("app", PASSWORD)
        assert transaction(smtp, OK)[0] == 250


# -- SMTP smuggling, on a raw socket ------------------------------------------


def raw_session(door, data: bytes) -> list[bytes]:
    """Log in, send one transaction whose DATA is ``data`` (ending with CRLF.CRLF), then more commands; the replies."""
    login = base64.b64encode(f"\0app\0{PASSWORD}".encode())
    with socket.create_connection(("127.0.0.1", door.port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            lines = [reader.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(reader.readline())
            return lines[-1]

        replies = [reply()]
        for command in (b"EHLO x\r\n", b"AUTH PLAIN " + login + b"\r\n", b"MAIL FROM:<app@example.com>\r\n", b"RCPT TO:<bob@example.org>\r\n", b"DATA\r\n"):
            sock.sendall(command)
            replies.append(reply())
        sock.sendall(data)
        replies.append(reply())
        sock.sendall(b"NOOP\r\n")
        replies.append(reply())
        return replies


SMUGGLED = b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nFrom: ceo@example.com\r\n\r\nsmuggled\r\n"


@pytest.mark.parametrize(
    "end",
    [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n\x00.\r\n"],
    ids=["LF.LF", "CRLF.LF", "LF.CRLF", "CR.CR", "CRLF.CR", "NUL"],
)
def test_smuggling_attempts_are_refused_never_relayed(door, sink, end):
    data = b"From: app@example.com\r\nSubject: s\r\n\r\nhello" + end + SMUGGLED + b".\r\n"
    replies = raw_session(door, data)
    assert replies[5].startswith(b"354")
    final = replies[6]
    if end == b"\r\n\x00.\r\n":
        # No bare CR or LF: a NUL is data; the whole thing is one message, From app@.
        assert final.startswith(b"250 2.0.0")
    else:
        assert final.startswith(b"550 5.5.2"), final
        assert stored(door) == 0
    assert replies[7].startswith(b"250")  # the smuggled commands were never read as commands
    door.host.action("external/email/outbox", "drain", {"timeout": 10})
    assert all(m.mail_from == "app@example.com" for m in sink.messages)
    assert all("victim@example.org" not in m.rcpt_tos for m in sink.messages)


def test_a_bare_lf_inside_the_header_is_refused(door):
    replies = raw_session(door, b"From: app@example.com\nBcc: victim@example.org\r\n\r\nx\r\n.\r\n")
    assert replies[6].startswith(b"550 5.5.2")
    assert stored(door) == 0
