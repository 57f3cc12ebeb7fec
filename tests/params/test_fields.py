"""The param coercion toolkit: each refusal is an ``InvalidParams`` (400) naming the param."""

from __future__ import annotations

import pytest

from emailactions import InvalidParams
from emailactions.params import fields

SPEC = {"to": ("to", "_to"), "subject": ("subject",)}


def refused(check, *args, **kwargs) -> InvalidParams:
    with pytest.raises(InvalidParams) as info:
        check(*args, **kwargs)
    assert info.value.code == 400
    return info.value


def test_pick_maps_idm_aliases_and_drops_nulls():
    assert fields.pick({"_to": "a@example.com", "subject": None}, SPEC) == {"to": "a@example.com"}
    assert fields.pick({"to": "a@example.com", "_to": "a@example.com"}, SPEC) == {"to": "a@example.com"}


def test_pick_refuses_an_alias_clash_naming_the_canonical_param():
    err = refused(fields.pick, {"to": "a@example.com", "_to": "b@example.com"}, SPEC)
    assert err.param == "to" and err.message == "Parameter 'to' is given twice with different values"


def test_pick_lists_every_unknown_param():
    err = refused(fields.pick, {"tO": 1, "attachment": [], "to": "x"}, SPEC)
    assert err.message == "Unknown parameter(s): attachment, tO"
    assert err.param == "attachment" and err.unknown == ["attachment", "tO"]


def test_pick_refuses_params_that_are_not_an_object():
    assert refused(fields.pick, ["to"], SPEC).param == "params"


def test_refuse_unknown_inside_an_item_prefixes_the_param():
    err = refused(fields.refuse_unknown, {"data": 1, "size": 2, "name": 3}, {"data"}, where="attachments[0]")
    assert err.message == "Unknown key(s) in attachments[0]: name, size"
    assert err.param == "attachments[0].name" and err.unknown == ["name", "size"]


def test_refuse_unknown_with_a_noun_names_only_the_first_cut_short():
    err = refused(fields.refuse_unknown, {"x" * 100: "1", "_action": "send"}, {"_action"}, noun="query parameter")
    assert err.param == "x" * 80 and err.message == f"Unknown query parameter {'x' * 80!r}"
    assert "unknown" not in err.detail
    fields.refuse_unknown({"_action": "send"}, {"_action"}, noun="query parameter")


def test_text():
    assert fields.text(None, "subject") == "" and fields.text(None, "subject", "dflt") == "dflt"
    err = refused(fields.text, 5, "subject")
    assert err.param == "subject" and err.message == "Parameter 'subject' must be a string"


@pytest.mark.parametrize("value, expected", [(True, True), ("false", False), (" TRUE ", True), (None, False)])
def test_boolean_accepts_query_string_words(value, expected):
    assert fields.boolean(value, "sendSeparately") is expected


def test_boolean_refusals():
    assert refused(fields.boolean, "maybe", "sendSeparately").message == "Parameter 'sendSeparately' must be a boolean"
    err = refused(fields.boolean, "true", "enabled", strings=False, must="true or false")
    assert err.param == "enabled" and err.message == "Parameter 'enabled' must be true or false"
    assert refused(fields.boolean, 1, "inline").param == "inline"


def test_integer_bounds_and_strings():
    assert fields.integer(" 25 ", "limit", minimum=1) == 25 and fields.integer(None, "limit", 50) == 50
    err = refused(fields.integer, "0", "limit", minimum=1)
    assert err.param == "limit" and err.message == "Parameter 'limit' must be an integer of at least 1"
    err = refused(fields.integer, "5000", "_pageSize", maximum=1000)
    assert err.message == "Parameter '_pageSize' must be an integer from 0 to 1000"
    assert refused(fields.integer, True, "offset").param == "offset"  # JSON's true is not 1
    assert refused(fields.integer, "9" * 40, "offset").param == "offset"
    assert refused(fields.integer, "٣", "offset").param == "offset"  # only ASCII digits
    assert refused(fields.integer, "12", "insertInstant", strings=False, must="milliseconds since the epoch").message == (
        "Parameter 'insertInstant' must be milliseconds since the epoch"
    )
    assert fields.integer(-3, "ids", minimum=None) == -3


def test_number():
    assert fields.number(2, "timeout") == 2.0 and fields.number(None, "timeout") is None
    err = refused(fields.number, -1, "olderThan", must="a number of seconds")
    assert err.param == "olderThan" and err.message == "Parameter 'olderThan' must be a number of seconds"
    assert refused(fields.number, False, "timeout").param == "timeout"


def test_mapping_and_items():
    assert fields.mapping(None, "object", {}) == {} and fields.mapping({"a": 1}, "object") == {"a": 1}
    assert refused(fields.mapping, [1], "to[2].object").message == "Parameter 'to[2].object' must be an object"
    assert fields.items(None, "attachments") == [] and fields.items(("a",), "attachments") == ["a"]
    assert fields.items("sent, failed", "state", split=",") == ["sent", "failed"]
    assert refused(fields.items, "x", "attachments").message == "Parameter 'attachments' must be a list"


def test_required_refuses_null_too():
    assert refused(fields.mapping, None, "attachments[1]", fields.REQUIRED).message == "Parameter 'attachments[1]' must be an object"
    assert refused(fields.integer, None, "ids", fields.REQUIRED, must="outbox ids (integers)").param == "ids"


def test_attachments_items_name_their_index(emailactions_host, emailactions_outbox):
    base = {"from": "a@example.com", "to": "b@example.com"}
    for attachments, param in [([None], "attachments[0]"), ([{"data": "", "nme": "x"}], "attachments[0].nme"),
                               ([{"data": "", "inline": "yes"}], "attachments[0].inline"), ({"a": 1}, "attachments")]:
        with pytest.raises(InvalidParams) as info:
            emailactions_host.action("external/email", "send", {**base, "attachments": attachments})
        assert info.value.param == param
    assert len(emailactions_outbox) == 0


def test_outbox_params_go_through_the_toolkit(emailactions_host):
    outbox = "external/email/outbox"
    for verb, params, param in [("list", {"limit": "0"}, "limit"), ("list", {"state": "lost"}, "state"),
                                ("show", {"id": "x"}, "id"), ("purge", {"ids": [None]}, "ids"),
                                ("purge", {"state": "sent", "olderThan": -1}, "olderThan"), ("drain", {"tmeout": 1}, "tmeout")]:
        with pytest.raises(InvalidParams) as info:
            emailactions_host.action(outbox, verb, params)
        assert info.value.param == param
    assert emailactions_host.action(outbox, "list", {"limit": "5", "state": "queued,failed"})["entries"] == []
