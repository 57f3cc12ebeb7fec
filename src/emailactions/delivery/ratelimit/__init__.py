"""Rate limits: which counters a message touches (:mod:`.limiter`), the relay's
delivery quota (:mod:`.quota`), and where counts live (:mod:`.windows`,
:mod:`.storage`: this process, or Redis/Valkey shared by every host).

Also the limiter of the request being served, beside the host's own
(:func:`applying`, :func:`acquire_request`).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from emailactions.delivery.ratelimit.limiter import CONFIG_KEYS, Counter, RateLimiter, build, normalize_address
from emailactions.delivery.ratelimit.quota import DeliveryQuota, build_quota
from emailactions.mime.message import Message

#: The limiter of the request being served, beside the host's own (see :func:`applying`).
_request_limiter: ContextVar[RateLimiter | None] = ContextVar("emailactions_request_limiter", default=None)


@contextmanager
def applying(limiter: RateLimiter | None) -> Iterator[None]:
    """Within this block, every message sent or submitted also counts against
    ``limiter`` (``None``: nothing more). The REST server wraps the calls of
    callers without the ``*`` permission in it."""
    token = _request_limiter.set(limiter)
    try:
        yield
    finally:
        _request_limiter.reset(token)


def acquire_request(message: Message, template: str | None = None) -> None:
    """Count ``message`` against the limiter :func:`applying` set, if any (429 when over).

    Always a refusal, never a deferral: the outbox worker does not know the
    request a message came from.
    """
    limiter = _request_limiter.get()
    if limiter is not None:
        limiter.acquire(message, template)


__all__ = [
    "RateLimiter", "Counter", "CONFIG_KEYS", "normalize_address", "build",
    "DeliveryQuota", "build_quota", "applying", "acquire_request",
]  # fmt: skip
