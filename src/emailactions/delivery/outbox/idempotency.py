"""``idempotencyKey``: a retried submit answers as the first one did and stores nothing new.

The key is stored with the message under a unique index, so two submits
racing with one key still make one message. The answer to a retry names the
first message (its outbox id and Message-ID); a key reused for a different
envelope is refused, naming the param, rather than answered with someone
else's message.
"""

from __future__ import annotations

from typing import Any

from emailactions.delivery.outbox.entry import iso_time
from emailactions.errors import InvalidParams
from emailactions.mime.message import Message

PARAM = "idempotencyKey"


def replay(outbox: Any, outbox_id: int, message: Message) -> dict[str, Any] | None:
    """The first submit's answer if ``outbox_id`` is an earlier message's, else None (this one was stored)."""
    first = outbox.get(outbox_id)
    if first.message_id == message.message_id:
        return None
    if first.sender != message.sender or tuple(first.recipients) != tuple(message.recipients):
        raise InvalidParams(
            f"Parameter {PARAM!r} was already used for a message with another envelope", param=PARAM, outboxId=first.id
        )
    return {
        "outboxId": first.id,
        "messageId": first.message_id,
        "envelope": {"from": first.sender, "to": list(first.recipients)},
        "state": first.state,
        "nextAttempt": iso_time(first.next_attempt) if first.state == "queued" else None,
        "replayed": True,
    }
