"""pytest fixtures: a host on the memory transport and its outbox.

Registered through the ``pytest11`` entry point. emailactions is imported
inside the fixtures so coverage sees its import-time lines.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest


class Outbox:
    """What the memory transport captured, with helpers for assertions."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    @property
    def messages(self) -> list[Any]:
        """Every :class:`~emailactions.Message` sent, oldest first."""
        return list(self._transport.outbox)

    def __len__(self) -> int:
        return len(self._transport.outbox)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.messages)

    def __getitem__(self, index: int) -> Any:
        return self._transport.outbox[index]

    @property
    def last(self) -> Any:
        """The most recent message, parsed (an ``email.message.EmailMessage``)."""
        if not self._transport.outbox:
            raise AssertionError("no message was sent")
        return self._transport.outbox[-1].parsed()

    def to(self, address: str) -> list[Any]:
        """Parsed messages whose envelope includes ``address``."""
        return [m.parsed() for m in self._transport.outbox if address in m.recipients]

    @property
    def subjects(self) -> list[str]:
        """Subjects of all messages, decoded."""
        return [str(m.parsed()["Subject"]) for m in self._transport.outbox]

    def clear(self) -> None:
        """Forget everything sent so far."""
        self._transport.outbox.clear()


@pytest.fixture
def emailactions_config() -> dict[str, Any]:
    """Override to change the host's config: memory transport, no rate limits
    (a test may send many mails to one address)."""
    return {
        "email": {"from": "IDM <openidm@example.com>"},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"enabled": False},
    }


@pytest.fixture
def emailactions_host(emailactions_config: dict[str, Any]) -> Iterator[Any]:
    """An :class:`~emailactions.ActionHost` with no third-party plugins."""
    from emailactions import ActionHost

    host = ActionHost(emailactions_config, load_entry_points=False)
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def emailactions_outbox(emailactions_host: Any) -> Outbox:
    """The outbox of ``emailactions_host``'s memory transport."""
    return Outbox(emailactions_host.transport())
