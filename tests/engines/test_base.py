"""What every engine shares: here, render errors in plain words."""

from __future__ import annotations

import pytest

from emailactions.engines.handlebars import HandlebarsEngine
from emailactions.engines.jinja import JinjaEngine
from emailactions.errors import RenderError

ENGINES = {"handlebars": (HandlebarsEngine, "{{formatNumber object.n}}"), "jinja2": (JinjaEngine, "{{ object.n | format_number }}")}


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("number, says", [("1e999999", "out of range"), (10**5000, "too many digits")], ids=["huge", "long"])
def test_a_number_a_formatter_cannot_take_is_a_plain_message(engine, number, says):
    cls, source = ENGINES[engine]
    with pytest.raises(RenderError) as info:
        cls().render(source, {"object": {"n": number}}, html=False, part="text", locale="en")
    message = info.value.message
    assert says in message and "<class" not in message and "sys." not in message
