"""Sender policy: [email] allowed_senders for everyone, and a REST caller's own rule."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, ConfigError, PermissionDenied, SenderNotAllowed
from emailactions.params.senders import CallerSenders, bound, matches

SEND = {"to": "a@example.com", "subject": "s", "body": "b"}
pytestmark = pytest.mark.emailactions_deliver(False)


def host(**email):
    config = {"email": {"from": "Example <noreply@example.com>", **email}, "transports": {"default": {"backend": "memory"}}}
    return ActionHost(config, load_entry_points=False)


@pytest.mark.parametrize(
    "address, pattern, fits",
    [
        ("noreply@example.com", "noreply@example.com", True),
        ("NoReply@Example.com", "noreply@example.com", True),
        ("anyone@example.com", "*@example.com", True),
        ("anyone@mail.example.com", "*@example.com", False),
        ("security@paypal.com", "*@example.com", False),
        ("security@paypal.com", "*", True),
    ],
)
def test_patterns(address, pattern, fits):
    assert matches(address, pattern) is fits


def test_unset_in_process_callers_keep_their_freedom(emailactions_outbox):
    with host() as h:
        h.action("external/email", "send", {**SEND, "from": '"Security Team" <security@paypal.com>'})
    assert emailactions_outbox.last["From"].addresses[0].addr_spec == "security@paypal.com"


def test_allowed_senders_refuse_a_from_outside_them_with_a_403_naming_from(emailactions_outbox):
    with host(allowed_senders=["*@example.com"]) as h:
        h.action("external/email", "send", {**SEND, "from": "support@example.com"})
        h.action("external/email", "send", SEND)  # the config's default fits too
        with pytest.raises(SenderNotAllowed) as info:
            h.action("external/email", "send", {**SEND, "from": '"Security Team" <security@paypal.com>'})
    error = info.value
    assert isinstance(error, PermissionDenied) and error.code == 403
    assert error.param == "from" and error.sender == "security@paypal.com" and "allowed_senders" in error.message
    assert len(emailactions_outbox) == 2


def test_allowed_senders_check_the_default_a_template_applies(emailactions_outbox):
    with host(allowed_senders=["noreply@example.com"]) as h:
        h.templates.store.create({"subject": {"en": "Hi"}, "message": {"en": "Hello"}, "from": "Bank <security@paypal.com>",
                                  "enabled": True}, "spoof")  # fmt: skip
        with pytest.raises(SenderNotAllowed):
            h.action("external/email", "sendTemplate", {"templateName": "spoof", "to": "a@example.com"})
    assert len(emailactions_outbox) == 0


def test_a_caller_without_senders_may_use_only_the_configured_from(emailactions_outbox):
    with host() as h, bound(CallerSenders()):
        h.action("external/email", "send", SEND)
        h.action("external/email", "send", {**SEND, "from": "Other Name <NOREPLY@example.com>"})
        with pytest.raises(SenderNotAllowed) as info:
            h.action("external/email", "send", {**SEND, "from": "security@paypal.com"})
    assert info.value.param == "from" and len(emailactions_outbox) == 2


def test_a_caller_bound_to_one_address_sends_only_as_it(emailactions_outbox):
    with host() as h, bound(CallerSenders(("alerts@example.com",))):
        h.action("external/email", "send", {**SEND, "from": "alerts@example.com"})
        for params in ({**SEND}, {**SEND, "from": "other@example.com"}):
            with pytest.raises(SenderNotAllowed):
                h.action("external/email", "send", params)
    assert [m.sender for m in emailactions_outbox.messages] == ["alerts@example.com"]


def test_a_caller_rule_reaches_every_message_sent_separately(emailactions_outbox):
    with host() as h, bound(CallerSenders()):
        with pytest.raises(SenderNotAllowed):
            h.action("external/email", "send", {**SEND, "to": ["a@example.com", "b@example.com"], "sendSeparately": True,
                                                 "from": "security@paypal.com"})  # fmt: skip
    assert len(emailactions_outbox) == 0


@pytest.mark.parametrize("pattern", ["", "example.com", "*", "no*@example.com", "a@*.com", "@example.com"])
def test_bad_patterns_are_config_errors_naming_the_key(pattern):
    if pattern == "*":
        assert host(allowed_senders=[pattern]).config.allowed_senders == ("*",)
        return
    with pytest.raises(ConfigError) as info:
        host(allowed_senders=[pattern])
    assert info.value.key == "email.allowed_senders"
