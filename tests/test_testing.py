"""The pytest plugin's Outbox helpers: what a test can assert about sent mail."""

from __future__ import annotations

import base64
import re

import pytest

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


@pytest.fixture
def emailactions_config(example_config):
    return example_config


@pytest.fixture
def sent(emailactions_host, emailactions_outbox):
    """One plain send with everything, one template send in French."""
    emailactions_host.action("external/email", "send", {
        "to": '"Babs Jensen" <BJensen@example.com>', "cc": "scarter@example.com", "bcc": "audit@example.com",
        "subject": "Report", "type": "text/html", "body": '<p>See <img src="cid:logo"></p>\r\nBye',
        "attachments": [{"filename": "report.csv", "fileType": "text/csv", "data": base64.b64encode(b"a,b\n").decode()},
                        {"filename": "logo.png", "fileType": "image/png", "data": PNG, "inline": True, "cid": "logo"}],
    })  # fmt: skip
    emailactions_host.action("external/email", "sendTemplate", {"templateName": "hello", "to": "hgale815@example.com",
                                                               "_locale": "fr", "object": {"givenName": "Hilda"}})  # fmt: skip
    return emailactions_outbox


def test_sent_mail_reads_back_every_part(sent):
    report, hello = sent.sent
    assert report.to == ["BJensen@example.com"] and report.cc == ["scarter@example.com"]
    assert report.bcc == ["audit@example.com"] and report.recipients == ["BJensen@example.com", "scarter@example.com", "audit@example.com"]
    assert report.sender == "openidm@example.com" and report.from_ == "IDM <openidm@example.com>"
    assert report.subject == "Report" and report.text is None
    assert report.html == '<p>See <img src="cid:logo"></p>\nBye\n'  # CRLF read back as \n
    # Message order: the inline image sits with the HTML body, the attachment after it.
    assert [(a.filename, a.content_type, a.cid) for a in report.attachments] == [("logo.png", "image/png", "logo"), ("report.csv", "text/csv", None)]
    assert {a.filename: a.data for a in report.attachments}["report.csv"] == b"a,b\n"
    assert (report.locale, report.template, report.locales) == (None, None, {})
    assert (hello.locale, hello.template, hello.locales["subject"]) == ("fr", "hello", "fr")
    assert hello.subject == "Bonjour Hilda" and "Bonjour Hilda" in hello.text and "<p>Bonjour Hilda" in hello.html
    assert "subject='Bonjour Hilda'" in repr(hello)


def test_lists_across_the_outbox(sent):
    assert sent.recipients == ["BJensen@example.com", "scarter@example.com", "audit@example.com", "hgale815@example.com"]
    assert sent.locales == [None, "fr"]
    assert sent.subjects == ["Report", "Bonjour Hilda"] and len(sent) == 2


def test_find_by_each_criterion(sent):
    report, hello = sent.sent
    by = lambda **c: [m.subject for m in sent.find(**c)]  # noqa: E731
    assert by(to="bjensen@EXAMPLE.com") == ["Report"]  # addresses ignore case
    assert by(to="audit@example.com") == by(bcc="audit@example.com") == ["Report"]
    assert by(cc="scarter@example.com") == ["Report"] and by(cc="audit@example.com") == []
    assert by(sender="openidm@example.com") == ["Report"] and by(sender="noreply@example.com") == ["Bonjour Hilda"]
    assert by(subject="Report") == ["Report"] and by(subject="Rep") == []  # subject: exact
    assert by(html="See <img") == ["Report"] and by(text="Bonjour Hilda") == ["Bonjour Hilda"]  # bodies: contains
    assert by(attachment="report.csv") == ["Report"] and by(attachment="nope.pdf") == []
    assert by(locale="fr") == by(template="hello") == ["Bonjour Hilda"]
    assert by(subject=re.compile(r"^Bon")) == ["Bonjour Hilda"]
    assert by(to=lambda rcpts: len(rcpts) == 3) == ["Report"]
    assert by(locale="fr", subject="Report") == []
    with pytest.raises(TypeError, match="unknown criteria"):
        sent.find(subjet="Report")


def test_assert_sent_and_assert_not_sent(sent):
    assert sent.assert_sent(to="hgale815@example.com").template == "hello"
    assert sent.assert_sent(2, sender=re.compile("example.com")).message is sent.messages[1]  # the last match
    with pytest.raises(AssertionError, match=r"expected a mail matching \{'locale': 'de'\}, found 0; sent: \[<SentMail"):
        sent.assert_sent(locale="de")
    with pytest.raises(AssertionError, match="expected 1 mail"):
        sent.assert_sent(1, sender=re.compile("example.com"))
    with pytest.raises(ValueError, match="assert_not_sent"):
        sent.assert_sent(0)
    sent.assert_not_sent(locale="de")
    with pytest.raises(AssertionError, match="expected no mail matching"):
        sent.assert_not_sent(locale="fr")
    sent.clear()
    sent.assert_not_sent()
