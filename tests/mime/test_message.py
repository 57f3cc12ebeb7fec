"""Message: the finished bytes and envelope a transport gets, and how it was made."""

from __future__ import annotations

import dataclasses

import pytest

from emailactions.mime.message import Message, MessageInfo

DATA = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Hi\r\nMessage-ID: <1@example.com>\r\n\r\nBody\r\n"


def test_bytes_envelope_and_parsed_view():
    message = Message(DATA, "a@example.com", ("b@example.com", "audit@example.com"), "<1@example.com>")
    assert message.as_bytes() is DATA
    assert message.envelope() == {"from": "a@example.com", "to": ["b@example.com", "audit@example.com"]}
    parsed = message.parsed()
    assert parsed["Subject"] == "Hi" and parsed.get_content().strip() == "Body"


def test_info_defaults_to_nothing_known_and_is_frozen():
    message = Message(DATA, "a@example.com", ("b@example.com",), "<1@example.com>")
    assert message.info == MessageInfo() and message.info.template is None and dict(message.info.locales) == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.info.template = "welcome"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.data = b""  # type: ignore[misc]


def test_a_replacement_keeps_everything_else():
    # What a prepare_message plugin does: new bytes, same envelope, id and info.
    info = MessageInfo(template="welcome", locale="fr", locales={"subject": "fr"})
    message = Message(DATA, "a@example.com", ("b@example.com",), "<1@example.com>", info=info)
    signed = dataclasses.replace(message, data=b"DKIM-Signature: x\r\n" + DATA)
    assert signed.message_id == message.message_id and signed.info is info and signed.recipients == message.recipients
