"""The ``sendTemplate`` and ``preview`` requests, before the template is read.

Envelope params (recipients, headers, attachments) follow ``send``'s rules;
``to`` items may also carry their own ``object`` and ``locale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from emailactions.errors import InvalidParams
from emailactions.locales.tags import normalize
from emailactions.params.addresses import Address, parse_address, parse_address_list
from emailactions.params.attachments import Attachment, parse_attachments
from emailactions.params.fields import mapping, pick, text
from emailactions.params.send import Limits, Resolver, address_params, extra_headers, idempotency_key


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
    "idempotencyKey": ("idempotencyKey",),
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
    #: ``idempotencyKey``: a retried submit with it stores no second message.
    idempotency_key: str | None = None


def _template_common(picked: Mapping[str, Any]) -> dict[str, Any]:
    locale = text(picked.get("_locale"), "_locale") or None
    return {
        "data": mapping(picked.get("object"), "object", {}),
        "locale": normalize(locale, "_locale") if locale else None,
        "sender": parse_address(picked["from"], "from") if picked.get("from") else None,
    }


def personal_recipients(value: Any) -> tuple[list[Address], dict[str, tuple[Mapping[str, Any] | None, str | None]]]:
    """``to`` for sendTemplate: items may carry their own ``object`` and ``locale``."""
    if not isinstance(value, (list, tuple)):
        return parse_address_list(value, "to"), {}
    addresses: list[Address] = []
    personal: dict[str, tuple[Mapping[str, Any] | None, str | None]] = {}
    for i, item in enumerate(value):
        if isinstance(item, Mapping) and ("object" in item or "locale" in item):
            data = mapping(item.get("object"), f"to[{i}].object")
            locale = text(item.get("locale"), f"to[{i}].locale", None)
            if locale is not None:
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
    name = text(picked.get("templateName"), "templateName")
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
        idempotency_key=idempotency_key(picked.get("idempotencyKey"), separately),
        **_template_common(picked),
    )


def parse_preview(params: Mapping[str, Any]) -> TemplateRequest:
    """Validate ``preview`` params: exactly one of ``templateName`` and ``template``."""
    picked = pick(params, PREVIEW_PARAMS)
    name = text(picked.get("templateName"), "templateName") or None
    inline = picked.get("template")
    if (name is None) == (inline is None):
        raise InvalidParams("Give 'templateName' or an inline 'template', not both or neither", param="templateName")
    inline = mapping(inline, "template")
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
