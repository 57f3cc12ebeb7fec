"""Enhanced status codes on aiosmtpd's replies, and errors turned into SMTP refusals."""

from __future__ import annotations

import pytest

from emailactions.errors import InvalidParams, NotAuthenticated, OutboxError, RateLimited, SenderNotAllowed, TooLarge
from emailactions.frontdoor.replies import Refused, enhanced, refusal


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("250 OK", "250 2.0.0 OK"),
        ("503 Error: need RCPT command", "503 5.5.1 need RCPT command"),
        ("552 Error: Too much mail data", "552 5.3.4 Too much mail data"),
        ("501 Syntax: MAIL FROM: <address>", "501 5.5.4 Syntax: MAIL FROM: <address>"),
        ("530 5.7.0 Authentication required", "530 5.7.0 Authentication required"),
        ("599 odd", "599 5.0.0 odd"),
        ("220 mx.example.com emailactions ESMTP", "220 mx.example.com emailactions ESMTP"),
        ("354 End data with <CR><LF>.<CR><LF>", "354 End data with <CR><LF>.<CR><LF>"),
        ("not a reply", "not a reply"),
    ],
)
def test_enhanced(reply, expected):
    assert enhanced(reply) == expected


@pytest.mark.parametrize(
    "error, stage, expected",
    [
        (RateLimited("Too many", retry_after=2.5), "DATA", "451 4.7.0 Too many; retry in 3 s"),
        (NotAuthenticated("Access Denied"), "MAIL", "530 5.7.0 Access Denied"),
        (SenderNotAllowed("Sender 'a@b.c' is not allowed", param="from"), "MAIL", "550 5.7.1 Sender 'a@b.c' is not allowed"),
        (TooLarge("too big"), "DATA", "552 5.3.4 too big"),
        (InvalidParams("bad", param="from"), "MAIL", "553 5.1.7 bad"),
        (InvalidParams("bad", param="to"), "RCPT", "553 5.1.3 bad"),
        (InvalidParams("bad", param="Subject"), "DATA", "554 5.6.0 bad"),
        (OutboxError("disk full"), "DATA", "451 4.3.0 Local error: the message could not be stored; try again later"),
    ],
)
def test_refusal(error, stage, expected):
    assert refusal(error, stage=stage).reply == expected


def test_a_refusal_is_one_printable_line():
    assert Refused(554, "5.6.0", "a\r\nb\x00c").reply == "554 5.6.0 a??b?c"
