"""Python scripts in a child process: the same openidm API, JavaScript's time and memory limits."""

from __future__ import annotations

import os
import time

import pytest

from emailactions import ActionHost, ConfigError, InvalidParams, ScriptMemoryError, ScriptTimeout
from emailactions.scripting import ScriptLimits

SEND = 'openidm.action("external/email", "send", {"to": "b@example.com", "subject": "s", "body": "b"})'


@pytest.fixture
def host():
    config = {"transports": {"default": {"backend": "memory"}}, "email": {"from": "a@example.com"},
              "scripts": {"python_isolation": "process"}}  # fmt: skip
    with ActionHost(config, load_entry_points=False) as h:
        yield h


def py(host, source, **options):
    return host.run_script(source, language="python", **options)


def test_the_script_runs_in_another_process_with_the_same_api(host):
    lines = []
    source = f"import os\nconsole.log('hi'); r = {SEND}\nsetResult([os.getpid(), r['message'], identityServer.getProperty('p'), context['security']['authenticationId']])"
    pid, message, prop, who = py(host, source, properties={"p": 5}, console=lambda level, text: lines.append(text), caller="bob")
    assert pid != os.getpid() and message == "Email sent" and prop == 5 and who == "bob" and lines == ["hi"]
    assert [m.recipients for m in host.transport().outbox] == [("b@example.com",)]


def test_host_errors_are_catchable_in_the_script_and_the_same_object_when_not(host):
    caught = py(host, 'from emailactions import InvalidParams\ntry:\n    openidm.action("external/email", "send", {"to": "x"})\n'
                      'except InvalidParams as e:\n    setResult(e.param)')  # fmt: skip
    assert caught == "to"
    with pytest.raises(InvalidParams) as info:
        py(host, 'openidm.action("external/email", "send", {"to": "x"})')
    assert info.value.param == "to" and info.value.detail["line"] == 1


def test_a_loop_that_never_calls_the_host_is_stopped_at_the_time_limit(host):
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        py(host, "while True:\n    pass", limits=ScriptLimits(time_limit=0.5))
    assert time.monotonic() - started < 5


def test_memory_is_bounded(host):
    with pytest.raises(ScriptMemoryError):
        py(host, "x = bytearray(1024 * 1024 * 1024)", limits=ScriptLimits(memory_limit=64 * 1024 * 1024))


def test_globals_must_be_json_data(host):
    assert py(host, "n + 1", globals={"n": 1}) == 2
    with pytest.raises(InvalidParams) as info:
        py(host, "f()", globals={"f": print})
    assert info.value.param == "globals"


def test_in_process_stays_the_default_and_the_key_is_checked():
    with ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False) as h:
        assert h.config.scripts.python_isolation == "in-process"
        assert py(h, "import os\nos.getpid()") == os.getpid()
    with pytest.raises(ConfigError) as info:
        ActionHost({"scripts": {"python_isolation": "thread"}}, load_entry_points=False)
    assert info.value.key == "scripts.python_isolation"
