"""Choosing a language (extension or name), reading files, and the register_script_languages hook."""

from __future__ import annotations

import pytest

from emailactions import (
    ActionHost,
    DuplicateRegistration,
    PluginError,
    ScriptLanguage,
    ScriptNotFound,
    UnknownLanguage,
    hookimpl,
)


def test_language_from_extension_or_name(emailactions_host, tmp_path):
    (tmp_path / "a.js").write_text("typeof openidm.action")
    (tmp_path / "a.py").write_text("type(openidm).__name__")
    (tmp_path / "a.txt").write_text("40 + 2")
    assert emailactions_host.run_script(tmp_path / "a.js") == "function"
    assert emailactions_host.run_script(str(tmp_path / "a.py")) == "OpenIDM"
    assert emailactions_host.run_script(tmp_path / "a.txt", language="javascript") == 42
    with pytest.raises(UnknownLanguage, match="'.txt'"):
        emailactions_host.run_script(tmp_path / "a.txt")


def test_missing_files_unknown_languages_and_bare_source(emailactions_host, tmp_path):
    with pytest.raises(ScriptNotFound) as info:
        emailactions_host.run_script(str(tmp_path / "typo.js"))  # not run as source text "typo.js"
    assert info.value.code == 404
    with pytest.raises(UnknownLanguage, match="needs language=") as info:
        emailactions_host.run_script("1 + 1")
    assert info.value.code == 400
    with pytest.raises(UnknownLanguage, match="known: javascript, python"):
        emailactions_host.run_script("1", language="cobol")


class Reverse(ScriptLanguage):
    """A toy language: the script is the subject of one send, reversed."""

    name = "reverse"
    extensions = (".rev.js",)  # longer than ".js", so it wins for "x.rev.js"

    def run(self, source, run):
        return run.action("external/email", "send", {"to": "a@example.com", "subject": source.strip()[::-1]})


class Languages:
    __name__ = "languages-plugin"

    def __init__(self, *pairs):
        self.pairs = pairs

    @hookimpl
    def register_script_languages(self, register):
        for name, cls in self.pairs:
            register(name, cls)


def host_with(plugin):
    return ActionHost({"transports": {"default": {"backend": "memory"}}, "email": {"from": "a@example.com"}},
                      load_entry_points=False, plugins=[plugin])  # fmt: skip


def test_hook_register_script_languages(tmp_path):
    script = tmp_path / "hello.rev.js"
    script.write_text("olleh\n")
    with host_with(Languages(("reverse", Reverse))) as host:
        assert host.run_script(script)["message"] == "Email sent"
        assert host.transport().outbox[-1].parsed()["Subject"] == "hello"
        assert host.scripting.language_classes["reverse"] == (Reverse, "languages-plugin")


def test_language_collisions_raise(tmp_path):
    class Other(Reverse):
        extensions = (".js",)

    with host_with(Languages(("python", Reverse))) as host:
        with pytest.raises(DuplicateRegistration, match="Script language 'python' is registered by") as info:
            host.run_script("1", language="python")
        assert "'emailactions.scripting.python'" in info.value.message and "'languages-plugin'" in info.value.message
    with host_with(Languages(("other", Other))) as host:
        with pytest.raises(DuplicateRegistration, match="File extension '.js' is claimed by language") as info:
            _ = host.scripting
        assert "'other' ('languages-plugin')" in info.value.message and "'javascript'" in info.value.message
    with host_with(Languages(("bad", object))) as host:
        with pytest.raises(PluginError, match="not a ScriptLanguage"):
            _ = host.scripting
