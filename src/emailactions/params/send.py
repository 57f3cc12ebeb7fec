"""The ``send`` request: IDM-style params into one validated :class:`SendRequest`.

Also the envelope rules ``sendTemplate`` shares (recipients, sender, extra
headers, size limits). Only ``params/`` knows IDM's parameter names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from emailactions.config.model import Limits
from emailactions.errors import InvalidParams, TooLarge
from emailactions.params.addresses import Address, check_header_text, parse_address, parse_address_list
from emailactions.params.attachments import Attachment, parse_attachments
from emailactions.params.fields import boolean, mapping, pick, text


@dataclass(frozen=True, slots=True)
class Body:
    """One alternative rendering of the content: ``plain``, ``html`` or ``xml``."""

    subtype: str
    content: str


@dataclass(frozen=True)
class SendRequest:
    """Everything needed to compose one message; no IDM names beyond here."""

    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    bodies: tuple[Body, ...] = (Body("plain", ""),)
    locale: str | None = None
    reply_to: tuple[Address, ...] = ()
    #: Extra headers from :data:`EXTRA_HEADERS`, as (canonical name, value).
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: One message per ``to`` recipient (each sees only their own address).
    separately: bool = False
    #: ``idempotencyKey``: a retried submit with it stores no second message.
    idempotency_key: str | None = None

    @property
    def recipients(self) -> tuple[Address, ...]:
        """Envelope recipients: To, Cc and Bcc in that order."""
        return self.to + self.cc + self.bcc


#: IDM's ``type`` values and the body subtype each one means.
BODY_TYPES = {"text/plain": "plain", "text/html": "html", "text/xml": "xml"}

#: Canonical name -> accepted spellings (IDM reads ``_``-prefixed aliases too).
SEND_PARAMS = {
    "from": ("from", "_from"),
    "to": ("to", "_to"),
    "cc": ("cc", "_cc"),
    "bcc": ("bcc", "_bcc"),
    "subject": ("subject", "_subject"),
    "body": ("body", "_body"),
    "type": ("type", "_type"),
    "_locale": ("_locale",),
    # Beyond IDM: richer bodies, attachments and bulk sending.
    "text": ("text",),
    "html": ("html",),
    "fromName": ("fromName",),
    "replyTo": ("replyTo",),
    "headers": ("headers",),
    "attachments": ("attachments",),
    "sendSeparately": ("sendSeparately",),
    "destination": ("destination",),
    "idempotencyKey": ("idempotencyKey",),
}

#: Extra headers a caller may set; everything else is ours to write.
EXTRA_HEADERS = {
    name.lower(): name
    for name in (
        "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "List-Help", "List-Archive",
        "Precedence", "Auto-Submitted", "X-Auto-Response-Suppress", "Importance", "Priority",
        "X-Priority", "Sensitivity", "Organization", "Keywords", "Comments", "In-Reply-To", "References",
    )
}  # fmt: skip

#: Headers that hold message ids only (RFC 5322 3.6.4).
MSG_ID_HEADERS = frozenset({"In-Reply-To", "References"})
# An RFC 5322 msg-id: "<" left "@" right ">", printable ASCII without white space or brackets.
_MSG_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")
_MSG_ID_LIST = re.compile(rf"\s*(?:{_MSG_ID.pattern}\s*)+")

Resolver = Callable[[str], "list[Address]"]


def dedupe(*fields: list[Address]) -> list[list[Address]]:
    """Each address once, in the first field it appears in (To, then Cc, then Bcc)."""
    seen: set[str] = set()
    out = []
    for addresses in fields:
        kept = []
        for address in addresses:
            if address.key not in seen:
                seen.add(address.key)
                kept.append(address)
        out.append(kept)
    return out


def check_subject(subject: str, limits: Limits, param: str = "subject") -> str:
    """Subject length and header-safety checks."""
    if len(subject) > limits.max_subject_chars:
        raise InvalidParams(
            f"Parameter {param!r} is longer than {limits.max_subject_chars} characters",
            param=param,
        )
    return check_header_text(subject, param)


def check_body(content: str, limits: Limits, param: str = "body") -> str:
    """Body size and encodability checks, before anything is encoded."""
    # len() is a cheap lower bound; only encode when it could be over.
    if len(content) * 4 > limits.max_body_bytes and len(content.encode("utf-8", "surrogatepass")) > limits.max_body_bytes:
        raise TooLarge(
            f"Parameter {param!r} is larger than {limits.max_body_bytes} bytes", param=param
        )
    if not content.isascii():
        try:
            # Strict UTF-8 refuses exactly the lone surrogates, in C: ~7x faster than a regex scan.
            content.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidParams(f"Parameter {param!r} contains a lone surrogate (not valid Unicode text)", param=param) from None
    return content


def bodies(picked: Mapping[str, Any], limits: Limits) -> tuple[Body, ...]:
    """IDM's ``body`` + ``type``, or ``text`` and/or ``html`` (multipart/alternative)."""
    if ("text" in picked or "html" in picked) and ("body" in picked or "type" in picked):
        raise InvalidParams("Give 'body' (with 'type') or 'text'/'html', not both", param="body")
    if "text" in picked or "html" in picked:
        return tuple(
            Body(subtype, check_body(text(picked.get(name), name), limits, name))
            for name, subtype in (("text", "plain"), ("html", "html"))
            if name in picked
        )
    mime_type = text(picked.get("type"), "type", "text/plain")
    subtype = BODY_TYPES.get(mime_type.strip().lower())
    if subtype is None:
        shown = mime_type if len(mime_type) <= 100 else mime_type[:100] + "..."
        raise InvalidParams(f"Email type: {shown} is not handled", param="type")
    return (Body(subtype, check_body(text(picked.get("body"), "body"), limits)),)


