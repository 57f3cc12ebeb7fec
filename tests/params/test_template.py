"""``sendTemplate`` and ``preview`` params: a typed request, or a 400 naming the param."""

from __future__ import annotations

import pytest

from emailactions import InvalidParams
from emailactions.params.addresses import parse_address
from emailactions.params.send import Limits
from emailactions.params.template import parse_preview, parse_send_template, template_sender


def refused(parse, params, **kwargs) -> InvalidParams:
    with pytest.raises(InvalidParams) as info:
        parse(params, **kwargs)
    return info.value


def test_send_template_request():
    request = parse_send_template({"templateName": "welcome", "_to": "a@example.com", "object": {"n": 1}, "_locale": "fr-ca"})
    assert request.template_name == "welcome" and [a.addr for a in request.to] == ["a@example.com"]
    assert request.data == {"n": 1} and request.locale == "fr_CA" and request.sender is None and not request.separately


def test_recipients_with_their_own_object_and_locale_go_separately():
    request = parse_send_template({"templateName": "w", "to": [{"address": "a@example.com", "object": {"n": 1}, "locale": "de"},
                                                              "b@example.com"]})
    assert request.separately and request.personal == {request.to[0].key: ({"n": 1}, "de")}


@pytest.mark.parametrize(
    "params, param",
    [
        ({"to": "a@example.com"}, "templateName"),
        ({"templateName": 3, "to": "a@example.com"}, "templateName"),
        ({"templateName": "w", "to": "a@example.com", "object": []}, "object"),
        ({"templateName": "w", "to": [{"address": "a@example.com", "object": 1}]}, "to[0].object"),
        ({"templateName": "w", "to": ["b@example.com", {"address": "a@example.com", "locale": 5}]}, "to[1].locale"),
        ({"templateName": "w", "to": [{"address": "a@example.com", "locale": "de"}], "sendSeparately": False}, "sendSeparately"),
        ({"templateName": "w", "to": "a@example.com", "sendSeparately": "maybe"}, "sendSeparately"),
        ({"templateName": "w", "to": "a@example.com", "headers": []}, "headers"),
        ({"templateName": "w", "to": "a@example.com", "templateNme": "x"}, "templateNme"),
    ],
)
def test_send_template_refusals_name_the_param(params, param):
    assert refused(parse_send_template, params).param == param


def test_send_template_applies_the_limits():
    err = refused(parse_send_template, {"templateName": "w", "to": "a@example.com, b@example.com"}, limits=Limits(max_recipients=1))
    assert err.param == "to"


def test_preview_takes_one_template():
    assert parse_preview({"templateName": "w"}).template_name == "w"
    assert parse_preview({"template": {"defaultSubject": "s"}}).template == {"defaultSubject": "s"}
    assert refused(parse_preview, {}).param == "templateName"
    assert refused(parse_preview, {"templateName": "w", "template": {}}).param == "templateName"
    assert refused(parse_preview, {"template": "inline"}).message == "Parameter 'template' must be an object"
    assert refused(parse_preview, {"templateName": "w", "to": "a@example.com"}).param == "to"  # preview sends nothing


def test_template_sender_precedence():
    own = parse_address('"Me" <me@example.com>', "from")
    assert template_sender(own, "t@example.com", "c@example.com", "Team") == own
    sender = template_sender(None, "t@example.com", "c@example.com", "Team")
    assert (sender.display, sender.addr) == ("Team", "t@example.com")
    assert template_sender(None, "", "c@example.com", None).addr == "c@example.com"
    with pytest.raises(InvalidParams) as info:
        template_sender(None, "", None, None)
    assert info.value.param == "from"
