"""Which failures are retried, and how long the waits between attempts are."""

from __future__ import annotations

import random

import pytest

from emailactions.errors import (
    AuthError,
    ConfigError,
    ConnectError,
    DeliveryTimeout,
    RecipientsRefused,
    SMTPUTF8Unsupported,
    TLSError,
    Refusal,
    TransportError,
)
from emailactions.delivery.retry import Backoff, classify, is_temporary, refusals_of, retried_now, split_refusals


@pytest.mark.parametrize(
    "error, temporary",
    [
        (TransportError("DATA 451", smtp_code=451), True),
        (TransportError("MAIL 421", smtp_code=421), True),
        (TransportError("DATA 554", smtp_code=554), False),
        (TransportError("MAIL 550", smtp_code=550), False),
        (ConnectError("closed during data", stage="data"), True),
        (DeliveryTimeout("no answer"), True),
        (TLSError("bad certificate"), True),
        (AuthError("535"), True),
        (SMTPUTF8Unsupported("no SMTPUTF8"), False),
        (ConfigError("alias gone"), True),
        (TransportError("plugin says so", permanent=True), False),
        (TransportError("plugin says retry", permanent=False, smtp_code=550), True),
        (RecipientsRefused("all", refused={"a@x.org": {"code": 550, "message": "no"}}), False),
        (RecipientsRefused("all", refused={"a@x.org": {"code": 550, "message": "no"}, "b@x.org": {"code": 452, "message": "full"}}), True),
    ],
)
def test_classification(error, temporary):
    assert is_temporary(error) is temporary


def test_split_refusals_accepts_both_shapes():
    error = RecipientsRefused("x", refused={"a@x.org": {"code": 452, "message": "later"}, "b@x.org": {"code": 550, "message": "no"}})
    assert split_refusals(refusals_of(error)) == ({"a@x.org": (452, "later")}, {"b@x.org": (550, "no")})
    assert split_refusals({"c@x.org": (421, "bye")}) == ({"c@x.org": (421, "bye")}, {})


def test_backoff_grows_with_jitter_and_caps():
    backoff = Backoff(base=10, maximum=100)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(1, 8)]
    # Equal jitter: each delay lies between half and all of 10 * 2^(n-1), capped at 100.
    for n, delay in enumerate(delays, start=1):
        ceiling = min(100, 10 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not a fixed ladder
    assert backoff.delay(10_000, rng) <= 100  # no float overflow after many attempts


def test_classify_sorts_one_attempt():
    from emailactions.delivery.retry import classify
    from emailactions.transports.base import SendResult

    ok = SendResult("<id>", "a@example.com", ["b@example.com"], {"c@example.com": (451, "later"), "d@example.com": (550, "no")})
    outcome = classify(["b@example.com", "c@example.com", "d@example.com"], ok)
    assert (outcome.accepted, outcome.retry, outcome.refused, outcome.error) == (
        ["b@example.com"], {"c@example.com": (451, "later")}, {"d@example.com": (550, "no")}, None)
    down = ConnectError("relay down", transport="default")
    assert classify(["b@example.com"], error=down).retry == {"b@example.com": (0, "relay down")}
    spam = TransportError("554 spam", transport="default", smtp_code=554)
    outcome = classify(["b@example.com"], error=spam)
    assert outcome.retry == {} and outcome.refused == {"b@example.com": (554, "554 spam")} and outcome.error is spam
    partial = RecipientsRefused("all refused", refused={"b@example.com": {"code": 452, "message": "full"}, "c@example.com": {"code": 550, "message": "gone"}})
    outcome = classify(["b@example.com", "c@example.com"], error=partial)
    assert outcome.retry == {"b@example.com": (452, "full")} and outcome.refused == {"c@example.com": (550, "gone")}


def test_decisions_follow_the_typed_attributes():
    error = TransportError("DATA 451", smtp_code=451)
    assert is_temporary(error)
    error.permanent = True  # a caller that knows better, after the fact
    assert not is_temporary(error) and error.to_dict()["detail"]["permanent"] is True
    outcome = classify(["a@x.org", "b@x.org"], error=error)
    assert outcome.retry == {} and outcome.refused == {"a@x.org": Refusal(451, "DATA 451"), "b@x.org": Refusal(451, "DATA 451")}
    assert all(type(r) is Refusal for r in outcome.refused.values())


def test_classify_sorts_a_results_refusals_into_typed_retries_and_failures():
    from emailactions.transports.base import SendResult

    result = SendResult("<m@x.org>", "s@x.org", ["a@x.org"], {"b@x.org": (452, "full"), "c@x.org": (550, "gone")})
    outcome = classify(["a@x.org", "b@x.org", "c@x.org"], result)
    assert outcome.accepted == ["a@x.org"]
    assert outcome.retry == {"b@x.org": Refusal(452, "full")} and outcome.refused == {"c@x.org": Refusal(550, "gone")}
    assert result.to_dict()["refused"] == {"b@x.org": {"code": 452, "message": "full"}, "c@x.org": {"code": 550, "message": "gone"}}


@pytest.mark.parametrize(
    "error, now",
    [
        (TLSError("certificate verify failed", hint="Set transports.default.ca_file"), False),
        (AuthError("535 bad credentials", hint="Check transports.default.username"), False),
        (TLSError("handshake reset"), True),  # no hint: a retry may succeed
        (AuthError("454 try later"), True),
        (DeliveryTimeout("no answer"), True),
        (TransportError("DATA 554", smtp_code=554), False),  # permanent anyway
        (TransportError("plugin: fix your token", hint="Set transports.default.token"), False),
    ],
)
def test_errors_with_a_hint_are_final_now_and_retried_by_the_outbox(error, now):
    assert retried_now(error) is now
    if error.hint:
        assert is_temporary(error)  # the outbox keeps it until the config is fixed
