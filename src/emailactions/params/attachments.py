"""Validate attachments and inline images given in action params.

Data arrives as strict base64 (or bytes from Python callers); nothing is
ever read from a path or URL named in params.
"""

from __future__ import annotations

import binascii
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from emailactions.errors import InvalidParams, TooLarge
from emailactions.params.addresses import check_header_text
from emailactions.params.fields import REQUIRED, boolean, items, mapping, refuse_unknown, text

_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
# Content-ID: a plain token, the same in <...>, in cid: URLs and to every reader
# (no white space, brackets or "=?" that could start an encoded word).
_CID = re.compile(r"[A-Za-z0-9._@-]{1,200}")
# An RFC 2047 encoded word anywhere: readers (mailparser, mail clients, the
# stdlib) decode one even inside a quoted file name, so "=?utf-8?q?evil.exe?="
# would show as "evil.exe".
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?.*?\?=", re.S)  # as loose as the stdlib's
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_KEYS = {"filename", "fileType", "data", "inline", "cid"}
MAX_FILENAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class Attachment:
    """A decoded attachment; ``cid`` set means an inline part for HTML."""

    filename: str
    content_type: str
    data: bytes
    cid: str | None = None


def safe_filename(name: str) -> str:
    """A base name without paths, control, format (bidi) or separator characters.

    Also without what readers drop from a name's ends (spaces, dots, and a
    wrapping pair of quotes or angle brackets), so the name sent is the name shown.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = " ".join(name.split())
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME_CHARS - len(ext) - 1] + dot + ext) if dot and len(ext) < 20 else name[:MAX_FILENAME_CHARS]
    name = name.strip(". ")
    while len(name) >= 2 and name[0] + name[-1] in ('""', "<>"):
        name = name[1:-1].strip(". ")
    return name or "attachment"


def _filename(value: Any, param: str) -> str:
    """A safe base name that every reader shows as given: one that looks like an encoded word is refused."""
    given = text(value, param)
    name = safe_filename(given)
    if _ENCODED_WORD.search(given) or _ENCODED_WORD.search(name):
        # Refused rather than encoded: readers decode words even in RFC 2231 names.
        check_header_text(given, param)  # names a control character hidden in a word first
        raise InvalidParams(
            f"Parameter {param!r} looks like an RFC 2047 encoded word ('=?charset?q?...?='); give the name as plain text",
            param=param,
        )
    return name


def _decode(data: Any, param: str, limit: int) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > limit:
            raise TooLarge(f"Parameter {param!r} is larger than {limit} bytes", param=param)
        return raw
    if not isinstance(data, str):
        raise InvalidParams(f"Parameter {param!r} must be a base64 string", param=param)
    # Checked on the encoded length, before decoding anything.
    if len(data) // 4 * 3 > limit + 2:
        raise TooLarge(f"Parameter {param!r} is larger than {limit} bytes", param=param)
    encoded = data.encode("ascii", "replace")
    if len(encoded) % 4 or not _BASE64.fullmatch(encoded):
        raise InvalidParams(
            f"Parameter {param!r} is not strict base64 (no line breaks, spaces or other characters)", param=param
        )
    try:
        raw = binascii.a2b_base64(encoded)
    except binascii.Error as exc:
        raise InvalidParams(f"Parameter {param!r} is not valid base64: {exc}", param=param) from None
    if len(raw) > limit:
        raise TooLarge(f"Parameter {param!r} is larger than {limit} bytes", param=param)
    return raw


def parse_attachments(value: Any, *, max_attachment_bytes: int, max_total_bytes: int) -> tuple[Attachment, ...]:
    """``attachments`` param -> attachments, refusing anything doubtful with a 400/413."""
    out: list[Attachment] = []
    total = 0
    cids: set[str] = set()
    for i, item in enumerate(items(value, "attachments")):
        where = f"attachments[{i}]"
        refuse_unknown(mapping(item, where, REQUIRED), _KEYS, where=where)
        filename = _filename(item.get("filename"), f"{where}.filename")
        content_type = item.get("fileType")
        if content_type is None:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type.strip().lower()):
            raise InvalidParams(f"Parameter '{where}.fileType' is not a content type like 'application/pdf'", param=f"{where}.fileType")
        inline, cid = boolean(item.get("inline"), f"{where}.inline", None, strings=False), item.get("cid")
        if cid is not None:
            if not isinstance(cid, str) or not _CID.fullmatch(cid):
                raise InvalidParams(f"Parameter '{where}.cid' must be a plain content id (letters, digits, .@-_)", param=f"{where}.cid")
            if cid in cids:
                raise InvalidParams(f"Parameter '{where}.cid' repeats {cid!r}", param=f"{where}.cid")
            cids.add(cid)
        if inline and cid is None:
            raise InvalidParams(f"Parameter '{where}.cid' is required for an inline attachment", param=f"{where}.cid")
        if inline is False:
            cid = None
        if "data" not in item:
            raise InvalidParams(f"Parameter '{where}.data' is missing", param=f"{where}.data")
        data = _decode(item["data"], f"{where}.data", max_attachment_bytes)
        total += len(data)
        if total > max_total_bytes:
            raise TooLarge(f"Attachments together are larger than {max_total_bytes} bytes", param=f"{where}.data")
        out.append(Attachment(filename, content_type.strip().lower(), data, cid))
    return tuple(out)
