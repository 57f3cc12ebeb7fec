"""Retry policy: which delivery failures are temporary, and when to try again.

Decisions rest on typed error attributes only (``TransportError.permanent``,
``smtp_code``, ``RecipientsRefused.refused``, the error class), so
transports need not know about retries, and a third-party transport steers
them by raising its error with ``permanent=True`` (or an ``smtp_code``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from emailactions.errors import EmailActionsError, RecipientsRefused, Refusal, Refusals, SMTPUTF8Unsupported, TransportError


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
    if isinstance(error, TransportError):
        # isinstance, not "is not None": a plugin's sloppy value is ignored, not trusted.
        if isinstance(error.permanent, bool):
            return not error.permanent
        if isinstance(error.smtp_code, int):
            return is_temporary_code(error.smtp_code)
    if isinstance(error, RecipientsRefused):
        return bool(split_refusals(error.refused)[0])
    if isinstance(error, SMTPUTF8Unsupported):
        return False  # the relay lacks a capability; asking again changes nothing
    # ConnectError, DeliveryTimeout, TLSError, AuthError, other transport
    # errors, and config errors (an alias removed while mail was queued):
    # max_attempts and max_age bound how long they are retried.
    return True


def retried_now(error: EmailActionsError) -> bool:
    """Whether the synchronous path tries again: a temporary failure that no
    operator must fix first.

    An error with a ``hint`` (an untrusted certificate, refused credentials, a
    missing STARTTLS or AUTH) fails the same way until the config changes:
    retrying it would only keep the caller waiting for ``sync_deadline``. The
    outbox still retries it (:func:`is_temporary`), so queued mail waits for the fix.
    """
    return is_temporary(error) and not (isinstance(error, TransportError) and isinstance(error.hint, str))


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
    to retry: 4xx replies and temporary errors are retried, the rest is final
    (the synchronous path also asks :func:`retried_now`).
    """
    if error is None:
        temporary, permanent = split_refusals(result.refused)
        return Outcome(list(result.accepted), temporary, permanent)
    refused = refusals_of(error)
    if refused:
        temporary, permanent = split_refusals(refused)
        return Outcome([], temporary, permanent, error)
    everyone = dict.fromkeys(recipients, reply_of(error))
    return Outcome([], everyone, {}, error) if is_temporary(error) else Outcome([], {}, everyone, error)


def refusals_of(error: EmailActionsError) -> Refusals:
    """The per-recipient replies an error carries (a ``RecipientsRefused``'s), else none."""
    return error.refused if isinstance(error, RecipientsRefused) else {}


def reply_of(error: EmailActionsError) -> Refusal:
    """The refusal an error stands for, for each recipient it kept the message from."""
    code = error.smtp_code if isinstance(error, TransportError) else None
    return Refusal(code if isinstance(code, int) else 0, error.message)


def split_refusals(refused: Mapping[str, Any]) -> tuple[Refusals, Refusals]:
    """(temporary, permanent) refusals; only the temporary ones are retried."""
    temporary: Refusals = {}
    permanent: Refusals = {}
    for addr, reply in refused.items():
        reply = Refusal.of(reply)
        (temporary if is_temporary_code(reply.code) else permanent)[addr] = reply
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
