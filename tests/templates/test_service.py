"""The template hooks: engines and locale resolution from plugins."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, DuplicateRegistration, PluginError, hookimpl
from emailactions.engines import TemplateEngine

CONFIG = {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}}}


class UpperEngine(TemplateEngine):
    """The docs' example engine: shouts the source, charging the budget."""

    name = "upper"

    def compile_source(self, source, *, html):
        return source.upper()

    def render_compiled(self, compiled, context, state):
        state.charge(len(compiled))
        return compiled


class Engines:
    __name__ = "engine-plugin"

    @hookimpl
    def register_template_engines(self, register):
        register("upper", UpperEngine)


def test_hook_register_template_engines():
    host = ActionHost(CONFIG, load_entry_points=False, plugins=[Engines()])
    assert host.engine_classes["upper"] == (UpperEngine, "engine-plugin")
    assert set(host.engine_classes) == {"handlebars", "jinja2", "freemarker", "upper"}
    host.templates.create({"engine": "upper", "subject": {"en": "hello"}, "message": {"en": "body"}}, "shout")
    host.action("external/email", "sendTemplate", {"templateName": "shout", "to": "b@example.com"})
    assert host.transport().outbox[-1].parsed()["Subject"] == "HELLO"


def test_hook_register_template_engines_collision_names_both_plugins():
    class Clash:
        __name__ = "clash-plugin"

        @hookimpl
        def register_template_engines(self, register):
            register("jinja2", UpperEngine)

    with pytest.raises(DuplicateRegistration) as info:
        ActionHost(CONFIG, load_entry_points=False, plugins=[Clash()])
    assert "emailactions.engines.jinja" in info.value.message and "clash-plugin" in info.value.message


def test_hook_register_template_engines_refuses_non_engines():
    class Wrong:
        @hookimpl
        def register_template_engines(self, register):
            register("wrong", dict)

    with pytest.raises(PluginError):
        ActionHost(CONFIG, load_entry_points=False, plugins=[Wrong()])


class SwissGerman:
    """The docs' example: gsw readers get German rather than the default."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def resolve_locale(self, requested, available):
        self.calls.append((list(requested), list(available)))
        if requested and requested[0].startswith("gsw") and "de" in available:
            return "de"
        return None


def test_hook_resolve_locale():
    plugin = SwissGerman()
    host = ActionHost(CONFIG, load_entry_points=False, plugins=[plugin])
    host.templates.create({"subject": {"en": "Hello", "de": "Hallo"}, "message": {"en": "x", "de": "y"}, "defaultLocale": "en"}, "t")
    result = host.action("external/email", "sendTemplate", {"templateName": "t", "to": "b@example.com"}, accept_language="gsw-CH")
    assert result["locale"] == "de"
    assert plugin.calls[0] == (["gsw_CH", "en"], ["en", "de"])  # Accept-Language, then template default, then host default
    # Passing (None) leaves the choice to the built-in rules.
    result = host.action("external/email", "sendTemplate", {"templateName": "t", "to": "b@example.com"}, accept_language="de-AT")
    assert result["locale"] == "de"


def test_hook_resolve_locale_answer_must_be_available():
    class Liar:
        @hookimpl
        def resolve_locale(self, requested, available):
            return "xx"

    host = ActionHost(CONFIG, load_entry_points=False, plugins=[Liar()])
    host.templates.create({"subject": {"en": "Hello"}}, "t")
    with pytest.raises(PluginError):
        host.action("external/email", "sendTemplate", {"templateName": "t", "to": "b@example.com"})
