"""The finished message a transport delivers: bytes plus envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # the email package costs ~10 ms to import; only tests parse
    from email.message import EmailMessage


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """How a message was made, for results, rate limits and tests.

    Transports never need it; the outbox keeps it beside the bytes.
    """

    #: The template id of a ``sendTemplate``.
    template: str | None = None
    #: The locale the message was written in (a template's resolved locale).
    locale: str | None = None
    #: The locale each template part came in (``{"subject": "fr", "html": "fr"}``).
    locales: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Message:
    """An RFC 5322 message ready for the wire.

    ``data`` uses CRLF line endings, is not dot-stuffed and never holds a Bcc
    header; ``recipients`` is the SMTP envelope (To, Cc and Bcc).
    """

    data: bytes
    sender: str
    recipients: tuple[str, ...]
    message_id: str
    smtputf8: bool = False
    #: How it was made (template, locale), for results and tests.
    info: MessageInfo = field(default_factory=MessageInfo)

    def as_bytes(self) -> bytes:
        """The message as it goes on the wire."""
        return self.data

    def parsed(self) -> "EmailMessage":
        """The message read back with the stdlib parser, for tests and previews."""
        from email import policy
        from email.parser import BytesParser

        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]

    def envelope(self) -> dict[str, Any]:
        """JSON form of the envelope."""
        return {"from": self.sender, "to": list(self.recipients)}
