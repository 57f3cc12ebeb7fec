"""Attachment names and content ids: what a reader shows is what was given, or a 400."""

from __future__ import annotations

import pytest

from emailactions import InvalidParams

DATA = "aGVsbG8="  # "hello"


def send(host, attachment, **params):
    return host.action("external/email", "send", {"to": "a@example.com", "attachments": [attachment], **params})


@pytest.mark.parametrize(
    "filename",
    [
        "=?utf-8?q?evil.exe?=",                       # readers show "evil.exe"
        "=?UTF-8?B?ZXZpbC5leGU=?=",
        "invoice =?utf-8?q?evil.exe?=",
        "invoice.pdf=?iso-8859-1?q?.exe?=",           # readers decode words even without white space
        "reports/=?utf-8?q?evil.exe?=",                # still there after the path is dropped
        "=?utf-8?q?evil.exe?\u200b=",                  # becomes a word once format characters go
        "=??Q??=",                                     # the stdlib reads an empty charset as a word
        "=?utf-8?q?evil .exe?=",                       # and white space inside one
    ],
)
def test_a_name_that_looks_like_an_encoded_word_is_refused(emailactions_host, emailactions_outbox, filename):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, {"filename": filename, "data": DATA})
    assert info.value.param == "attachments[0].filename"
    assert "encoded word" in info.value.message
    assert len(emailactions_outbox) == 0


@pytest.mark.parametrize(
    "filename",
    [
        "=?utf-8?b?DQpCY2M6IGVAZXZpbC50ZXN0?=.txt",   # decodes to CR LF "Bcc: e@evil.test"
        "=?utf-8?q?a=0Ab?=.txt",
        "=?utf-8?q?a=00?=.txt",
    ],
)
def test_an_encoded_word_hiding_a_control_character_is_refused(emailactions_host, emailactions_outbox, filename):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, {"filename": filename, "data": DATA})
    assert info.value.param == "attachments[0].filename"
    assert "control character in an encoded word" in info.value.message
    assert len(emailactions_outbox) == 0


@pytest.mark.parametrize(
    "filename, shown",
    [
        ("report=?.pdf", "report=?.pdf"),            # "=?" alone is no encoded word
        ("a?=b=?c.txt", "a?=b=?c.txt"),
        ("Überweisung 2026.pdf", "Überweisung 2026.pdf"),
        ("q?b?.txt", "q?b?.txt"),
        ('"quoted".txt', '"quoted".txt'),
        ("<angle>", "angle"),                         # readers drop a wrapping pair: so do we
        ('" <x.pdf> "', "x.pdf"),
    ],
)
def test_other_names_reach_the_reader_unchanged(emailactions_host, emailactions_outbox, filename, shown):
    send(emailactions_host, {"filename": filename, "data": DATA})
    [part] = [p for p in emailactions_outbox.last.iter_attachments()]
    assert part.get_filename() == shown


@pytest.mark.parametrize("cid", ["logo", "logo.1@example.com", "reddotiVBORw0KGgoAAAA", "a_b-c.d@e"])
def test_plain_token_cids_are_accepted(emailactions_host, emailactions_outbox, cid):
    send(emailactions_host, {"filename": "l.png", "data": DATA, "inline": True, "cid": cid}, html=f'<img src="cid:{cid}">')
    [part] = [p for p in emailactions_outbox.last.walk() if p["Content-ID"]]
    assert part["Content-ID"] == f"<{cid}>"


@pytest.mark.parametrize(
    "cid",
    [
        "=?utf-8?q?logo?=",
        "=?utf-8?b?DQpCY2M6IGVAZXZpbC50ZXN0?=",
        "<logo@example.com>",
        "logo>",
        "a b",
        "a\tb",
        "logo%20",
        "a+b",
        "é",
        "",
        "x" * 201,
        5,
    ],
)
def test_other_cids_are_refused(emailactions_host, emailactions_outbox, cid):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, {"filename": "l.png", "data": DATA, "inline": True, "cid": cid}, html="<p/>")
    assert info.value.param == "attachments[0].cid"
    assert len(emailactions_outbox) == 0
