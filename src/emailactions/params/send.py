"""Turn IDM-style action params into one validated, typed request.

This is the only module that knows IDM's parameter names and aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from emailactions.params.addresses import SURROGATES, Address, check_header_text, parse_address, parse_address_list
from emailactions.params.attachments import Attachment, parse_attachments
from emailactions.errors import InvalidParams, TooLarge


@dataclass(frozen=True)
class Limits:
    """Size limits checked before anything is composed or sent."""

    #: Envelope recipients per message (RFC 5321 servers must take 100).
    max_recipients: int = 100
    #: Characters in a subject (one unfolded header line is 998 octets).
    max_subject_chars: int = 998
    #: UTF-8 bytes of one body.
    max_body_bytes: int = 10 * 1024 * 1024
    #: Decoded bytes of one attachment (a common mail-API default).
    max_attachment_bytes: int = 20 * 1024 * 1024
    #: Decoded bytes of all attachments of one message.
    max_message_bytes: int = 25 * 1024 * 1024
    #: Recipients of one ``sendSeparately`` / ``destination`` call.
    max_bulk_recipients: int = 100_000


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

Resolver = Callable[[str], "list[Address]"]


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


def bool_param(picked: Mapping[str, Any], name: str) -> bool:
    """A boolean param (``"true"``/``"false"`` accepted, as query strings send them)."""
    value = picked.get(name, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise InvalidParams(f"Parameter {name!r} must be a boolean", param=name)
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
    """Body size and encodability checks, before anything is encoded."""
    # len() is a cheap lower bound; only encode when it could be over.
    if len(content) * 4 > limits.max_body_bytes and len(content.encode("utf-8", "surrogatepass")) > limits.max_body_bytes:
        raise TooLarge(
            f"Parameter {param!r} is larger than {limits.max_body_bytes} bytes", param=param
        )
    if not content.isascii() and SURROGATES.search(content):
        raise InvalidParams(f"Parameter {param!r} contains a lone surrogate (not valid Unicode text)", param=param)
    return content


def bodies(picked: Mapping[str, Any], limits: Limits) -> tuple[Body, ...]:
    """IDM's ``body`` + ``type``, or ``text`` and/or ``html`` (multipart/alternative)."""
    if ("text" in picked or "html" in picked) and ("body" in picked or "type" in picked):
        raise InvalidParams("Give 'body' (with 'type') or 'text'/'html', not both", param="body")
    if "text" in picked or "html" in picked:
        return tuple(
            Body(subtype, check_body(text_param(picked, name), limits, name))
            for name, subtype in (("text", "plain"), ("html", "html"))
            if name in picked
        )
    mime_type = text_param(picked, "type", "text/plain")
    subtype = BODY_TYPES.get(mime_type.strip().lower())
    if subtype is None:
        shown = mime_type if len(mime_type) <= 100 else mime_type[:100] + "..."
        raise InvalidParams(f"Email type: {shown} is not handled", param="type")
    return (Body(subtype, check_body(text_param(picked, "body"), limits)),)


