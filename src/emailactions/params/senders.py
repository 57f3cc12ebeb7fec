"""Sender policy: which ``from`` addresses a call may use.

Two rules, both checked against the final sender (the request's ``from``, or
the template's or config's default), which is both the header ``From`` and
the envelope ``MAIL FROM``:

* ``[email] allowed_senders``: patterns every caller is held to (unset: any);
* a REST caller's own rule, bound for the length of its request by
  :func:`bound`: the patterns of its ``senders``, or, without them, only the
  default sender (what the call would use with no ``from`` at all); and
  always the caller's own addresses (a user's ``email``, the address an
  address token is bound to).

A pattern is ``*`` (anything), ``*@example.com`` (any local part at that
domain, exactly) or one address; letters compare without case.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from emailactions.errors import SenderNotAllowed
from emailactions.params.addresses import Address, parse_address


@dataclass(frozen=True)
class CallerSenders:
    """A REST caller's rule: its ``senders`` patterns, or ``None``: the default sender only;
    ``own``: addresses that are the caller's own, always allowed."""

    patterns: tuple[str, ...] | None = None
    own: tuple[str, ...] = ()


_CALLER: ContextVar[CallerSenders | None] = ContextVar("emailactions_caller_senders", default=None)


@contextmanager
def bound(rule: CallerSenders | None) -> Iterator[None]:
    """Hold the calls made inside to ``rule`` (``None``: no caller rule)."""
    token = _CALLER.set(rule)
    try:
        yield
    finally:
        _CALLER.reset(token)


def matches(address: str, pattern: str) -> bool:
    """Whether ``address`` (an addr-spec) fits ``pattern``."""
    address, pattern = address.lower(), pattern.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*@"):
        return address.rpartition("@")[2] == pattern[2:]
    return address == pattern


def check_sender(sender: Address, allowed: tuple[str, ...] | None, default: str | None) -> None:
    """403 naming ``from`` unless both rules allow ``sender``; ``default`` is
    the sender the call would have had without ``from``."""
    addr = sender.addr
    if allowed is not None and not any(matches(addr, p) for p in allowed):
        raise SenderNotAllowed(f"Sender {addr!r} is not in [email] allowed_senders", param="from", sender=addr)
    rule = _CALLER.get()
    if rule is None or any(addr.lower() == own.lower() for own in rule.own):
        return
    if rule.patterns is not None:
        if not any(matches(addr, p) for p in rule.patterns):
            raise SenderNotAllowed(f"Sender {addr!r} is not among this caller's senders", param="from", sender=addr)
    elif default is None or parse_address(default, "from").addr.lower() != addr.lower():
        raise SenderNotAllowed(f"Sender {addr!r} is not the configured 'from'; this caller may not choose another", param="from", sender=addr)
