"""The contract every template engine meets, run once per engine.

Each engine's test module subclasses :class:`EngineContract`, names its
engine class and spells the shared snippets in its own syntax.
"""

from __future__ import annotations

import datetime as _dt
import time
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from emailactions.engines.base import RenderLimits, plain_data
from emailactions.errors import InvalidParams, RenderError

DATA = {
    "name": "Hilda <b>&",
    "flag": True,
    "list": ["a", "b", "c"],
    "people": [{"givenName": "Hilda"}, {"givenName": "Sam"}],
    "when": "2024-03-01",
    "amount": 1234.5,
    "long": "x" * 1000,
    "big": list(range(300)),
}

#: Small limits so that the bombs below fail in milliseconds.
TIGHT = RenderLimits(max_work=100_000, max_output_chars=20_000, max_source_chars=5_000, max_tags=200, max_nesting=10)


class EngineContract:
    """Subclasses set ``engine_cls`` and ``snippets`` (name -> source)."""

    engine_cls: ClassVar[type]
    snippets: ClassVar[dict[str, str]]

    @pytest.fixture
    def engine(self) -> Any:
        return self.engine_cls()

    @pytest.fixture
    def tight(self) -> Any:
        return self.engine_cls(TIGHT)

    def render(self, engine: Any, name_or_source: str, *, html: bool = True, locale: str = "en", data: Any = None) -> Any:
        source = self.snippets.get(name_or_source, name_or_source)
        plain, paths = plain_data(DATA if data is None else data)
        return engine.render(source, {"object": plain}, html=html, part="html" if html else "text", locale=locale, paths=paths)

    # -- values and escaping -------------------------------------------------

    def test_variable_is_escaped_in_html(self, engine):
        assert self.render(engine, "var").text == "Hello Hilda &lt;b&gt;&amp;"

    def test_variable_is_not_escaped_in_text(self, engine):
        assert self.render(engine, "var", html=False).text == "Hello Hilda <b>&"

    def test_raw_output_is_the_authors_choice(self, engine):
        assert self.render(engine, "raw").text == "Hilda <b>&"

    def test_missing_values_render_empty_and_are_reported(self, engine):
        rendered = self.render(engine, "missing")
        assert rendered.text == "[]"
        assert rendered.missing == ["object.nope"]

    def test_missing_inside_a_loop_names_the_item_path(self, engine):
        rendered = self.render(engine, "loop_missing")
        assert "object.people.0.sn" in rendered.missing and "object.people.1.sn" in rendered.missing

    def test_loop_and_conditional(self, engine):
        assert self.render(engine, "loop").text == "[a][b][c]"
        assert self.render(engine, "if").text == "yes"
        assert self.render(engine, "if", data={"flag": False}).text == "no"

    def test_nested_loop_reads_item_fields(self, engine):
        assert self.render(engine, "people").text == "Hilda,Sam,"

    # -- locale-aware formatting ------------------------------------------------

    @pytest.mark.parametrize("locale", ["en", "fr", "de_CH"])
    def test_formatting_follows_the_locale(self, engine, locale):
        # The expected text comes from Babel itself: CLDR changes separators between releases
        # (Babel 2.19 writes de_CH's grouping as ' where 2.17 wrote ’), and the engine's job is to
        # ask Babel with the resolved locale, not to pin one CLDR release.
        from babel.dates import format_date
        from babel.numbers import format_currency

        # Text parts: in HTML an apostrophe separator is escaped, which is the HTML test's business.
        date_text = self.render(engine, "date", locale=locale, html=False).text
        assert date_text == format_date(_dt.date(2024, 3, 1), "long", locale=locale)
        money_text = self.render(engine, "currency", locale=locale, html=False).text
        assert money_text == format_currency(Decimal("1234.5"), "EUR", locale=locale)

    def test_formatting_differs_between_locales(self, engine):
        # Stable across CLDR releases: English and French spell these differently.
        assert self.render(engine, "date", locale="en").text == "March 1, 2024"
        assert self.render(engine, "currency", locale="en").text == "€1,234.50"
        assert "mars" in self.render(engine, "date", locale="fr").text
        assert self.render(engine, "currency", locale="fr").text.endswith("€")

    def test_number_formatting(self, engine):
        assert self.render(engine, "number", locale="de").text == "1.234,50"

    def test_bad_value_for_a_formatter_is_a_render_error(self, engine):
        with pytest.raises(RenderError) as info:
            self.render(engine, "bad_date")
        assert info.value.code == 400 and info.value.part == "html"

    # -- compile once -------------------------------------------------------------

    def test_a_source_compiles_once(self, engine):
        source = self.snippets["var"] + " (cache test)"
        first = engine.compile(source, html=True)
        assert engine.compile(source, html=True) is first
        assert self.engine_cls().compile(source, html=True) is first  # shared by every host

    def test_syntax_error_is_a_render_error_naming_the_part(self, engine):
        with pytest.raises(RenderError) as info:
            engine.render(self.snippets["syntax_error"], {"object": {}}, html=False, part="subject", locale="en")
        assert info.value.part == "subject" and "compile" in info.value.message

    # -- refusals: no attributes, no Python objects ---------------------------------

    def test_python_attributes_are_not_data(self, engine):
        rendered = self.render(engine, "dunder")
        assert "class" not in rendered.text and "method" not in rendered.text and "0x" not in rendered.text

    def test_python_objects_are_refused_as_data(self):
        class Secret:
            password = "hunter2"

        with pytest.raises(InvalidParams) as info:
            plain_data({"user": Secret()})
        assert info.value.param == "object" and info.value.path == "object.user"

    def test_data_nested_too_deep_is_refused(self):
        deep: Any = "leaf"
        for _ in range(40):
            deep = {"a": deep}
        with pytest.raises(InvalidParams):
            plain_data(deep)

    def test_too_much_data_is_refused(self):
        with pytest.raises(InvalidParams):
            plain_data({"a": list(range(200_000))})

    # -- bounds: clear errors, never a hang or a RecursionError --------------------------

    def test_nested_loops_run_out_of_budget(self, tight):
        start = time.monotonic()
        with pytest.raises(RenderError) as info:
            self.render(tight, "loop_bomb")
        assert "work" in info.value.message
        assert time.monotonic() - start < 2

    def test_slow_render_hits_the_deadline(self):
        engine = self.engine_cls(RenderLimits(max_work=10**12, max_seconds=0.05))
        start = time.monotonic()
        with pytest.raises(RenderError) as info:
            self.render(engine, "loop_bomb")
        assert "longer than" in info.value.message
        assert time.monotonic() - start < 2

    def test_huge_output_is_refused(self, tight):
        with pytest.raises(RenderError) as info:
            self.render(tight, "output_bomb")
        assert info.value.part == "html"

    def test_huge_template_is_refused(self, tight):
        with pytest.raises(RenderError) as info:
            self.render(tight, "x" * 6_000)
        assert "longer than" in info.value.message

    def test_too_many_tags_are_refused(self, tight):
        with pytest.raises(RenderError) as info:
            self.render(tight, self.snippets["var"] * 201)
        assert "tags" in info.value.message

    @pytest.mark.parametrize("depth", [11, 60, 300])
    def test_deep_nesting_is_a_render_error_not_a_recursion_error(self, depth):
        engine = self.engine_cls(RenderLimits(max_nesting=10))
        with pytest.raises(RenderError) as info:
            self.render(engine, self.snippets["open_block"] * depth + "x" + self.snippets["close_block"] * depth)
        assert "nest" in info.value.message

    def test_nesting_within_the_limit_renders(self, tight):
        assert self.render(tight, self.snippets["open_block"] * 8 + "x" + self.snippets["close_block"] * 8).text == "x"
