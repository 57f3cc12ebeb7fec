"""Addresses: IDNA 2008 domains with contextual joiners, and what stays refused."""

from __future__ import annotations

import pytest

from emailactions import InvalidParams
from emailactions.params.addresses import parse_address

SINHALA = "ශ්\u200dරී"  # ZWJ after a virama: valid under IDNA 2008 CONTEXTJ
PERSIAN = "نامه\u200cای"  # ZWNJ between joining letters


@pytest.mark.parametrize(
    "given, sent",
    [
        (f"user@{SINHALA}.lk", "user@xn--10cl1a0b660p.lk"),
        ("user@xn--10cl1a0b660p.lk", "user@xn--10cl1a0b660p.lk"),
        ("user@XN--10CL1A0B660P.lk", "user@xn--10cl1a0b660p.lk"),
        (f"user@{PERSIAN}.ir", "user@xn--mgba3gch31f060k.ir"),
        ("user@xn--mgba3gch31f060k.ir", "user@xn--mgba3gch31f060k.ir"),
        (f"Ana <ana@mail.{SINHALA}.lk>", "ana@mail.xn--10cl1a0b660p.lk"),
    ],
)
def test_idna_2008_joiners_are_accepted_as_u_or_a_labels(given, sent):
    assert parse_address(given, "to").addr == sent


@pytest.mark.parametrize(
    "given",
    [
        "user@a\u200db.com",          # ZWJ with no virama before it: CONTEXTJ fails
        "user@xn--ab-m1t.com",        # the same as an A-label
        "user@\u200cexample.com",     # ZWNJ at the start of a label
        f"user@\u202e{SINHALA}.lk",   # a bidi override beside a valid joiner
        f"user@{SINHALA}.invalid",    # email-validator's other rules still apply
        f"user@{SINHALA}",            # no dot
        "us\u200der@example.com",     # joiners stay refused in a local part
    ],
)
def test_joiners_outside_their_context_and_other_unsafe_characters_stay_refused(given):
    with pytest.raises(InvalidParams) as info:
        parse_address(given, "to")
    assert info.value.param == "to"


@pytest.mark.parametrize("display", ["\u202eEvil", "Ev\u2066il", "a\u202db"])
def test_display_names_still_refuse_bidi_controls(display):
    with pytest.raises(InvalidParams):
        parse_address({"address": f"user@{SINHALA}.lk", "display": display}, "to")


def test_joined_domain_is_sent_as_an_a_label(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {"to": f"Ana <ana@{PERSIAN}.ir>", "cc": f"b@{SINHALA}.lk"})
    [message] = emailactions_outbox
    assert message.recipients == ("ana@xn--mgba3gch31f060k.ir", "b@xn--10cl1a0b660p.lk")
    assert not message.smtputf8
    msg = message.parsed()
    assert msg["To"].addresses[0].addr_spec == "ana@xn--mgba3gch31f060k.ir"


@pytest.mark.parametrize("local", ["a" * 65, "é" * 33])
def test_a_local_part_over_64_octets_is_refused(local):
    with pytest.raises(InvalidParams) as info:
        parse_address(f"{local}@example.com", "to")
    assert info.value.param == "to" and "64 octets" in info.value.detail["problem"]


@pytest.mark.parametrize("local", ["a" * 64, "é" * 32])
def test_a_local_part_of_64_octets_is_accepted(local):
    assert parse_address(f"{local}@example.com", "to").addr == f"{local}@example.com"


def test_a_65_octet_local_part_never_reaches_rcpt_to(emailactions_host, emailactions_outbox):
    with pytest.raises(InvalidParams):
        emailactions_host.action("external/email", "send", {"to": f"{'a' * 65}@example.com", "subject": "s", "body": "b"})
    assert list(emailactions_outbox) == []
