"""HandlebarsEngine: the shared contract, then pybars3's escapes, each shown open and then closed."""

from __future__ import annotations

import os

import time

import pytest

from emailactions.engines.base import plain_data
from emailactions.engines.handlebars import HandlebarsEngine
from emailactions.errors import RenderError
from support.engine_contract import EngineContract


class TestHandlebarsContract(EngineContract):
    engine_cls = HandlebarsEngine
    snippets = {
        "var": "Hello {{object.name}}",
        "raw": "{{{object.name}}}",
        "missing": "[{{object.nope}}]",
        "loop_missing": "{{#each object.people}}{{sn}}{{/each}}",
        "loop": "{{#each object.list}}[{{this}}]{{/each}}",
        "if": "{{#if object.flag}}yes{{else}}no{{/if}}",
        "people": "{{#each object.people}}{{givenName}},{{/each}}",
        "date": '{{formatDate object.when "long"}}',
        "currency": '{{formatCurrency object.amount "EUR"}}',
        "number": "{{formatNumber object.amount 2}}",
        "bad_date": "{{formatDate object.name}}",
        "syntax_error": "{{#if object.flag}}never closed",
        "dunder": "{{object.name.__class__}}{{lookup object '__class__'}}{{object.list.__class__.__mro__}}{{object.items}}",
        "loop_bomb": "{{#each object.big}}{{#each @root.object.big}}{{#each @root.object.big}}{{/each}}{{/each}}{{/each}}",
        "output_bomb": "{{#each object.big}}{{@root.object.long}}{{/each}}",
        "open_block": "{{#if object.flag}}",
        "close_block": "{{/if}}",
    }


def render(source, data=None, html=True):
    plain, paths = plain_data(data or {"name": "Hilda"})
    return HandlebarsEngine().render(source, {"object": plain}, html=html, part="html", locale="en", paths=paths)


# -- 1. code injection through the generated Python source --------------------------


def injection(marker):
    # A bracketed segment is pasted between quotes in pybars3's generated code.
    return "{{[a') or open(%r, 'w') or (u'b]}}" % str(marker)


def test_raw_pybars3_runs_code_from_a_bracketed_segment(tmp_path):
    """The hole is real: unhardened pybars3 runs the template's Python."""
    import pybars

    marker = tmp_path / "pwned"
    try:
        pybars.Compiler().compile(injection(marker))({})
    except Exception:
        pass
    assert marker.exists()


def test_bracketed_segment_injection_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(RenderError) as info:
        render(injection(marker))
    assert "quote" in info.value.message
    assert not marker.exists()


@pytest.mark.parametrize(
    "source",
    [
        "{{lookup ([x\" or __import__('os') or \"] 1)}}",  # subexpression name
        "{{> a\\}}",  # partial name
        "{{> (lookup . 'x')}}",  # dynamic partial
        "{{[a\nb]}}",  # newline inside a segment
        "{{#each object}}{{[it's]}}{{/each}}",
        "{{foo (bar 1)}}",  # unknown subexpression helper
    ],
)
def test_other_injection_shapes_are_refused(source):
    with pytest.raises(RenderError):
        render(source)


def test_string_literals_are_re_emitted_safely(tmp_path):
    marker = tmp_path / "pwned"
    # The literal's value reaches the helper as data, never as code.
    source = '{{lookup object "a\\" + open(%r, \'w\').name + \\"b"}}' % str(marker)
    assert render(source).text == ""
    assert not marker.exists()


def test_hash_argument_names_must_be_identifiers():
    with pytest.raises(RenderError):
        render('{{formatDate object.when context="x"}}')


# -- 2. reading Python attributes and secrets ------------------------------------------

LEAK = '{{#with "{0.__init__.__globals__[sys].modules[os].environ[EMAILACTIONS_TEST_SECRET]}"}}{{format}}{{/with}}'


def test_raw_pybars3_leaks_the_environment(monkeypatch):
    """The hole is real: str.format reached through getattr() reads os.environ."""
    import pybars

    monkeypatch.setenv("EMAILACTIONS_TEST_SECRET", "s3cr3t")
    assert pybars.Compiler().compile(LEAK)({}) == "s3cr3t"


