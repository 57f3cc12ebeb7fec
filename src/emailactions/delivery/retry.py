"""Retry policy: which delivery failures are temporary, and when to try again.

Decisions rest on error attributes only (``smtp_code``, ``refused``, the
error class), so transports need not know about retries, and a third-party
transport can steer them by putting ``permanent=True`` (or an ``smtp_code``)
in its error's detail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from emailactions.errors import EmailActionsError, RecipientsRefused, SMTPUTF8Unsupported

#: A refused recipient: address -> (SMTP code, server text).
Refusals = dict[str, tuple[int, str]]


def is_temporary_code(code: int) -> bool:
    """RFC 5321 4.2.1: 4yz is a transient negative reply, 5yz a permanent one."""
    return 400 <= code < 500


def is_temporary(error: EmailActionsError) -> bool:
    """Whether trying the same message again later may succeed.

    Connection failures, timeouts and a connection lost before the server's
    final reply are temporary: the server may or may not have taken the
    message, and a duplicate (same Message-ID) beats a loss. TLS and AUTH
    failures are treated as temporary too, as Postfix does, because they are
    fixed by an operator, not by the sender, and the mail should wait for the fix.
    """
    explicit = error.detail.get("permanent")
    if isinstance(explicit, bool):
        return not explicit
    code = error.detail.get("smtp_code")
    if isinstance(code, int):
        return is_temporary_code(code)
    if isinstance(error, RecipientsRefused):
        return bool(split_refusals(refusals_of(error))[0])
    if isinstance(error, SMTPUTF8Unsupported):
        return False  # the relay lacks a capability; asking again changes nothing
    # ConnectError, DeliveryTimeout, TLSError, AuthError, other transport
    # errors, and config errors (an alias removed while mail was queued):
    # max_attempts and max_age bound how long they are retried.
    return True


@dataclass(frozen=True)
class Outcome:
    """One attempt, sorted: who took the message, whom to try again, who refused for good."""

    accepted: list[str]
    retry: Refusals
    refused: Refusals
    error: EmailActionsError | None = None


def classify(recipients: Sequence[str], result: Any = None, error: EmailActionsError | None = None) -> Outcome:
    """The outcome of one attempt at ``recipients``: a ``SendResult`` or an error.

    The one place both the synchronous path and the outbox worker learn what
    to retry: 4xx replies and temporary errors are retried, the rest is final.
    """
    if error is None:
        temporary, permanent = split_refusals(result.refused)
        return Outcome(list(result.accepted), temporary, permanent)
    if isinstance(error, RecipientsRefused):
        temporary, permanent = split_refusals(refusals_of(error))
        return Outcome([], temporary, permanent, error)
    reply = (int(error.detail.get("smtp_code") or 0), error.message)
    everyone = {address: reply for address in recipients}
    return Outcome([], everyone, {}, error) if is_temporary(error) else Outcome([], {}, everyone, error)


def refusals_of(error: EmailActionsError) -> Refusals:
    """The per-recipient replies a ``RecipientsRefused`` carries."""
    refused = error.detail.get("refused") or {}
    return {addr: _pair(reply) for addr, reply in refused.items()}


def _pair(reply: Any) -> tuple[int, str]:
    if isinstance(reply, Mapping):
        return int(reply.get("code", 0)), str(reply.get("message", ""))
    code, text = reply
    return int(code), str(text)


def split_refusals(refused: Mapping[str, Any]) -> tuple[Refusals, Refusals]:
    """(temporary, permanent) refusals; only the temporary ones are retried."""
    temporary: Refusals = {}
    permanent: Refusals = {}
    for addr, reply in refused.items():
        code, text = _pair(reply)
        (temporary if is_temporary_code(code) else permanent)[addr] = (code, text)
    return temporary, permanent


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter".

    Half of each delay is fixed and half random, so delays still grow
    attempt after attempt while many messages failing together (a relay
    restart) do not all come back in the same second.
    """

    base: float
    maximum: float
    factor: float = 2.0

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1-based)."""
        exponent = max(failures - 1, 0)
        # Cap the exponent first: 2.0 ** 2000 overflows a float.
        ceiling = min(self.maximum, self.base * self.factor ** min(exponent, 64))
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2
