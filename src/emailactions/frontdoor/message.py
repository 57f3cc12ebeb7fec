"""A submitted message, checked again as ``send`` checks its params, made ready for the outbox.

The bytes are kept as the client wrote them (signatures and MIME structure
survive), with three submission-server changes (RFC 6409 section 8): a
``Bcc`` field is dropped, and a missing ``Message-ID`` or ``Date`` is added.
The header fields are split by hand because the stdlib can parse them but not
edit them without re-serialising the whole message; the stdlib's header
registry still decodes every address and encoded word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Sequence

from emailactions.config.model import Limits
from emailactions.errors import EmailActionsError, InvalidParams
from emailactions.frontdoor.replies import Refused, refusal
from emailactions.mime.compose import format_date, new_message_id
from emailactions.mime.message import Message
from emailactions.params.addresses import Address, check_header_text, parse_address
from emailactions.params.send import check_subject, msg_ids

#: Largest header block read: far above any real one, small enough to parse fast.
MAX_HEADER_BYTES = 128 * 1024
#: A CR not before LF, or an LF not after CR: what SMTP smuggling hides behind.
_BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")
#: RFC 5322 field names: printable ASCII but the colon.
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
#: Fields a message may hold at most once (RFC 5322 section 3.6).
SINGLE = ("from", "sender", "reply-to", "to", "cc", "bcc", "subject", "message-id", "date", "in-reply-to", "references")
#: Address fields whose every mailbox is checked as ``send`` checks its addresses.
ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc")


@dataclass(frozen=True)
class Submission:
    """A checked message: what goes to the outbox, and the header senders the policy must allow."""

    message: Message
    #: The ``From`` mailbox, and ``Sender`` when given.
    header_senders: tuple[Address, ...]


def check_line_endings(data: bytes) -> None:
    """Refuse bare CR and bare LF (and so ``\\n.\\n``): a relay could read them as an end of data."""
    if _BARE.search(data):
        raise Refused(550, "5.5.2", "Message refused: bare CR or LF in the data (lines must end with CRLF)")


def envelope_address(value: str, param: str) -> Address:
    """A ``MAIL FROM`` or ``RCPT TO`` address, checked as ``send`` checks ``from`` and ``to``."""
    try:
        return parse_address(value, param)
    except EmailActionsError as exc:
        raise refusal(exc, stage="MAIL" if param == "MAIL FROM" else "RCPT") from None


def check(data: bytes, sender: Address, recipients: Sequence[Address], limits: Limits, smtputf8: bool = False) -> Submission:
    """Check ``data`` (CRLF lines, dot-unstuffed) and build the message; ``Refused`` says why not."""
    check_line_endings(data)
    head, blank, body = data.partition(b"\r\n\r\n")
    if not blank and not data.endswith(b"\r\n"):
        raise Refused(554, "5.6.0", "Message refused: no header fields")
    if len(head) > MAX_HEADER_BYTES:
        raise Refused(552, "5.3.4", f"Message refused: the header is larger than {MAX_HEADER_BYTES} bytes")
    fields = _fields(head + b"\r\n")
    try:
        header_senders, message_id = _check_fields(fields, limits)
    except EmailActionsError as exc:
        raise refusal(exc) from None
    kept = [raw for name, raw in fields if name != "bcc"]
    added = []
    if message_id is None:
        message_id = new_message_id(sender.addr.rpartition("@")[2])
        added.append(f"Message-ID: {message_id}\r\n".encode())
    if not any(name == "date" for name, _ in fields):
        added.append(f"Date: {format_date()}\r\n".encode())
    final = b"".join([*added, *kept]) + b"\r\n" + body
    unique = tuple(dict.fromkeys(a.addr for a in recipients))
    utf8 = smtputf8 or sender.smtputf8 or any(not a.isascii() for a in unique)
    return Submission(Message(final, sender.addr, unique, message_id, utf8), header_senders)


def _fields(head: bytes) -> list[tuple[str, bytes]]:
    """The header block as (lower-case name, raw lines) fields; folded lines stay with their field."""
    fields: list[tuple[str, bytes]] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line + b"\r\n")
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            shown = line[:60].decode("ascii", "replace")
            raise Refused(554, "5.6.0", f"Message refused: malformed header line {shown!r}")
        fields.append((name.decode("ascii").lower(), line + b"\r\n"))
    return fields


def _check_fields(fields: list[tuple[str, bytes]], limits: Limits) -> tuple[tuple[Address, ...], str | None]:
    """Each field as ``send`` checks its params: no control characters, also
    after RFC 2047 decoding; valid addresses; one of each single field."""
    seen: dict[str, str] = {}
    for name, raw in fields:
        label = raw.partition(b":")[0].decode("ascii")
        if name in SINGLE:
            if name in seen:
                raise InvalidParams(f"Header {label!r} appears more than once", param=label)
        try:
            value = raw.partition(b":")[2].replace(b"\r\n", b"").decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidParams(f"Header {label!r} is not UTF-8", param=label) from None
        seen[name] = check_header_text(value, label)
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(b"".join(raw for _, raw in fields) + b"\r\n")
    for name in ADDRESS_FIELDS:
        if parsed[name] is not None:
            _mailboxes(parsed, name)
    if parsed["from"] is None:
        raise InvalidParams("Header 'From' is missing", param="From")
    header_senders = _mailboxes(parsed, "from")
    if len(header_senders) != 1:
        raise InvalidParams("Header 'From' must hold exactly one address", param="From")
    if parsed["sender"] is not None:
        header_senders += _mailboxes(parsed, "sender")
    check_subject(str(parsed["subject"] or ""), limits, "Subject")
    message_id = seen.get("message-id")
    if message_id is not None:
        message_id = msg_ids(message_id, "Message-ID")
        if " " in message_id:
            raise InvalidParams("Header 'Message-ID' must hold one message id", param="Message-ID")
    return header_senders, message_id


def _mailboxes(parsed: object, name: str) -> tuple[Address, ...]:
    """The mailboxes of an address field, each checked by :func:`parse_address`."""
    header = parsed[name]  # type: ignore[index]
    label = header.name
    if any(type(d).__name__ != "ObsoleteHeaderDefect" for d in header.defects):
        raise InvalidParams(f"Header {label!r} is not a valid address list: {header.defects[0]}", param=label)
    return tuple(parse_address({"address": a.addr_spec, "display": a.display_name}, label) for a in header.addresses)
