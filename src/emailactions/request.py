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


#: ``sendTemplate`` params; IDM's ``_``-prefixed spellings as for ``send``.
SEND_TEMPLATE_PARAMS = {
    "templateName": ("templateName",),
    "from": ("from", "_from"),
    "to": ("to", "_to"),
    "cc": ("cc", "_cc"),
    "bcc": ("bcc", "_bcc"),
    "object": ("object",),
    "_locale": ("_locale",),
}

#: ``preview`` params: a stored template by name, or one given inline.
PREVIEW_PARAMS = {
    "templateName": ("templateName",),
    "template": ("template",),
    "from": ("from", "_from"),
    "object": ("object",),
    "_locale": ("_locale",),
}


@dataclass(frozen=True)
class TemplateRequest:
    """A validated ``sendTemplate`` (or ``preview``) request, before the template is read."""

    template_name: str | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    #: The request's own ``from``, which wins over the template's and the config's.
    sender: Address | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    locale: str | None = None
    #: An inline template (preview only).
    template: Mapping[str, Any] | None = None


def _template_common(picked: Mapping[str, Any]) -> dict[str, Any]:
    from .locales import normalize

    data = picked.get("object", {})
    if not isinstance(data, Mapping):
        raise InvalidParams("Parameter 'object' must be an object", param="object")
    locale = text_param(picked, "_locale") or None
    return {
        "data": data,
        "locale": normalize(locale, "_locale") if locale else None,
        "sender": parse_address(picked["from"], "from") if picked.get("from") else None,
    }


def parse_send_template(params: Mapping[str, Any], *, limits: Limits = Limits()) -> TemplateRequest:
    """Validate ``sendTemplate`` params, or raise a 400 naming the param."""
    picked = pick(params, SEND_TEMPLATE_PARAMS)
    name = text_param(picked, "templateName")
    if not name:
        raise InvalidParams("Parameter 'templateName' is missing", param="templateName")
    to, cc, bcc = recipients(picked, limits)
    return TemplateRequest(template_name=name, to=tuple(to), cc=tuple(cc), bcc=tuple(bcc), **_template_common(picked))


def parse_preview(params: Mapping[str, Any]) -> TemplateRequest:
    """Validate ``preview`` params: exactly one of ``templateName`` and ``template``."""
    picked = pick(params, PREVIEW_PARAMS)
    name = text_param(picked, "templateName") or None
    inline = picked.get("template")
    if (name is None) == (inline is None):
        raise InvalidParams("Give 'templateName' or an inline 'template', not both or neither", param="templateName")
    if inline is not None and not isinstance(inline, Mapping):
        raise InvalidParams("Parameter 'template' must be an object", param="template")
    return TemplateRequest(template_name=name, template=inline, **_template_common(picked))


def template_sender(request_sender: Address | None, template_from: str, config_from: str | None, from_name: str | None) -> Address:
    """IDM's precedence: request ``from`` > template ``from`` (non-empty) > config ``from``.

    A template's localized from-name names the sender, unless the request's
    own ``from`` already carries a display name.
    """
    if request_sender is not None:
        address = request_sender
    else:
        value = template_from or config_from
        if not value:
            raise InvalidParams("From: email address is absent", param="from")
        address = parse_address(value, "from")
    if from_name and not (request_sender is not None and request_sender.display):
        # The object form runs the display-name checks (controls, bidi).
        address = parse_address({"address": address.addr, "display": from_name}, "from")
    return address
