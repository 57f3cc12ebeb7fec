"""Incoming JSON: one depth and size limit, one error, at every door."""

from __future__ import annotations

import pytest

from emailactions import InvalidParams, TooLarge
from emailactions.params.incoming import MAX_DEPTH, check_depth, load_json


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deep_json_is_a_400_naming_the_param_never_a_recursion_error():
    for text in (nested(MAX_DEPTH + 1), nested(100_000), '{"a": ' * 5000 + "1" + "}" * 5000):
        with pytest.raises(InvalidParams) as info:
            load_json(text, "Option --params", "params")
        assert info.value.param == "params" and "nests too deeply" in info.value.message


def test_json_up_to_the_limit_is_read():
    value = load_json(nested(MAX_DEPTH), "Option --params", "params")
    for _ in range(MAX_DEPTH - 1):
        [value] = value
    assert value == []


def test_size_nan_and_bad_utf8_are_refused_alike():
    with pytest.raises(TooLarge):
        load_json("[1, 2, 3]", "The request body", "body", max_bytes=4)
    for text in ('{"a": NaN}', b"\xff\xfe", "{"):
        with pytest.raises(InvalidParams) as info:
            load_json(text, "The request body", "body")
        assert info.value.param == "body"


def test_python_values_are_walked_without_recursion():
    value: list = []
    for _ in range(50_000):
        value = [value]
    with pytest.raises(InvalidParams):
        check_depth({"object": value}, "openidm.action params", "params")
    check_depth({"object": {"a": [{"b": (1, 2)}]}}, "openidm.action params", "params")
