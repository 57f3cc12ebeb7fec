"""Rich messages over real SMTP: text+HTML, attachments, inline images, extra headers."""

from __future__ import annotations

import base64
import time

import pytest

from emailactions import InvalidParams, TooLarge

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
B64 = lambda data: base64.b64encode(data).decode()  # noqa: E731


def test_text_html_inline_logo_and_pdf_arrive_intact(smtp_host, smtp_server):
    result = smtp_host.action("external/email", "send", {
        "to": "bjensen@example.com", "subject": "Your invoice",
        "fromName": "Billing Team", "replyTo": "support@example.com",
        "headers": {"List-Unsubscribe": "<mailto:unsub@example.com?subject=unsubscribe>", "list-unsubscribe-post": "List-Unsubscribe=One-Click"},
        "text": "Invoice attached.", "html": '<p>Invoice attached.</p><img src="cid:logo@example.com">',
        "attachments": [
            {"filename": "logo.png", "fileType": "image/png", "data": B64(PNG), "inline": True, "cid": "logo@example.com"},
            {"filename": "invoice-2026.pdf", "fileType": "application/pdf", "data": B64(PDF)},
        ],
    })
    assert result["status"] == "OK"
    msg = smtp_server.messages[0].message
    assert msg["From"].addresses[0].display_name == "Billing Team"
    assert msg["Reply-To"] == "support@example.com"
    assert msg["List-Unsubscribe"] == "<mailto:unsub@example.com?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/mixed"
    related, pdf = msg.iter_parts()
    assert related.get_content_type() == "multipart/related"
    alternative, logo = related.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert msg.get_body(("html",)).get_content().strip() == '<p>Invoice attached.</p><img src="cid:logo@example.com">'
    assert msg.get_body(("plain",)).get_content().strip() == "Invoice attached."
    assert logo["Content-ID"] == "<logo@example.com>" and logo.get_content_disposition() == "inline"
    assert logo.get_content() == PNG
    assert pdf.get_filename() == "invoice-2026.pdf" and pdf.get_content_disposition() == "attachment"
    assert pdf.get_content() == PDF
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "invoice-2026.pdf"


def test_python_callers_may_pass_bytes(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [{"filename": "r.pdf", "data": PDF}]})
    [part] = emailactions_outbox.last.iter_attachments()
    assert part.get_content() == PDF and part.get_content_type() == "application/pdf"  # guessed from the name


def test_non_ascii_and_long_filenames_round_trip(emailactions_host, emailactions_outbox):
    name = "Rechnung für Jürgen — " + "ü" * 80 + ".pdf"
    emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [{"filename": name, "data": B64(b"x")}]})
    data = emailactions_outbox[0].data
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    [part] = emailactions_outbox.last.iter_attachments()
    assert part.get_filename() == name


@pytest.mark.parametrize(
    "given, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("re\u202eport.pdf", "report.pdf"),
        ("a\r\nContent-Type: text-html.txt", "aContent-Type: text-html.txt"),
        ("...", "attachment"),
        ("", "attachment"),
        ("x\x00y.pdf", "xy.pdf"),
    ],
)
def test_filenames_are_reduced_to_safe_base_names(emailactions_host, emailactions_outbox, given, expected):
    emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [{"filename": given, "fileType": "text/plain", "data": B64(b"x")}]})
    [part] = emailactions_outbox.last.iter_attachments()
    assert part.get_filename() == expected


@pytest.mark.parametrize(
    "attachment, param",
    [
        ({"filename": "a", "data": "aGVsbG8=\n"}, "attachments[0].data"),           # line break
        ({"filename": "a", "data": "aGVs bG8="}, "attachments[0].data"),           # space
        ({"filename": "a", "data": "aGVsbG8"}, "attachments[0].data"),             # bad padding
        ({"filename": "a", "data": "aGVsbG8*"}, "attachments[0].data"),            # not base64
        ({"filename": "a", "data": "https://example.com/x.pdf"}, "attachments[0].data"),
        ({"filename": "a", "data": 12}, "attachments[0].data"),
        ({"filename": "a"}, "attachments[0].data"),
        ({"filename": "a", "path": "/etc/passwd"}, "attachments[0].path"),
        ({"filename": "a", "url": "https://example.com/x"}, "attachments[0].url"),
        ({"filename": "a", "data": "", "fileType": "text/html; charset=x\r\nBcc: v@example.com"}, "attachments[0].fileType"),
        ({"filename": "a", "data": "", "fileType": "nonsense"}, "attachments[0].fileType"),
        ({"filename": "a", "data": "", "inline": True}, "attachments[0].cid"),
        ({"filename": "a", "data": "", "cid": "a b"}, "attachments[0].cid"),
        ({"filename": "a", "data": "", "cid": "x>\r\n<y"}, "attachments[0].cid"),
        ({"filename": "a", "data": "", "inline": "yes", "cid": "x"}, "attachments[0].inline"),
        ({"filename": 5, "data": ""}, "attachments[0].filename"),
        ("not an object", "attachments[0]"),
    ],
)
def test_bad_attachments_are_refused(emailactions_host, emailactions_outbox, attachment, param):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [attachment]})
    assert info.value.param == param
    assert len(emailactions_outbox) == 0


