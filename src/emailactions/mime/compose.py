"""Compose a :class:`SendRequest` into message bytes.

Built directly with the stdlib's C-backed encoders (``binascii`` for base64
and quoted-printable) instead of ``EmailMessage``: its header parser and
generator cost milliseconds per message, while the wire costs microseconds.
Every composed message is checked in the tests by parsing it back with the
stdlib parser.
"""

from __future__ import annotations

import binascii
import os
import re
import time
import urllib.parse
from functools import lru_cache
from typing import Iterable

from emailactions.params.addresses import Address
from emailactions.mime.message import Message, MessageInfo
from emailactions.params.attachments import Attachment
from emailactions.params.send import MSG_ID_HEADERS, Body, SendRequest

CRLF = "\r\n"
#: RFC 5322 recommends 78 characters per header line.
_FOLD_AT = 78
# Display names made only of these need no quoting (RFC 5322 atext + space).
_ATEXT_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
# Raw bytes per encoded word: "=?utf-8?b?" + base64(45 bytes) + "?=" is 72.
_WORD_BYTES = 45

_CONTENT_TYPES = {"plain": "text/plain", "html": "text/html", "xml": "text/xml"}


def encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 words, each under 76 characters, never splitting a character."""
    raw = text.encode("utf-8", "strict")
    if len(raw) <= _WORD_BYTES:
        return [_b_word(raw)]
    words: list[str] = []
    start, size = 0, len(raw)
    while start < size:
        end = min(start + _WORD_BYTES, size)
        while end < size and raw[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            end -= 1
        words.append(_b_word(raw[start:end]))
        start = end
    return words


def _b_word(raw: bytes | bytearray) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(raw, newline=False).decode("ascii") + "?="


def _fold_tokens(name: str, tokens: Iterable[str], sep: str) -> str:
    """Join tokens after ``Name: `` with ``sep``, breaking lines before 78 chars.

    A break is always CRLF + space in place of a space, so unfolding gives
    the original text back.
    """
    line = name + ": "
    out: list[str] = []
    first = True
    for token in tokens:
        if first:
            line += token
            first = False
        elif len(line) + len(sep) + len(token) > _FOLD_AT:
            out.append(line + sep.rstrip(" "))
            line = " " + token
        else:
            line += sep + token
    out.append(line)
    return CRLF.join(out) + CRLF


def unstructured(name: str, text: str) -> str:
    """A header such as Subject; plain ASCII folds at spaces, the rest is RFC 2047."""
    if (
        text.isascii()
        and _PRINTABLE_ASCII.fullmatch(text)
        and "=?" not in text
        and "  " not in text
        and text == text.strip()
        and all(len(word) < 900 for word in text.split(" "))
    ):
        if len(name) + 2 + len(text) <= _FOLD_AT:
            return f"{name}: {text}{CRLF}"
        return _fold_tokens(name, text.split(" "), " ")
    return _fold_tokens(name, encoded_words(text), " ")


def msg_id_list(name: str, value: str) -> str:
    """In-Reply-To / References: ids one space apart, folded between ids.

    Threading clients read these as ``<id>`` tokens; an encoded word hides
    them, so the value (checked by params) is never encoded.
    """
    return _fold_tokens(name, value.split(), " ")


def phrase(display: str) -> list[str]:
    """A display name as RFC 5322 phrase tokens (atoms, quoted or encoded)."""
    if display.isascii() and _PRINTABLE_ASCII.fullmatch(display) and "=?" not in display:
        if _ATEXT_PHRASE.fullmatch(display) and "  " not in display and display == display.strip():
            return display.split(" ")
        if len(display) < 900:
            return ['"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"']
    # One encoded word, even past RFC 2047's 75 characters: readers disagree
    # on the space between adjacent words in a phrase (RFC 2047 drops it, the
    # stdlib keeps it), and one word reads the same everywhere. Display names
    # are capped (addresses.MAX_DISPLAY_CHARS) so the line stays under 998.
    return [_b_word(display.encode("utf-8", "strict"))]


def address_header(name: str, addresses: Iterable[Address]) -> str:
    """To/Cc/From: each mailbox's tokens, folded between them."""
    tokens: list[str] = []
    for address in addresses:
        if tokens:
            tokens[-1] += ","
        if address.display:
            tokens.extend(phrase(address.display))
            tokens.append(f"<{address.addr}>")
        else:
            tokens.append(address.addr)
    return _fold_tokens(name, tokens, " ")


def encode_text(content: str) -> tuple[str, bytes]:
    """Body text as CRLF lines: 7bit when it may be, quoted-printable otherwise."""
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    if text.isascii() and "\0" not in text and max(map(len, text.split("\n"))) <= 998:
        return "7bit", text.replace("\n", CRLF).encode("ascii")
    raw = text.encode("utf-8", "strict")
    # istext keeps "\n" as line breaks; soft breaks keep lines under 76.
    return "quoted-printable", binascii.b2a_qp(raw, istext=True).replace(b"\n", b"\r\n")


#: Parts larger than this are encoded afresh each time rather than cached,
#: so the cache never holds more than 64 x this (plus the encoded copies).
CACHE_MAX_BYTES = 256 * 1024


def _text_part(body: Body) -> tuple[str, bytes]:
    # Cached: a bulk or template send encodes the same body for every recipient.
    if len(body.content) > CACHE_MAX_BYTES:
        return _encode_text_part(body)
    return _cached_text_part(body)


def _encode_text_part(body: Body) -> tuple[str, bytes]:
    cte, data = encode_text(body.content)
    headers = (
        f'Content-Type: {_CONTENT_TYPES[body.subtype]}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {cte}{CRLF}"
    )
    return headers, data


