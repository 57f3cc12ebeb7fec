"""The address fast path accepts nothing email-validator refuses, and agrees on the result."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emailactions.params import address_fastpath
from emailactions.params.address_fastpath import plain_spec
from emailactions.params.addresses import parse_address


def library(addr: str) -> str | None:
    """What email-validator makes of ``addr`` (None: refused)."""
    try:
        info = validate_email(addr, allow_smtputf8=True, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{info.local_part}@{info.ascii_domain}"


def agrees(addr: str) -> None:
    fast = plain_spec(addr)
    if fast is not None:
        assert library(addr) == fast, addr


ADVERSARIAL = [
    "a..b@example.com", ".a@example.com", "a.@example.com", "a@example..com", "a@.example.com",
    "a@example.com.", "a@-example.com", "a@example-.com", "a@ab--cd.com", "a@xn--nxasmq6b.com",
    "a@example.c", "a@example.c1", "a@example.123", "a@123.456", "a@localhost", "a@x.localhost",
    "a@x.test", "a@x.local", "a@x.onion", "a@x.arpa", "a@x.invalid", "a@x.TEST", "a@x.Onion",
    '"a b"@example.com', "a(comment)@example.com", "a@example.com(c)", "a b@example.com",
    "a@[127.0.0.1]", "a@[IPv6:::1]", "@example.com", "a@", "a", "a@@example.com", "a@b@example.com",
    "a\x00@example.com", "a\r\n@example.com", "a@exa\u200dmple.com", "a@exam\u00adple.com",
    "zoë@example.com", "a@müller.de", "a@ｅｘａｍｐｌｅ.com", "a@exampl\u212a.com", "ﬁ@example.com",
    "a@example.com\n", " a@example.com", "a@EXAMPLE.COM", "A.B+C_D-E@Sub.Example.Org",
    "x" * 64 + "@example.com", "x" * 65 + "@example.com", "a@" + "x" * 63 + ".com",
    "a@" + "x" * 64 + ".com", "a@" + ".".join(["x" * 63] * 4) + ".com", "a@example." + "c" * 64,
]


@pytest.mark.parametrize("addr", ADVERSARIAL)
def test_adversarial_addresses(addr):
    agrees(addr)


def test_plain_addresses_take_the_fast_path_and_match_the_library():
    for addr in ("zoe@example.com", "A.B+C_D-E@Sub.Example.Org", "x1@a-b.co.uk"):
        assert plain_spec(addr) == library(addr) is not None


@pytest.mark.parametrize("addr", ["a@x.test", "a@ab--cd.com", '"a b"@example.com', "zoë@example.com", "x" * 61 + "@a.com"])
def test_unsure_cases_go_to_the_library(addr):
    assert plain_spec(addr) is None


def test_special_use_list_matches_the_library_default():
    import email_validator

    assert list(address_fastpath._SPECIAL_USE) == list(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def test_a_changed_library_list_is_honoured(monkeypatch):
    import email_validator

    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", ["com"])
    assert plain_spec("a@example.com") is None
    monkeypatch.setattr(email_validator, "TEST_ENVIRONMENT", True)
    assert plain_spec("a@example.org") is None


def test_parse_address_result_is_the_same_either_way():
    assert parse_address('"Zoë" <Zoe.X@Example.COM>', "to").addr == "Zoe.X@example.com"


ATEXT = "abcXYZ019._+-!#$%&'*/=?^`{|}~"
TRICKY = ATEXT + '@"() \\[]:;<>,\x00\r\n\t\u200c\u200dëßﬁＫ\u212a\u0130ı\u00ad'
labels = st.one_of(
    st.sampled_from(["com", "org", "Example", "test", "local", "localhost", "onion", "arpa", "invalid",
                     "xn--nxasmq6b", "ab--cd", "123", "a", "c1", "-x", "x-", "x" * 63, "x" * 64]),
    st.text("abcdeXYZ0123456789-", min_size=1, max_size=70),
)
structured = st.builds(
    lambda local, domain: f"{local}@{'.'.join(domain)}",
    st.text(ATEXT, min_size=0, max_size=70),
    st.lists(labels, min_size=1, max_size=5),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.emails(), structured, st.text(TRICKY, max_size=80), st.text(max_size=40)))
@example("a@x.test")
def test_generated_addresses(addr):
    agrees(addr)
