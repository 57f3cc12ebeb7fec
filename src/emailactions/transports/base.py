"""The transport contract: open, close, send finished messages, report results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator

from emailactions.errors import ConfigError, Refusal, Refusals, refusals_dict
from emailactions.mime.message import Message


@dataclass
class SendResult:
    """What happened to one message: who got it, who did not, and why."""

    message_id: str
    sender: str
    accepted: list[str]
    refused: Refusals = field(default_factory=dict)
    transport: str = ""
    response: str | None = None

    def __post_init__(self) -> None:
        # A transport may hand in plain (code, text) pairs; results carry Refusals.
        self.refused = {address: Refusal.of(reply) for address, reply in self.refused.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used in action results."""
        return {
            "messageId": self.message_id,
            "envelope": {"from": self.sender, "to": self.accepted + list(self.refused)},
            "accepted": list(self.accepted),
            "refused": refusals_dict(self.refused),
            "transport": self.transport,
        }


class BaseTransport(ABC):
    """A way for finished messages to leave; one subclass per file.

    Options arrive as keyword arguments from config; a subclass refuses
    wrong types with :class:`~emailactions.errors.ConfigError`. A transport
    is a context manager: ``open()`` on enter, ``close()`` on exit.
    """

    #: The registry key, also the ``backend`` value in config.
    name: ClassVar[str] = ""

    def __init__(self) -> None:
        #: The config alias this instance was built for (``default``...).
        self.alias = self.name

    def open(self) -> None:
        """Acquire resources (connections, files); idempotent."""

    def close(self) -> None:
        """Release resources; idempotent and safe to call from any state."""

    @abstractmethod
    def send(self, message: Message) -> SendResult:
        """Deliver one message or raise a ``TransportError``."""

    def send_messages(self, messages: Iterable[Message]) -> list[SendResult]:
        """Deliver messages in order; one result each."""
        return [self.send(message) for message in messages]

    def result(self, message: Message, **kwargs: Any) -> SendResult:
        """A result that accepted every envelope recipient."""
        kwargs.setdefault("accepted", list(message.recipients))
        return SendResult(message.message_id, message.sender, transport=self.alias, **kwargs)

    def __enter__(self) -> "BaseTransport":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: When the caller needs an answer by (``time.monotonic()``), if it does.
_ANSWER_BY: ContextVar[float | None] = ContextVar("emailactions_answer_by", default=None)


@contextmanager
def answer_by(deadline: float | None) -> Iterator[None]:
    """Sends made inside the block should end by ``deadline`` (``time.monotonic()``).

    The synchronous path sets it from ``sync_deadline``: a transport's own
    timeouts are sized for the outbox, where waiting is cheap, and would
    otherwise hold a caller for minutes. ``None`` sets no deadline.
    """
    token = _ANSWER_BY.set(deadline)
    try:
        yield
    finally:
        _ANSWER_BY.reset(token)


def caller_deadline() -> float | None:
    """The deadline :func:`answer_by` set for this thread or task, if any.

    A transport caps its connect and read timeouts by the time left, so a
    relay that never answers cannot hold the caller past it.
    """
    return _ANSWER_BY.get()


def option(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    """Check one option's type, refusing it with a ``ConfigError`` naming it."""
    # bool is an int in Python; a port of True is a mistake, not 1.
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ConfigError(f"Option {name!r} must be a number, not a boolean", key=name)
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"Option {name!r} must be {expected}, not {type(value).__name__}", key=name)
    return value
