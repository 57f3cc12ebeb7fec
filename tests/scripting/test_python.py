"""Python scripts: the same openidm scope as JavaScript, as trusted in-process code."""

from __future__ import annotations

import time

import pytest

from emailactions import EmailActionsError, ForbiddenOperation, InvalidParams, ScriptError, ScriptTimeout
from emailactions.scripting import ScriptLimits


def py(host, source, **options):
    return host.run_script(source, language="python", **options)


def test_openidm_action_and_action_function(emailactions_host, emailactions_outbox):
    result = py(emailactions_host, """
params = {"from": "openidm@example.com", "to": "bjensen@example.com", "subject": "one"}
first = openidm.action("external/email", "send", params)
second = action("external/email", "send", {"to": "scarter@example.com", "subject": "two"})
[first["message"], second["message"]]
""")
    assert result == ["Email sent", "Email sent"]
    assert emailactions_outbox.subjects == ["one", "two"]
    emailactions_outbox.assert_sent(to="bjensen@example.com", sender="openidm@example.com")


def test_errors_are_typed_and_catchable(emailactions_host):
    assert py(emailactions_host, """
try:
    openidm.action("external/email", "send", {"to": "not an address"})
except EmailActionsError as err:
    caught = (err.code, err.message)
caught
""", globals={"EmailActionsError": EmailActionsError}) == (400, "Bad To: email address")
    with pytest.raises(InvalidParams) as info:
        py(emailactions_host, 'x = 1\naction("external/email", "send", {"to": "x"})')
    assert info.value.detail["line"] == 2
    with pytest.raises(ForbiddenOperation):
        py(emailactions_host, 'openidm.read("external/email")')


def test_script_bugs_become_script_errors_with_the_line(emailactions_host):
    with pytest.raises(ScriptError) as info:
        py(emailactions_host, "def f():\n    return {}['missing']\n\nf()")
    assert (info.value.message, info.value.detail["line"]) == ("KeyError: 'missing'", 2)
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(ScriptError, match="SyntaxError") as info:
        py(emailactions_host, "ok = 1\ndef broken(:\n")
    assert info.value.detail["line"] == 2


def test_result_is_the_final_expression_or_set_result(emailactions_host):
    assert py(emailactions_host, "x = 20\nx * 2 + 2") == 42
    assert py(emailactions_host, "setResult({'sent': 1})\n'ignored'") == {"sent": 1}
    assert py(emailactions_host, "x = 1") is None


def test_scope_matches_javascript(emailactions_host):
    lines = []
    result = py(emailactions_host, """
logger.info("sent {} to {}", 2, "bjensen@example.com")
console.warn("careful", 1)
[context["security"]["authenticationId"], context["http"]["headers"], context["script"]["language"],
 identityServer.getProperty("a", "dflt"), identityServer.getProperty("b", "dflt"), __name__, limit]
""", caller="admin", accept_language="fr", properties={"a": "A"}, globals={"limit": 3},
        console=lambda level, text: lines.append((level, text)))  # fmt: skip
    assert result == ["admin", {"Accept-Language": "fr"}, "python", "A", "dflt", "__emailactions_script__", 3]
    assert lines == [("info", "sent 2 to bjensen@example.com"), ("warn", "careful 1")]


def test_time_limit_is_checked_at_host_calls_even_if_caught(emailactions_host, emailactions_outbox):
    source = """
while True:
    try:
        action("external/email", "send", {"to": "a@example.com", "subject": "loop"})
    except Exception:
        pass
    nap()
"""
    with pytest.raises(ScriptTimeout):
        py(emailactions_host, source, globals={"nap": lambda: time.sleep(0.02)}, limits=ScriptLimits(time_limit=0.15))
    assert 1 <= len(emailactions_outbox) <= 10


def test_scripts_share_no_globals(emailactions_host):
    py(emailactions_host, "leaked = 1")
    assert py(emailactions_host, "'leaked' in globals()") is False


def test_deeply_nested_params_from_a_script_are_the_same_400(emailactions_host, emailactions_outbox):
    source = """
a = []
for _ in range(50000):
    a = [a]
openidm.action("external/email", "send", {"to": "a@example.com", "subject": "s", "body": "b", "object": a})
"""
    with pytest.raises(InvalidParams) as info:
        py(emailactions_host, source)
    assert info.value.param == "params" and "nests too deeply" in info.value.message
    assert len(emailactions_outbox) == 0
