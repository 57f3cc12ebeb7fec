"""JinjaEngine: the shared contract, then the sandbox's gaps, each closed."""

from __future__ import annotations

import time

import pytest

from emailactions.engines.base import RenderLimits, plain_data
from emailactions.engines.jinja import JinjaEngine
from emailactions.errors import RenderError
from support.engine_contract import EngineContract


class TestJinjaContract(EngineContract):
    engine_cls = JinjaEngine
    snippets = {
        "var": "Hello {{ object.name }}",
        "raw": "{{ object.name|safe }}",
        "missing": "[{{ object.nope }}]",
        "loop_missing": "{% for p in object.people %}{{ p.sn }}{% endfor %}",
        "loop": "{% for x in object.list %}[{{ x }}]{% endfor %}",
        "if": "{% if object.flag %}yes{% else %}no{% endif %}",
        "people": "{% for p in object.people %}{{ p.givenName }},{% endfor %}",
        "date": "{{ object.when|format_date('long') }}",
        "currency": "{{ object.amount|format_currency('EUR') }}",
        "number": "{{ object.amount|format_number(2) }}",
        "bad_date": "{{ object.name|format_date }}",
        "syntax_error": "{% if object.flag %}never closed",
        "dunder": "{{ object.name.__class__ }}{{ object|attr('__class__') }}{{ object.list.__class__ }}{{ object.items }}",
        "loop_bomb": "{% for a in object.big %}{% for b in object.big %}{% for c in object.big %}{% endfor %}{% endfor %}{% endfor %}",
        "output_bomb": "{% for a in object.big %}{{ object.long }}{% endfor %}",
        "open_block": "{% if object.flag %}",
        "close_block": "{% endif %}",
    }


def render(source, data=None, html=True, limits=None):
    plain, paths = plain_data(data or {"name": "Hilda", "list": [1, 2, 3]})
    return JinjaEngine(limits).render(source, {"object": plain}, html=html, part="html", locale="en", paths=paths)


# -- the sandbox itself: no code, no attributes ----------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ object.list.pop() }}",
        "{% set x = [1] %}{{ x.append(2) }}",
        "{{ object.name.format(object) }}",
        "{{ object.update({'a': 1}) }}",
        "{{ joiner.__call__.__globals__ }}",
    ],
)
def test_no_way_out_of_the_sandbox(source):
    try:
        text = render(source).text
    except RenderError as exc:
        assert "unsafe" in exc.message or "undefined" in exc.message or "not safely callable" in exc.message
    else:
        assert text.strip() == ""


def test_safe_methods_still_work():
    assert render("{{ object.name.upper() }} {{ object.get('name') }} {% for k, v in object.items() %}{{ k }}{% endfor %}",
                  {"name": "hi"}).text == "HI hi name"  # fmt: skip


# -- exhausting the process: every amplifier is bounded ------------------------------

BOMBS = [
    "{{ 'a' * 1000000000 }}",
    "{{ [1] * 1000000000 }}",
    "{{ 2 ** 1000000000 }}",
    "{{ 10 ** 100000 * 10 ** 100000 }}",
    "{{ '%999999999s' % 1 }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'|indent(1000000000) }}",
    "{{ ('a' * 1000)|wordwrap(1, wrapstring='x' * 5000) }}",
    "{{ [1]|batch(1000000000, 'x') }}",
    "{{ [1, 2]|slice(1000000000) }}",
    "{{ '%999999999d'|format(1) }}",
    "{{ range(5000)|join('x' * 1000) }}",
    "{{ ('a' * 1000)|replace('a', 'b' * 5000) }}",
    "{{ 5|round(-1000000000) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(n=3) %}{% for i in range(60) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ range(100000)|list|length }}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{{ range(1000000) }}",
    "{{ lipsum(1000000) }}",
    # Literals that nest a value in itself double what it prints, no operator needed.
    '{% set ns = namespace(v="xxxxxxxxxx") %}{% for i in range(40) %}{% set ns.v = [ns.v, ns.v] %}{% endfor %}{{ ns.v }}',
    '{% set ns = namespace(v="xxxxxxxxxx") %}{% for i in range(40) %}{% set ns.v = [ns.v, ns.v] %}{% endfor %}{{ ns.v|tojson }}',
    '{% set ns = namespace(v="x") %}{% for i in range(40) %}{% set ns.v = {"a": ns.v, "b": ns.v} %}{% endfor %}{{ ns.v|string }}',
    '{% set ns = namespace(v="x") %}{% for i in range(40) %}{% set ns.v = (ns.v, ns.v) %}{% endfor %}{{ ns.v|join(",") }}',
    # The mapping form of %-formatting has widths too.
    '{{ "%(a)999999999s" % {"a": 1} }}',
    '{{ "%(a).999999999f" % {"a": 1.0} }}',
    '{{ "%(a)999999999s"|format(a=1) }}',
]


