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
#: Defects the stdlib reports on valid addresses: old syntax it reads fine, UTF-8 local parts (RFC 6532).
_BENIGN = {"ObsoleteHeaderDefect", "NonASCIILocalPartDefect"}


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
    values: dict[str, tuple[str, str]] = {}  # lower-case name -> (name as written, unfolded value)
    for name, raw in fields:
        label = raw.partition(b":")[0].decode("ascii")
        if name in SINGLE and name in values:
            raise InvalidParams(f"Header {label!r} appears more than once", param=label)
        try:
            value = raw.partition(b":")[2].replace(b"\r\n", b"").decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidParams(f"Header {label!r} is not UTF-8", param=label) from None
        values[name] = (label, check_header_text(value, label))
    mailboxes = {name: _mailboxes(*values[name]) for name in ADDRESS_FIELDS if name in values}
    if "from" not in mailboxes:
        raise InvalidParams("Header 'From' is missing", param="From")
    if len(mailboxes["from"]) != 1:
        raise InvalidParams("Header 'From' must hold exactly one address", param="From")
    _, subject = values.get("subject", ("Subject", ""))
    check_subject(_decoded(subject) if "=?" in subject else subject, limits, "Subject")
    message_id = values["message-id"][1] if "message-id" in values else None
    if message_id is not None:
        message_id = msg_ids(message_id, "Message-ID")
        if " " in message_id:
            raise InvalidParams("Header 'Message-ID' must hold one message id", param="Message-ID")
    return mailboxes["from"] + mailboxes.get("sender", ()), message_id


def _decoded(text: str) -> str:
    """An unstructured value with its encoded words decoded (undecodable ones stay as written)."""
    try:
        return str(policy.default.header_factory("Subject", text))
    except Exception:
        return text


def _mailboxes(label: str, value: str) -> tuple[Address, ...]:
    """The mailboxes of an address field, read by the stdlib's header registry
    (encoded words decoded), each checked by :func:`parse_address`."""
    try:
        header = policy.default.header_factory(label, value)
    except Exception:  # the stdlib's parser has raised on odd input before: a refusal, not a 451
        raise InvalidParams(f"Header {label!r} is not a valid address list", param=label) from None
    defects = [d for d in header.defects if type(d).__name__ not in _BENIGN]
    if defects:
        raise InvalidParams(f"Header {label!r} is not a valid address list: {defects[0]}", param=label)
    return tuple(_mailbox(a.addr_spec, a.display_name, label) for a in header.addresses)


def _mailbox(addr: str, display: str, label: str) -> Address:
    # The plain address goes through parse_address's cache: senders repeat.
    address = parse_address(addr, label)
    return parse_address({"address": address.addr, "display": display}, label) if display else address
