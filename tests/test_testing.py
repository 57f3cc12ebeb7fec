"""The pytest plugin: the Outbox helpers, and the capture of every host's mail.

This suite delivers by default (``emailactions_deliver = true`` in pyproject.toml);
the capture tests opt back in with ``@pytest.mark.emailactions_deliver(False)``.
tests/e2e/test_user_project.py runs the plugin as a user project gets it.
"""

from __future__ import annotations

import base64
import re

import pytest
from support import FAST_OUTBOX, wait_for

import emailactions
from emailactions import ActionHost, ConfigError

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


capture = pytest.mark.emailactions_deliver(False)


@capture
def test_every_host_sends_to_the_capture(smtp_server, smtp_config, tmp_path, monkeypatch, emailactions_outbox):
    toml = tmp_path / "emailactions.toml"
    toml.write_text(f'[email]\nfrom = "a@example.com"\n[transports.default]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    monkeypatch.setenv("EMAILACTIONS_CONFIG", str(toml))
    assert emailactions.action("external/email", "send", {"to": "b@example.com", "subject": "default host"})["message"] == "Email sent"
    with ActionHost(smtp_config, load_entry_points=False) as host:  # the application's own host, SMTP configured
        host.action("external/email", "send", {"to": "c@example.com", "subject": "own host"})
        with pytest.raises(ConfigError):  # an alias the config lacks still fails
            host.transport("nope")
    assert emailactions_outbox.subjects == ["default host", "own host"]
    emailactions_outbox.assert_sent(to="b@example.com", sender="a@example.com")
    assert smtp_server.messages == []


@capture
def test_submitted_mail_is_captured_not_queued_in_a_file(smtp_config, smtp_server, tmp_path, emailactions_outbox):
    outbox = tmp_path / "outbox.sqlite3"
    with ActionHost({**smtp_config, "outbox": {"path": str(outbox), **FAST_OUTBOX}}, load_entry_points=False) as host:
        result = host.action("external/email", "send", {"to": "b@example.com", "subject": "later"}, wait_for_completion=False)
        assert result["message"] == "Email submitted"
        wait_for(lambda: len(emailactions_outbox) == 1)
    # A file left behind could be delivered for real by a worker started later.
    assert not outbox.exists() and smtp_server.messages == []


@capture
def test_the_default_host_is_rebuilt_for_each_test(emailactions_outbox, monkeypatch, tmp_path):
    from emailactions.host import default_host

    monkeypatch.delenv("EMAILACTIONS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    host = default_host()
    assert default_host() is host
    emailactions.action("external/email", "send", {"to": "b@example.com", "from": "a@example.com"})
    assert len(emailactions_outbox) == 1  # not printed by the console transport of a config-less host
    from emailactions.host import capture as switch

    switch(switch(None))  # what the plugin does between tests
    assert default_host() is not host


def test_delivering_hosts_use_their_own_transports(emailactions_host, emailactions_outbox, smtp_host, smtp_server):
    smtp_host.action("external/email", "send", {"to": "b@example.com"})
    assert len(smtp_server.messages) == 1 and len(emailactions_outbox) == 0
    emailactions_host.action("external/email", "send", {"to": "b@example.com"})
    assert len(emailactions_outbox) == 1  # emailactions_host's memory transport