def extra_headers(value: Any) -> tuple[tuple[str, str], ...]:
    """``headers``: an object of allow-listed names to single-line values."""
    out = []
    for name, given in mapping(value, "headers", {}).items():
        canonical = EXTRA_HEADERS.get(str(name).lower())
        if canonical is None:
            raise InvalidParams(
                f"Header {str(name)[:80]!r} may not be set; allowed: {', '.join(sorted(EXTRA_HEADERS.values()))}",
                param=f"headers.{str(name)[:80]}",
            )
        param = f"headers.{canonical}"
        if given is None:
            continue  # null means not given, as for every param
        header = check_header_text(text(given, param), param)
        if len(header) > 900:
            raise InvalidParams(f"Parameter {param!r} is longer than 900 characters", param=param)
        if canonical in MSG_ID_HEADERS:
            header = msg_ids(header, param)
        out.append((canonical, header))
    return tuple(out)


def msg_ids(value: str, param: str) -> str:
    """A list of message ids, one space apart (however they were spaced), or a 400."""
    if not _MSG_ID_LIST.fullmatch(value):
        raise InvalidParams(f"Parameter {param!r} must be message ids like '<id@example.com>', separated by spaces", param=param)
    return " ".join(_MSG_ID.findall(value))


def recipients(
    to: list[Address], cc: list[Address], bcc: list[Address], limits: Limits, separately: bool = False
) -> tuple[list[Address], list[Address], list[Address]]:
    """De-duplicate and count To, Cc and Bcc (per message when sent separately)."""
    to, cc, bcc = dedupe(to, cc, bcc)
    if not (to or cc or bcc):
        raise InvalidParams("Parameter 'to' is missing: no recipient given", param="to")
    if separately:
        # Each message has exactly one recipient. A Bcc on each would mail its
        # address once per recipient (and run into its rate limit at once).
        for name, field_ in (("cc", cc), ("bcc", bcc)):
            if field_:
                raise InvalidParams(f"Parameter {name!r} cannot be used with sendSeparately (each message has one recipient)", param=name)
        if not to:
            raise InvalidParams("Parameter 'to' is missing: sendSeparately needs recipients", param="to")
        if len(to) > limits.max_bulk_recipients:
            raise InvalidParams(f"Too many recipients: {len(to)} (limit {limits.max_bulk_recipients})", param="to", count=len(to))
        count = 1
    else:
        count = len(to) + len(cc) + len(bcc)
    if count > limits.max_recipients:
        raise InvalidParams(f"Too many recipients: {count} (limit {limits.max_recipients})", param="to", count=count)
    return to, cc, bcc