def extra_headers(value: Any) -> tuple[tuple[str, str], ...]:
    """``headers``: an object of allow-listed names to single-line values."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise InvalidParams("Parameter 'headers' must be an object", param="headers")
    out = []
    for name, text in value.items():
        canonical = EXTRA_HEADERS.get(str(name).lower())
        if canonical is None:
            raise InvalidParams(
                f"Header {str(name)[:80]!r} may not be set; allowed: {', '.join(sorted(EXTRA_HEADERS.values()))}",
                param=f"headers.{str(name)[:80]}",
            )
        param = f"headers.{canonical}"
        if not isinstance(text, str):
            raise InvalidParams(f"Parameter {param!r} must be a string", param=param)
        check_header_text(text, param)
        if len(text) > 900:
            raise InvalidParams(f"Parameter {param!r} is longer than 900 characters", param=param)
        out.append((canonical, text))
    return tuple(out)


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
        to = resolve(text_param(picked, "destination")) + to
    # A group goes out one message per member unless the caller says otherwise.
    separately = bool_param(picked, "sendSeparately") if "sendSeparately" in picked else "destination" in picked
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
        address = parse_address({"address": address.addr, "display": text_param(picked, "fromName")}, "fromName")
    return address


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
    subject = check_subject(text_param(picked, "subject"), limits)
    locale = text_param(picked, "_locale") or None
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
    # Beyond IDM, as for send.
    "replyTo": ("replyTo",),
    "headers": ("headers",),
    "attachments": ("attachments",),
    "sendSeparately": ("sendSeparately",),
    "destination": ("destination",),
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
    reply_to: tuple[Address, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: One message per ``to`` recipient, each rendered for them.
    separately: bool = False
    #: Recipient key -> (their own ``object`` fields, their own locale).
    personal: Mapping[str, tuple[Mapping[str, Any] | None, str | None]] = field(default_factory=dict)


def _template_common(picked: Mapping[str, Any]) -> dict[str, Any]:
    from emailactions.locales.tags import normalize

    data = picked.get("object", {})
    if not isinstance(data, Mapping):
        raise InvalidParams("Parameter 'object' must be an object", param="object")
    locale = text_param(picked, "_locale") or None
    return {
        "data": data,
        "locale": normalize(locale, "_locale") if locale else None,
        "sender": parse_address(picked["from"], "from") if picked.get("from") else None,
    }


def personal_recipients(value: Any) -> tuple[list[Address], dict[str, tuple[Mapping[str, Any] | None, str | None]]]:
    """``to`` for sendTemplate: items may carry their own ``object`` and ``locale``."""
    from emailactions.locales.tags import normalize

    if not isinstance(value, (list, tuple)):
        return parse_address_list(value, "to"), {}
    addresses: list[Address] = []
    personal: dict[str, tuple[Mapping[str, Any] | None, str | None]] = {}
    for i, item in enumerate(value):
        if isinstance(item, Mapping) and ("object" in item or "locale" in item):
            data, locale = item.get("object"), item.get("locale")
            if data is not None and not isinstance(data, Mapping):
                raise InvalidParams(f"Parameter 'to[{i}].object' must be an object", param=f"to[{i}].object")
            if locale is not None:
                if not isinstance(locale, str):
                    raise InvalidParams(f"Parameter 'to[{i}].locale' must be a string", param=f"to[{i}].locale")
                locale = normalize(locale, f"to[{i}].locale")
            address = parse_address({k: v for k, v in item.items() if k not in ("object", "locale")}, "to")
            personal[address.key] = (data, locale)
        else:
            address = parse_address(item, "to")
        addresses.append(address)
    return addresses, personal


def parse_send_template(
    params: Mapping[str, Any], *, limits: Limits = Limits(), resolve: Resolver | None = None
) -> TemplateRequest:
    """Validate ``sendTemplate`` params, or raise a 400 naming the param."""
    picked = pick(params, SEND_TEMPLATE_PARAMS)
    name = text_param(picked, "templateName")
    if not name:
        raise InvalidParams("Parameter 'templateName' is missing", param="templateName")
    to, personal = personal_recipients(picked.get("to"))
    if personal and picked.get("sendSeparately") is False:
        raise InvalidParams("Recipients with their own 'object' or 'locale' need sendSeparately", param="sendSeparately")
    if personal:
        picked = {**picked, "sendSeparately": True}
    to, cc, bcc, separately = address_params({**picked, "to": to}, limits, resolve)
    return TemplateRequest(
        template_name=name,
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        reply_to=tuple(parse_address_list(picked.get("replyTo"), "replyTo")),
        headers=extra_headers(picked.get("headers")),
        attachments=parse_attachments(
            picked.get("attachments"), max_attachment_bytes=limits.max_attachment_bytes, max_total_bytes=limits.max_message_bytes
        ),
        separately=separately,
        personal=personal,
        **_template_common(picked),
    )


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