def test_duplicate_cid(emailactions_host, emailactions_outbox):
    att = {"filename": "a.png", "data": B64(PNG), "cid": "x"}
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "html": "<p/>", "attachments": [att, att]})
    assert info.value.param == "attachments[1].cid"


def test_attachments_must_be_a_list(emailactions_host, emailactions_outbox):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": {"filename": "a"}})
    assert info.value.param == "attachments"


@pytest.fixture
def small_host():
    from emailactions import ActionHost

    return ActionHost({"email": {"from": "a@example.com", "limits": {"max_attachment_bytes": 1000, "max_message_bytes": 1500}},
                       "transports": {"default": {"backend": "memory"}}}, load_entry_points=False)


def test_size_limit_is_checked_before_decoding(small_host):
    # 50 MB of characters that are not even base64: refused for size, at once.
    started = time.perf_counter()
    with pytest.raises(TooLarge) as info:
        small_host.action("external/email", "send", {"to": "a@example.com", "attachments": [{"filename": "a", "data": "*" * 50_000_000}]})
    assert info.value.param == "attachments[0].data" and info.value.code == 413
    assert time.perf_counter() - started < 1.0


def test_size_limits_per_attachment_and_message(small_host):
    emailactions_host, emailactions_outbox = small_host, small_host.transport().outbox
    with pytest.raises(TooLarge):
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [{"filename": "a", "data": B64(b"x" * 1001)}]})
    with pytest.raises(TooLarge) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [
            {"filename": "a", "data": B64(b"x" * 900)}, {"filename": "b", "data": b"y" * 900}]})
    assert info.value.param == "attachments[1].data"
    emailactions_host.action("external/email", "send", {"to": "a@example.com", "attachments": [{"filename": "a", "data": B64(b"x" * 1000)}]})
    assert len(emailactions_outbox) == 1


@pytest.mark.parametrize(
    "headers, param",
    [
        ({"Bcc": "victim@example.com"}, "headers.Bcc"),
        ({"Received": "from evil"}, "headers.Received"),
        ({"Content-Type": "text/html"}, "headers.Content-Type"),
        ({"List-Unsubscribe": "<mailto:x@example.com>\r\nBcc: victim@example.com"}, "headers.List-Unsubscribe"),
        ({"List-Id": 5}, "headers.List-Id"),
        ({"Comments": "x" * 901}, "headers.Comments"),
    ],
)
def test_extra_headers_are_allow_listed_and_checked(emailactions_host, emailactions_outbox, headers, param):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "headers": headers})
    assert info.value.param == param
    assert len(emailactions_outbox) == 0


@pytest.mark.parametrize(
    "params, param",
    [
        ({"body": "x", "text": "y"}, "body"),
        ({"type": "text/html", "html": "y"}, "body"),
        ({"text": 3}, "text"),
        ({"fromName": "Evil\r\nBcc: v@example.com"}, "fromName"),
        ({"fromName": "x" * 151}, "fromName"),
        ({"replyTo": "not an address"}, "replyTo"),
        ({"headers": "List-Id: x"}, "headers"),
    ],
)
def test_rich_param_refusals(emailactions_host, emailactions_outbox, params, param):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", **params})
    assert info.value.param == param


def test_html_only(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {"to": "a@example.com", "html": "<b>hi</b>"})
    assert emailactions_outbox.last.get_content_type() == "text/html"


def test_inline_image_without_html_is_an_inline_attachment(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {"to": "a@example.com", "text": "see logo",
                                                        "attachments": [{"filename": "l.png", "data": B64(PNG), "cid": "l"}]})
    msg = emailactions_outbox.last
    assert msg.get_content_type() == "multipart/mixed"
    assert list(msg.iter_parts())[1]["Content-ID"] == "<l>"


def test_a_non_ascii_reply_to_goes_out_with_smtputf8(smtp_host, smtp_server):
    # Only From and the envelope decided SMTPUTF8: this raised a raw UnicodeEncodeError.
    smtp_host.action("external/email", "send", {"to": "a@example.com", "replyTo": "Tó <tó@example.com>", "subject": "x"})
    [received] = smtp_server.messages
    assert "SMTPUTF8" in received.mail_options
    from email import policy
    from email.parser import Parser

    reply_to = Parser(policy=policy.default).parsestr(received.data.decode("utf-8"))["Reply-To"]
    assert [(a.display_name, a.addr_spec) for a in reply_to.addresses] == [("Tó", "tó@example.com")]


def test_a_non_ascii_reply_to_is_refused_clearly_by_a_relay_without_smtputf8():
    from emailactions import ActionHost, SMTPUTF8Unsupported
    from support.smtp_server import SMTPServer

    server = SMTPServer(smtputf8=False).start()
    try:
        host = ActionHost({"email": {"from": "a@example.com"},
                           "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": server.port}}}, load_entry_points=False)
        with pytest.raises(SMTPUTF8Unsupported) as info:
            host.action("external/email", "send", {"to": "b@example.com", "replyTo": "tó@example.com"})
        assert info.value.code == 502 and "SMTPUTF8" in info.value.message
        assert server.messages == []
        host.close()
    finally:
        server.stop()