def address_params(
    picked: Mapping[str, Any], limits: Limits, resolve: Resolver | None
) -> tuple[list[Address], list[Address], list[Address], bool]:
    """To/Cc/Bcc from params, a ``destination`` group added to To; and whether to send separately."""
    to, cc, bcc = (parse_address_list(picked.get(name), name) for name in ("to", "cc", "bcc"))
    if "destination" in picked:
        if resolve is None:
            raise InvalidParams("Parameter 'destination' is not supported here", param="destination")
        to = resolve(text(picked.get("destination"), "destination")) + to
    # A group goes out one message per member unless the caller says otherwise.
    separately = boolean(picked.get("sendSeparately"), "sendSeparately", "destination" in picked)
    return (*recipients(to, cc, bcc, limits, separately), separately)


def sender(picked: Mapping[str, Any], default_from: str | None) -> Address:
    """Request ``from``, else the configured default; ``fromName`` sets its display name."""
    value = picked.get("from") or default_from
    if not value:
        raise InvalidParams("From: email address is absent", param="from")
    if not isinstance(value, (str, dict)):
        raise InvalidParams("Parameter 'from' must be a string", param="from")
    address = parse_address(value, "from")
    if "fromName" in picked:
        # The object form runs every display-name check (controls, bidi, length).
        address = parse_address({"address": address.addr, "display": text(picked.get("fromName"), "fromName")}, "fromName")
    return address


#: Long enough for a UUID, a hash or a request id with a prefix.
MAX_IDEMPOTENCY_KEY = 255
# Printable ASCII without spaces: a key travels in logs and HTTP headers.
_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,%d}" % MAX_IDEMPOTENCY_KEY)


def idempotency_key(value: Any, separately: bool) -> str | None:
    """``idempotencyKey``: 1-255 printable ASCII characters; one key names one message."""
    if value is None:
        return None
    if not isinstance(value, str) or not _IDEMPOTENCY_KEY.fullmatch(value):
        raise InvalidParams(
            f"Parameter 'idempotencyKey' must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces",
            param="idempotencyKey",
        )
    if separately:
        raise InvalidParams("Parameter 'idempotencyKey' names one message: not with sendSeparately or destination", param="idempotencyKey")
    return value


def parse_send(
    params: Mapping[str, Any],
    *,
    default_from: str | None = None,
    limits: Limits = Limits(),
    resolve: Resolver | None = None,
) -> SendRequest:
    """Validate ``send`` params into a :class:`SendRequest`, or raise a 400.

    ``resolve`` turns a ``destination`` group name into addresses.
    """
    picked = pick(params, SEND_PARAMS)
    body_parts = bodies(picked, limits)
    subject = check_subject(text(picked.get("subject"), "subject"), limits)
    locale = text(picked.get("_locale"), "_locale") or None
    to, cc, bcc, separately = address_params(picked, limits, resolve)
    return SendRequest(
        sender=sender(picked, default_from),
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=subject,
        bodies=body_parts,
        locale=locale,
        reply_to=tuple(parse_address_list(picked.get("replyTo"), "replyTo")),
        headers=extra_headers(picked.get("headers")),
        attachments=parse_attachments(
            picked.get("attachments"), max_attachment_bytes=limits.max_attachment_bytes, max_total_bytes=limits.max_message_bytes
        ),
        separately=separately,
        idempotency_key=idempotency_key(picked.get("idempotencyKey"), separately),
    )
