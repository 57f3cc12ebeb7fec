"""Every composed message parses back, with the stdlib parser, to what was asked."""

from __future__ import annotations

import re

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emailactions.params.addresses import Address
from emailactions.mime.compose import compose, encoded_words, unstructured
from emailactions.params.send import Body, SendRequest

SENDER = Address("openidm@example.com", "IDM")


def parse(message):
    return message.parsed()


def check_wire_format(data: bytes) -> None:
    # CRLF only, no line over 998 octets, no bare CR or LF.
    assert b"\r\n" in data
    assert re.search(rb"(?<!\r)\n", data) is None and re.search(rb"\r(?!\n)", data) is None
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def body_of(msg) -> str:
    return msg.get_content().replace("\r\n", "\n")


def test_headers_and_body_round_trip():
    req = SendRequest(
        sender=Address("openidm@example.com", "Ödön, IDM"),
        to=(Address("a@example.com", 'Sam "The Man" Carter'), Address("b@example.com")),
        cc=(Address("c@example.com", "Zoë"),),
        bcc=(Address("secret@example.com"),),
        subject="Grüße — your account ✓",
        bodies=(Body("plain", "Héllo\n.\nFrom: not a header\n"),),
    )
    message = compose(req)
    check_wire_format(message.data)
    msg = parse(message)
    assert msg["Subject"] == "Grüße — your account ✓"
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [('Sam "The Man" Carter', "a@example.com"), ("", "b@example.com")]
    assert msg["From"].addresses[0].display_name == "Ödön, IDM"
    assert msg["Cc"].addresses[0].display_name == "Zoë"
    assert msg["Bcc"] is None and b"secret@example.com" not in message.data
    assert message.recipients == ("a@example.com", "b@example.com", "c@example.com", "secret@example.com")
    assert body_of(msg) == "Héllo\n.\nFrom: not a header\n"
    assert msg["Message-ID"] == message.message_id and msg["Date"] is not None
    assert msg["MIME-Version"] == "1.0"


def test_text_and_html_make_multipart_alternative():
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),), subject="x",
                      bodies=(Body("html", "<p>é</p>"), Body("plain", "é")))
    msg = parse(compose(req))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert body_of(parts[0]) == "é\n" and body_of(parts[1]) == "<p>é</p>\n"


def test_long_ascii_subject_folds_and_unfolds_exactly():
    subject = " ".join(f"word{i}" for i in range(60))
    header = unstructured("Subject", subject)
    assert all(len(line) <= 78 for line in header.split("\r\n"))
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),), subject=subject)
    assert parse(compose(req))["Subject"] == subject


def test_encoded_words_stay_short_and_split_on_characters():
    words = encoded_words("日本語" * 40 + "😀" * 20)
    assert all(len(w) <= 75 for w in words)


def test_longest_display_name_fits_one_line():
    name = "😀" * 150
    message = compose(SendRequest(sender=SENDER, to=(Address("a@example.com", name),)))
    check_wire_format(message.data)
    assert parse(message)["To"].addresses[0].display_name == name


def test_long_lines_and_lone_dots_in_body():
    text = "x" * 5000 + "\n.\n..\n. \nend"
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),), bodies=(Body("plain", text),))
    message = compose(req)
    check_wire_format(message.data)
    assert body_of(parse(message)) == text + "\n"


def test_many_recipients_fold_under_78_columns():
    to = tuple(Address(f"user{i}@example.com", f"User Number {i}") for i in range(40))
    message = compose(SendRequest(sender=SENDER, to=to))
    head = message.data.split(b"\r\n\r\n")[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert [a.addr_spec for a in parse(message)["To"].addresses] == [a.addr for a in to]


def test_ids_are_unique():
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),))
    assert len({compose(req).message_id for _ in range(1000)}) == 1000


# Text without surrogates; control characters are refused before composing
# for headers, but bodies may carry any of them.
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
_header_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"), max_size=200
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_header_text, display=_header_text, text=_text, html=_text)
def test_any_unicode_round_trips(subject, display, text, html):
    display = " ".join(display.split())[:150]  # as parse_address normalises and caps display names
    req = SendRequest(
        sender=Address("openidm@example.com", display),
        to=(Address("a@example.com", display),),
        subject=subject,
        bodies=(Body("plain", text), Body("html", html)),
    )
    message = compose(req)
    check_wire_format(message.data)
    msg = parse(message)
    assert str(msg["Subject"]) == subject
    assert msg["To"].addresses[0].display_name == display
    plain, rich = msg.iter_parts()
    norm = lambda s: s.replace("\r\n", "\n").replace("\r", "\n")  # noqa: E731
    expected = norm(text) if norm(text).endswith("\n") else norm(text) + "\n"
    assert norm(plain.get_content()) == expected
    expected = norm(html) if norm(html).endswith("\n") else norm(html) + "\n"
    assert norm(rich.get_content()) == expected


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.sampled_from([".", "..", "From x", "Subject: fake", "--=_boundary", "", " ", "x" * 1200, "=41", "é"]), max_size=20))
def test_header_looking_and_dotted_body_lines(lines):
    text = "\n".join(lines)
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),), bodies=(Body("plain", text),))
    message = compose(req)
    check_wire_format(message.data)
    msg = parse(message)
    assert msg["Subject"] == "" and len(msg.keys()) == 8
    got = msg.get_content().replace("\r\n", "\n")
    assert got == (text if text.endswith("\n") else text + "\n")


def test_date_header_matches_the_stdlib():
    from email.utils import format_datetime, parsedate_to_datetime
    from datetime import datetime, timezone

    from emailactions.mime.compose import format_date

    for ts in (0, 951782400, 1700000000.5, 4102444799):
        ours = format_date(ts)
        assert ours == format_datetime(datetime.fromtimestamp(int(ts), timezone.utc))
        assert parsedate_to_datetime(ours).timestamp() == int(ts)


def test_error_reasons_match_http():
    from http import HTTPStatus

    from emailactions.errors import _REASONS

    for code, phrase in _REASONS.items():
        # 413's phrase changed in Python 3.13; we keep CREST's older one.
        assert HTTPStatus(code).phrase == phrase or code == 413


def test_a_non_ascii_reply_to_makes_the_message_smtputf8():
    # Only From and the envelope counted: a UTF-8 Reply-To raised UnicodeEncodeError.
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),), reply_to=(Address("tó@example.com", "Tó"),))
    message = compose(req)
    assert message.smtputf8
    # A UTF-8 header section (RFC 6532) reads back as text.
    from email import policy
    from email.parser import Parser

    reply_to = Parser(policy=policy.default).parsestr(message.data.decode("utf-8"))["Reply-To"]
    assert [(a.display_name, a.addr_spec) for a in reply_to.addresses] == [("Tó", "tó@example.com")]


def test_ascii_addresses_keep_the_message_ascii():
    req = SendRequest(sender=SENDER, to=(Address("a@example.com", "Zoë"),), reply_to=(Address("r@example.com", "Réply"),))
    message = compose(req)
    assert not message.smtputf8 and message.data.isascii()


@pytest.mark.parametrize("name", ["References", "In-Reply-To"])
def test_message_id_headers_are_never_encoded_words(name):
    # "=?" inside an id is text to a msg-id reader; an encoded word would hide every id.
    ids = "<=?x?y@example.com> <b@example.com>"
    req = SendRequest(sender=SENDER, to=(Address("a@example.com"),), headers=((name, ids),))
    message = compose(req)
    assert f"{name}: {ids}\r\n".encode() in message.data
    assert message.parsed()[name] == ids