def test_environment_cannot_be_read(monkeypatch):
    monkeypatch.setenv("EMAILACTIONS_TEST_SECRET", "s3cr3t")
    assert "s3cr3t" not in render(LEAK).text


@pytest.mark.parametrize(
    "source",
    [
        "{{object.name.__class__.__mro__.1.__subclasses__}}",
        "{{object.name.upper}}",
        "{{#with object.name}}{{upper}}{{format}}{{/with}}",
        "{{lookup this '__init__'}}",
        "{{lookup @root 'object'}}",
        "{{#each object.name}}{{this}}{{/each}}",  # strings are not iterated
        "{{@root.__class__}}",
        "{{log object}}",
    ],
)
def test_lookups_reach_only_mapping_keys_and_list_indexes(source):
    text = render(source).text
    assert "class" not in text and "method" not in text and "HILDA" not in text and "Hilda" not in text.replace("[object Object]", "")


def test_list_indexes_and_length_still_work():
    assert render("{{object.list.1}} {{object.list.length}} {{lookup object.list 0}}", {"list": ["a", "b"]}).text == "b 2 a"


def test_data_keys_named_like_methods_are_data():
    assert render("{{object.items}} {{object.keys}}", {"items": "I", "keys": "K"}).text == "I K"


def test_partials_are_refused():
    with pytest.raises(RenderError) as info:
        render("{{> header}}")
    assert "partials" in info.value.message


def test_raw_blocks_are_literal():
    assert render("{{{{raw}}}}{{object.name}}{{{{/raw}}}}").text == "{{object.name}}"


def test_unknown_helper_with_arguments_fails_cleanly():
    with pytest.raises(RenderError) as info:
        render("{{shout object.name}}")
    assert "unknown helper 'shout'" in info.value.message


@pytest.mark.parametrize(
    "source",
    [
        "{{#" + " " * 90_000,  # pybars3's whitespace regex is quadratic on this
        " " * 90_000 + "{{~x}}",
        "{{#if " + "a " * 5_000,  # pymeta backtracks quadratically on an unclosed tag
        "{{x}}" + "{{[" * 3_000,
    ],
)
def test_hostile_sources_fail_fast(source):
    import time

    start = time.monotonic()
    try:
        render(source)
    except RenderError:
        pass
    assert time.monotonic() - start < 1


def test_whitespace_control_still_works():
    assert render("a   {{~object.name~}}   b\n{{#if object.name}}\n  yes\n{{/if}}\n").text == "aHildab\n  yes\n"


def test_unbalanced_blocks_are_refused():
    for source in ("{{#if object.name}}open", "close{{/if}}", "{{x"):
        with pytest.raises(RenderError):
            render(source)


def test_import_is_lazy():
    import subprocess
    import sys

    code = "import emailactions, sys; emailactions.ActionHost(load_entry_points=False); print('pybars' in sys.modules, 'jinja2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ})
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    "source",
    [
        ("{{lookup " + "a " * 40 + "}}") * 10,  # pymeta spends ~0.5 ms per argument
        ("{{lookup a}}" * 400) + ("{{lookup " + "a " * 15 + "}}") * 100,
        ('{{lookup "' + "a" * 400 + '"}}') * 60,  # ~35 us per character inside tags
    ],
)
def test_slow_to_parse_shapes_are_refused_before_parsing(source):
    import time

    start = time.monotonic()
    with pytest.raises(RenderError):
        render(source)
    assert time.monotonic() - start < 0.1


def test_a_long_comment_ends_where_pybars3_ends_it():
    # pybars3 ends {{!-- at the first "}}": the limits must see the same tags.
    source = "{{!-- }}" + ("{{lookup " + "a " * 15 + "}}") * 2400 + "--}}"
    start = time.monotonic()
    with pytest.raises(RenderError):
        render(source)
    assert time.monotonic() - start < 1.0
