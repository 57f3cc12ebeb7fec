"""What every script language shares (ScriptRun): here, script output made terminal-safe."""

from __future__ import annotations

import logging

import pytest

SOURCES = {
    "javascript": 'console.log("a\\u001b[2Jb\\u0007\\r\\nc"); logger.info("x{}", "\\u001b]0;t\\u0007")',
    "python": 'console.log("a\\x1b[2Jb\\x07\\r\\nc"); logger.info("x{}", "\\x1b]0;t\\x07")',
}


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_script_output_escapes_terminal_controls_and_keeps_line_breaks(emailactions_host, language):
    lines = []
    emailactions_host.run_script(SOURCES[language], language=language, console=lambda level, text: lines.append(text))
    assert lines == ["a\\x1b[2Jb\\x07\\r\nc", "x\\x1b]0;t\\x07"]


def test_script_output_to_the_log_is_escaped_too(emailactions_host, caplog):
    caplog.set_level(logging.INFO)
    emailactions_host.run_script('console.log("bell\\x07")', language="python")
    assert "bell\\x07" in caplog.text and "\x07" not in caplog.text
