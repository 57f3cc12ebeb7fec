"""Turn IDM-style action params into one validated, typed request.

This is the only module that knows IDM's parameter names and aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .addresses import Address, check_header_text, parse_address, parse_address_list
from .errors import InvalidParams, TooLarge


@dataclass(frozen=True)
class Limits:
    """Size limits checked before anything is composed or sent."""

    #: Envelope recipients per message (RFC 5321 servers must take 100).
    max_recipients: int = 100
    #: Characters in a subject (one unfolded header line is 998 octets).
    max_subject_chars: int = 998
    #: UTF-8 bytes of one body.
    max_body_bytes: int = 10 * 1024 * 1024


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
    extra: Mapping[str, Any] = field(default_factory=dict)

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
}


def pick(params: Mapping[str, Any], spec: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Map params onto canonical names; refuse unknown names and alias clashes."""
    if not isinstance(params, Mapping):
        raise InvalidParams("Action params must be an object", param="params")
    known = {alias: name for name, aliases in spec.items() for alias in aliases}
    unknown = sorted(str(k) for k in params if k not in known)
    if unknown:
        raise InvalidParams(
            f"Unknown parameter(s): {', '.join(unknown)}", param=unknown[0], unknown=unknown
        )
    picked: dict[str, Any] = {}
    for key, value in params.items():
        name = known[key]
        if value is None:
            continue
        if name in picked and picked[name] != value:
            raise InvalidParams(
                f"Parameter {name!r} is given twice with different values", param=name
            )
        picked[name] = value
    return picked


def text_param(picked: Mapping[str, Any], name: str, default: str = "") -> str:
    """A string param; anything else is a 400 naming it."""
    value = picked.get(name, default)
    if not isinstance(value, str):
        raise InvalidParams(f"Parameter {name!r} must be a string", param=name)
    return value


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
    """Body size check, before anything is encoded."""
    # len() is a cheap lower bound; only encode when it could be over.
    if len(content) * 4 > limits.max_body_bytes and len(content.encode("utf-8", "surrogatepass")) > limits.max_body_bytes:
        raise TooLarge(
            f"Parameter {param!r} is larger than {limits.max_body_bytes} bytes", param=param
        )
    return content


def recipients(picked: Mapping[str, Any], limits: Limits) -> tuple[list[Address], list[Address], list[Address]]:
    """Parse, de-duplicate and count To, Cc and Bcc."""
    to, cc, bcc = dedupe(*(parse_address_list(picked.get(name), name) for name in ("to", "cc", "bcc")))
    if not (to or cc or bcc):
        raise InvalidParams("Parameter 'to' is missing: no recipient given", param="to")
    count = len(to) + len(cc) + len(bcc)
    if count > limits.max_recipients:
        raise InvalidParams(
            f"Too many recipients: {count} (limit {limits.max_recipients})",
            param="to",
            count=count,
        )
    return to, cc, bcc


def sender(picked: Mapping[str, Any], default_from: str | None) -> Address:
    """Request ``from``, else the configured default; none at all is a 400."""
    value = picked.get("from") or default_from
    if not value:
        raise InvalidParams("From: email address is absent", param="from")
    if isinstance(value, dict) or isinstance(value, str):
        return parse_address(value, "from")
    raise InvalidParams("Parameter 'from' must be a string", param="from")


def parse_send(
    params: Mapping[str, Any], *, default_from: str | None = None, limits: Limits = Limits()
) -> SendRequest:
    """Validate ``send`` params into a :class:`SendRequest`, or raise a 400."""
    picked = pick(params, SEND_PARAMS)
    mime_type = text_param(picked, "type", "text/plain")
    subtype = BODY_TYPES.get(mime_type.strip().lower())
    if subtype is None:
        shown = mime_type if len(mime_type) <= 100 else mime_type[:100] + "..."
        raise InvalidParams(f"Email type: {shown} is not handled", param="type")
    subject = check_subject(text_param(picked, "subject"), limits)
    body = check_body(text_param(picked, "body"), limits)
    locale = text_param(picked, "_locale") or None
    to, cc, bcc = recipients(picked, limits)
    return SendRequest(
        sender=sender(picked, default_from),
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=subject,
        bodies=(Body(subtype, body),),
        locale=locale,
    )
