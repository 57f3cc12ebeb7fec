"""The template model: safe ids, frozen values."""

from __future__ import annotations

import pytest

from emailactions.errors import InvalidParams
from emailactions.templates.model import Template, check_id


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "a\\b", "..", ".hidden", "a..b", "x.", "", "a b", "é", "a" * 129, "con\x00"])
def test_template_names_cannot_play_path_tricks(bad):
    with pytest.raises(InvalidParams):
        check_id(bad)


def test_template_is_a_frozen_value():
    t = Template("a", "a")
    with pytest.raises(AttributeError):
        t.name = "b"  # type: ignore[misc]
