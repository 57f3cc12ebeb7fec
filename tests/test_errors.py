"""Errors carry their context as typed attributes over one record, ``detail``."""

from __future__ import annotations

import json

import pytest

from emailactions.errors import InvalidParams, RateLimited, RecipientsRefused, Refusal, TransportError, refusals_dict


def test_context_attributes_read_and_write_the_detail_the_body_shows():
    err = InvalidParams("Bad To: email address", address="x", param="to")
    assert err.param == "to" and err.path is None
    err.param = "emailTemplate.to"  # a caller renaming the param on the way up
    assert err.detail == {"address": "x", "param": "emailTemplate.to"}
    # The body keeps the raiser's order: it is what CLI and REST print.
    assert json.dumps(err.to_dict()["detail"]) == '{"kind": "invalid_params", "address": "x", "param": "emailTemplate.to"}'
    err.param = None
    assert "param" not in err.detail and err.param is None


def test_attributes_belong_to_the_classes_that_carry_them():
    assert TransportError("x", smtp_code=451, permanent=False).smtp_code == 451
    assert RateLimited("slow down", retry_after=30).retry_after == 30
    with pytest.raises(AttributeError):
        InvalidParams("x").smtp_code
    with pytest.raises(AttributeError):
        TransportError("x", problem="y").problem  # only declared context is an attribute


@pytest.mark.parametrize("reply", [(550, "no such user"), [550, "no such user"], Refusal(550, "no such user"),
                                   {"code": 550, "message": "no such user"}])  # fmt: skip
def test_refused_recipients_are_typed_whatever_shape_they_arrive_in(reply):
    err = RecipientsRefused("refused", transport="default", refused={"a@example.com": reply})
    assert err.refused == {"a@example.com": Refusal(550, "no such user")}
    assert type(err.refused["a@example.com"]) is Refusal and err.refused["a@example.com"].text == "no such user"
    assert err.to_dict()["detail"] == {
        "kind": "recipients_refused", "transport": "default", "refused": {"a@example.com": {"code": 550, "message": "no such user"}}
    }  # fmt: skip


def test_refusals_dict_is_the_result_shape():
    refused = {"a@example.com": Refusal(452, "later"), "b@example.com": Refusal(550, "no")}
    assert refusals_dict(refused) == {"a@example.com": {"code": 452, "message": "later"}, "b@example.com": {"code": 550, "message": "no"}}
    assert json.loads(json.dumps(refused)) == {"a@example.com": [452, "later"], "b@example.com": [550, "no"]}


def test_a_transport_error_shows_its_hint_attempts_and_elapsed_in_the_body():
    from emailactions.errors import AuthError

    err = AuthError("535 refused", transport="default", hint="Check transports.default.username and transports.default.password")
    err.attempts, err.elapsed = 1, 0.042  # what the synchronous path adds on the way up
    assert err.to_dict()["detail"] == {
        "kind": "auth_error", "transport": "default",
        "hint": "Check transports.default.username and transports.default.password", "attempts": 1, "elapsed": 0.042,
    }  # fmt: skip
    assert TransportError("x").hint is None and TransportError("x").attempts is None


def test_messages_escape_control_characters_so_a_logged_error_is_one_line():
    error = InvalidParams("Email type: text/html\r\nBcc: evil@example.test\x1b[2J\x07\u202e", param="type")
    assert str(error) == error.message == "Email type: text/html\\r\\nBcc: evil@example.test\\x1b[2J\\x07\\u202e"
    assert error.to_dict()["message"] == error.message


def test_an_action_echoing_crlf_input_gives_an_escaped_message(emailactions_host):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", {"to": "a@example.com", "type": "text/html\r\nBcc: evil@example.test"})
    assert "\r" not in str(info.value) and "\n" not in str(info.value) and "\\r\\nBcc" in str(info.value)