_cached_text_part = lru_cache(maxsize=64)(_encode_text_part)


def _boundary() -> str:
    # Random, and "=_" can never occur in quoted-printable or base64 output.
    return "=_" + os.urandom(12).hex()


def _multipart(subtype: str, parts: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    boundary = _boundary()
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046 5.1.1),
    # so it is added here and each part keeps its own final line break.
    delimiter = f"{CRLF}--{boundary}{CRLF}".encode("ascii")
    chunks: list[bytes] = []
    for headers, data in parts:
        chunks += [delimiter, headers.encode("ascii"), b"\r\n", data]
    chunks[0] = chunks[0][2:]
    chunks.append(f"{CRLF}--{boundary}--{CRLF}".encode("ascii"))
    headers = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}'
    return headers, b"".join(chunks)


def body_part(bodies: tuple[Body, ...]) -> tuple[str, bytes]:
    """One text part, or multipart/alternative with the plainest part first."""
    if len(bodies) == 1:
        return _text_part(bodies[0])
    order = {"plain": 0, "xml": 1, "html": 2}
    return _multipart("alternative", [_text_part(b) for b in sorted(bodies, key=lambda b: order[b.subtype])])


_QUOTABLE = re.compile(r'[\x20-\x7e]*')


def mime_param(name: str, value: str) -> str:
    """``; name="value"``, or RFC 2231 ``name*0*=utf-8''...`` pieces for non-ASCII or long values."""
    if _QUOTABLE.fullmatch(value) and '"' not in value and "\\" not in value and len(value) <= 60:
        return f'; {name}="{value}"'
    encoded = urllib.parse.quote(value, safe="!#$&+-.^_`|~")
    pieces = [encoded[i : i + 50] for i in range(0, len(encoded), 50)]
    # Never cut a %XX escape in two.
    for i in range(len(pieces) - 1):
        cut = pieces[i].rfind("%", len(pieces[i]) - 2)
        if cut != -1:
            pieces[i + 1] = pieces[i][cut:] + pieces[i + 1]
            pieces[i] = pieces[i][:cut]
    first = f";{CRLF} {name}*0*=utf-8''{pieces[0]}"
    return first + "".join(f";{CRLF} {name}*{i}*={piece}" for i, piece in enumerate(pieces[1:], 1))


def _base64_lines(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def attachment_part(attachment: Attachment) -> tuple[str, bytes]:
    """One base64 part; an inline one carries its Content-ID (small ones cached, like text parts)."""
    if len(attachment.data) > CACHE_MAX_BYTES:
        return _encode_attachment(attachment)
    return _cached_attachment(attachment)


def _encode_attachment(attachment: Attachment) -> tuple[str, bytes]:
    disposition = "inline" if attachment.cid else "attachment"
    headers = (
        f"Content-Type: {attachment.content_type}{mime_param('name', attachment.filename)}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: {disposition}{mime_param('filename', attachment.filename)}{CRLF}"
    )
    if attachment.cid:
        headers += f"Content-ID: <{attachment.cid}>{CRLF}"
    return headers, _base64_lines(attachment.data)


_cached_attachment = lru_cache(maxsize=64)(_encode_attachment)


def content_part(request: SendRequest) -> tuple[str, bytes]:
    """The whole body tree: alternative text, related inline images, mixed attachments."""
    part = body_part(request.bodies)
    has_html = any(b.subtype == "html" for b in request.bodies)
    inline = [a for a in request.attachments if a.cid and has_html]
    attached = [a for a in request.attachments if not (a.cid and has_html)]
    if inline:
        part = _multipart("related", [part, *map(attachment_part, inline)])
    if attached:
        part = _multipart("mixed", [part, *map(attachment_part, attached)])
    return part


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(timestamp: float | None = None) -> str:
    """RFC 5322 date in UTC; by hand because email.utils costs ~8 ms to import."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def new_message_id(domain: str) -> str:
    """A globally unique Message-ID: time, randomness and the sender's domain."""
    return f"<{time.time_ns():x}.{os.urandom(8).hex()}@{domain}>"


def compose(request: SendRequest, *, message_id: str | None = None, date: float | None = None) -> Message:
    """Build the message for ``request``; Bcc goes only into the envelope."""
    sender = request.sender
    domain = sender.addr.rpartition("@")[2]
    message_id = message_id or new_message_id(domain)
    head = [
        f"Date: {format_date(date)}{CRLF}",
        address_header("From", (sender,)),
    ]
    if request.to:
        head.append(address_header("To", request.to))
    elif not request.cc:
        # RFC 5322 3.6.3: keep Bcc-only mail from looking broken to readers.
        head.append(f"To: undisclosed-recipients:;{CRLF}")
    if request.cc:
        head.append(address_header("Cc", request.cc))
    if request.reply_to:
        head.append(address_header("Reply-To", request.reply_to))
    head.append(unstructured("Subject", request.subject))
    head.extend((msg_id_list if name in MSG_ID_HEADERS else unstructured)(name, value) for name, value in request.headers)
    head.append(f"Message-ID: {message_id}{CRLF}MIME-Version: 1.0{CRLF}")
    part_headers, data = content_part(request)
    # Every address written in a header counts, Reply-To too: UTF-8 headers need SMTPUTF8.
    smtputf8 = any(a.smtputf8 for a in (sender, *request.recipients, *request.reply_to))
    header_bytes = "".join(head).encode("utf-8" if smtputf8 else "ascii")
    return Message(
        data=header_bytes + part_headers.encode("ascii") + b"\r\n" + data,
        sender=sender.addr,
        recipients=tuple(a.addr for a in request.recipients),
        message_id=message_id,
        smtputf8=smtputf8,
        info=MessageInfo(locale=request.locale),
    )