@pytest.mark.parametrize("source", BOMBS)
def test_amplifiers_fail_fast_with_a_render_error(source):
    start = time.monotonic()
    with pytest.raises(RenderError) as info:
        render(source, limits=RenderLimits(max_work=500_000))
    assert info.value.code == 400 and info.value.part == "html"
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 100 + "1" + ")" * 100 + " }}",
        "{{ " + "1 + " * 500 + "1 }}",
        "{{ " + "- " * 500 + "1 }}",
        "{{ " + "not " * 500 + "1 }}",
        "{{ " + "[" * 100 + "]" * 100 + " }}",
        "{{ x" + "|e" * 2000 + " }}",
    ],
)
def test_deep_expressions_are_a_render_error(source):
    with pytest.raises(RenderError):
        render(source)


@pytest.mark.parametrize("tag", ["{% include 'other' %}", "{% extends 'base' %}", "{% import 'm' as m %}", "{% from 'm' import x %}"])
def test_templates_are_self_contained(tag):
    with pytest.raises(RenderError) as info:
        render(tag)
    assert "not supported" in info.value.message


# -- autoescape follows the part ---------------------------------------------------


def test_autoescape_follows_the_part_not_a_name():
    data = {"name": "<script>alert(1)</script>"}
    assert render("{{ object.name }}", data, html=True).text == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert render("{{ object.name }}", data, html=False).text == "<script>alert(1)</script>"


def test_concatenation_escapes_in_html():
    assert render("{{ '<b>' ~ object.name }}", {"name": "&"}, html=True).text == "&lt;b&gt;&amp;"


def test_runtime_errors_carry_the_template_line():
    with pytest.raises(RenderError) as info:
        render("line one\n{{ 1 // 0 }}")
    assert info.value.line == 2 and "ZeroDivisionError" in info.value.message


def test_loops_with_loop_variable_and_recursion_still_work():
    tree = {"tree": [{"n": "a", "kids": [{"n": "b", "kids": []}]}]}
    source = "{% for x in object.tree recursive %}{{ loop.depth }}{{ x.n }}{{ loop(x.kids) }}{% endfor %}"
    assert render(source, tree).text == "1a2b"


def test_filters_keep_working():
    assert render("{{ object.list|map('string')|join(',') }} {{ object.list|sum }} {{ object.list|reverse|list }}").text == "1,2,3 6 [3, 2, 1]"


def test_dotted_lookups_on_data_match_jinjas_order_attribute_then_key():
    """The key-lookup shortcut for plain dicts keeps Jinja's order: a dict
    method name still finds the (unprintable) method, any other name the key."""
    data, paths = plain_data({"items": "X", "get": "G", "name": "N", "nested": {"keys": 1, "k": 2}})
    source = "{{ object.items }}|{{ object.get }}|{{ object.name }}|{{ object.nested.k }}|{{ object.nested.keys }}|{{ object['items'] }}|{{ object.nope }}"
    rendered = JinjaEngine().render(source, {"object": data}, html=False, part="text", locale="en", paths=paths)
    assert rendered.text == "||N|2||X|"
    assert rendered.missing == ["object.nope"]
    big, paths = plain_data({"s": "x" * 50})
    with pytest.raises(RenderError):  # the shortcut still size-checks what it returns
        JinjaEngine(RenderLimits(max_value_chars=10)).render("{{ object.s }}", {"object": big}, html=False, part="text", locale="en", paths=paths)


def test_a_value_built_around_a_data_container_is_still_measured():
    """A data list is not re-measured when looked up (it was not built by the
    template), but a list the template builds from it counts it in full."""
    data, paths = plain_data({"rows": ["x" * 10] * 4})
    limits = RenderLimits(max_value_chars=100)
    assert JinjaEngine(limits).render("{{ object.rows|length }}", {"object": data}, html=False, part="text", locale="en", paths=paths).text == "4"
    doubling = "{% set a = [object.rows, object.rows] %}{% set b = [a, a] %}{{ b }}"
    with pytest.raises(RenderError, match="builds a value"):
        JinjaEngine(limits).render(doubling, {"object": data}, html=False, part="text", locale="en", paths=paths)
