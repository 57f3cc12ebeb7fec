"""JavaScript scripts in QuickJS: IDM's scope, plain data across the bridge, errors, limits."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from support import ROOT

from emailactions import (
    ActionHost,
    EngineUnavailable,
    ForbiddenOperation,
    InvalidParams,
    ScriptError,
    ScriptMemoryError,
    ScriptTimeout,
    UnknownResource,
    hookimpl,
)
from emailactions.scripting import ScriptLimits


# IDM's documented example, verbatim in the examples folder.
IDM_SEND = (ROOT / "examples" / "scripts" / "send.js").read_text()


@pytest.fixture
def emailactions_config(example_config):
    return example_config


def js(host, source, **options):
    return host.run_script(source, language="javascript", **options)


# -- IDM's scope ------------------------------------------------------------------------


def test_idm_send_example_runs_unchanged(emailactions_host, emailactions_outbox):
    result = js(emailactions_host, IDM_SEND)
    assert result["status"] == "OK" and result["message"] == "Email sent"
    mail = emailactions_outbox.assert_sent(1, to="your_email@example.com", subject="OpenIDM recon report")
    assert mail.cc == ["bjensen@example.com", "scarter@example.com"]
    assert mail.sender == "openidm@example.com"
    assert "Recon report follows..." in mail.html


class Echo:
    """An action that hands back exactly what it received."""

    __name__ = "echo-plugin"

    def __init__(self):
        self.seen = []

    @hookimpl
    def register_actions(self, register):
        def echo(params, context):
            self.seen.append(params)
            return {"params": params}

        register("test/echo", "echo", echo)


def test_new_object_arrays_and_nested_objects_reach_python_as_plain_data(emailactions_config):
    echo = Echo()
    with ActionHost(emailactions_config, load_entry_points=False, plugins=[echo]) as host:
        result = js(host, """
            var p = new Object();
            p.list = [1, "two", {three: 3}, [4]];
            p.nested = new Object();
            p.nested.deep = {when: new Date(0), no: null, yes: true, n: 1.5};
            p.skipped = undefined;
            var r = openidm.action("test/echo", "echo", p);
            [Object.getPrototypeOf(r) === Object.prototype, Array.isArray(r.params.list), r.params.list[2].three]
        """)
    assert result == [True, True, 3]
    [params] = echo.seen
    assert params == {"list": [1, "two", {"three": 3}, [4]],
                      "nested": {"deep": {"when": "1970-01-01T00:00:00.000Z", "no": None, "yes": True, "n": 1.5}}}  # fmt: skip
    assert type(params["list"]) is list and type(params["nested"]) is dict and type(params["list"][2]) is dict


def test_action_params_argument_merges_request_params(emailactions_host):
    result = js(emailactions_host, """openidm.action("external/email", "send",
        {to: "a@example.com", subject: "s"}, {waitForCompletion: false}).message""")
    assert result == "Email submitted"


def test_failed_action_throws_a_catchable_error_with_idm_code_and_message(emailactions_host, emailactions_outbox):
    result = js(emailactions_host, """
        try {
            openidm.action("external/email", "send", {to: "not an address"});
            "not reached";
        } catch (e) {
            ({code: e.code, message: e.message, reason: e.reason, name: e.name, kind: e.kind,
              param: e.detail.param, isError: e instanceof Error, text: String(e)});
        }
    """)
    assert result == {"code": 400, "message": "Bad To: email address", "reason": "Bad Request", "name": "InvalidParams",
                      "kind": "invalid_params", "param": "to", "isError": True, "text": "InvalidParams: Bad To: email address"}  # fmt: skip
    emailactions_outbox.assert_not_sent()


def test_uncaught_action_error_is_the_hosts_error_with_the_script_line(emailactions_host):
    with pytest.raises(InvalidParams) as info:
        js(emailactions_host, 'var a = 1;\n\nopenidm.action("external/email", "send", {to: "x"});')
    assert info.value.to_dict()["message"] == "Bad To: email address"
    assert info.value.detail["line"] == 3 and info.value.detail["script"] == "<script>"


@pytest.mark.parametrize("verb", ["create", "read", "update", "patch", "delete", "query"])
def test_other_verbs_answer_403_and_unknown_resources_404(emailactions_host, verb):
    codes = js(emailactions_host, f"""
        var codes = [];
        try {{ openidm.{verb}("external/email") }} catch (e) {{ codes.push(e.code) }}
        try {{ openidm.{verb}("managed/user") }} catch (e) {{ codes.push(e.code) }}
        codes
    """)
    assert codes == [403, 404]
    with pytest.raises(ForbiddenOperation):
        js(emailactions_host, f'openidm.{verb}("external/email")')
    with pytest.raises(UnknownResource):
        js(emailactions_host, f'openidm.{verb}("managed/user")')


def test_thrown_values_become_script_errors(emailactions_host):
    with pytest.raises(ScriptError) as info:
        js(emailactions_host, 'throw {code: 403, message: "Only admins may send"}')
    assert info.value.code == 403 and info.value.message == "Only admins may send"
    with pytest.raises(ScriptError) as info:
        js(emailactions_host, 'function check() {\n  throw new TypeError("bad thing");\n}\ncheck();')
    err = info.value
    assert (err.code, err.message, err.detail["line"]) == (500, "TypeError: bad thing", 2)
    assert "at check (<script>:2)" in err.detail["stack"] and "__ea_" not in err.detail["stack"]
    with pytest.raises(ScriptError, match="SyntaxError") as info:
        js(emailactions_host, "var ok = 1;\nvar broken = ;")
    assert info.value.detail["line"] == 2
    with pytest.raises(ScriptError, match="^oops$"):
        js(emailactions_host, 'throw "oops"')


def test_console_and_logger_lines_go_to_the_console_callback(emailactions_host):
    lines = []
    js(emailactions_host, """
        console.log("hello", {a: 1}, [2], undefined);
        console.warn("careful");
        logger.info("sent {} to {}", 2, "bjensen@example.com");
        logger.error("left {}");
    """, console=lambda level, text: lines.append((level, text)))
    assert lines == [("log", 'hello {"a":1} [2] undefined'), ("warn", "careful"),
                     ("info", "sent 2 to bjensen@example.com"), ("error", "left {}")]  # fmt: skip


def test_console_defaults_to_the_emailactions_script_logger(emailactions_host, caplog):
    with caplog.at_level("INFO", logger="emailactions.script"):
        js(emailactions_host, 'console.log("to the log")')
    assert [r.getMessage() for r in caplog.records] == ["<script>: to the log"]


# -- context ----------------------------------------------------------------------------


def test_accept_language_and_no_wait_reach_the_actions(emailactions_host, emailactions_outbox):
    script = 'openidm.action("external/email", "sendTemplate", {templateName: "hello", to: "a@example.com", object: {givenName: "Hilda"}})'
    result = js(emailactions_host, script, accept_language="fr-CA, fr;q=0.9", wait_for_completion=False)
    assert result["message"] == "Email submitted"
    emailactions_host.dispatcher.close()  # an in-memory outbox drains on close
    emailactions_outbox.assert_sent(1, locale="fr", subject="Bonjour Hilda")


def test_context_and_identity_server_values(emailactions_host, emailactions_config):
    result = js(emailactions_host, """({
        context: context,
        prop: identityServer.getProperty("smtp.relay", "none"),
        missing: identityServer.getProperty("nope", "dflt"),
        nullDefault: identityServer.getProperty("nope"),
        project: identityServer.getProjectLocation(),
        install: identityServer.getInstallLocation(),
        working: identityServer.getWorkingLocation(),
        frozen: Object.isFrozen(context.security)
    })""", caller="openidm-admin", accept_language="fr", properties={"smtp.relay": "relay.example.com"})
    assert result["context"] == {
        "security": {"authenticationId": "openidm-admin"},
        "http": {"headers": {"Accept-Language": "fr"}},
        "request": {"waitForCompletion": True},
        "script": {"name": "<script>", "language": "javascript"},
    }
    assert (result["prop"], result["missing"], result["nullDefault"]) == ("relay.example.com", "dflt", None)
    assert result["project"] == str(Path(emailactions_config["email"]["conf"]).parent)
    assert Path(result["install"], "scripting", "javascript.py").is_file()
    assert result["working"] == str(Path.cwd()) and result["frozen"] is True


def test_globals_give_data_and_functions(emailactions_host):
    calls = []

    def find_user(uid):
        calls.append(uid)
        return {"mail": f"{uid}@example.com", "groups": ["a", "b"]}

    result = js(emailactions_host, "var u = findUser(userId); [u.mail, u.groups.length, limits.max]",
                globals={"findUser": find_user, "userId": "bjensen", "limits": {"max": 3}})  # fmt: skip
    assert result == ["bjensen@example.com", 2, 3] and calls == ["bjensen"]
    with pytest.raises(InvalidParams, match="not a JavaScript identifier"):
        js(emailactions_host, "1", globals={"not-a-name": 1})
    with pytest.raises(InvalidParams, match="not JSON data"):
        js(emailactions_host, "1", globals={"when": object()})


def test_a_python_bug_in_a_global_function_is_raised_even_if_the_script_catches(emailactions_host):
    def broken():
        raise KeyError("bug in the application")

    with pytest.raises(KeyError, match="bug in the application"):
        js(emailactions_host, "try { broken() } catch (e) { 'swallowed' }", globals={"broken": broken})


def test_results_last_value_set_result_and_nothing(emailactions_host):
    assert js(emailactions_host, "var x = 2; x * 21") == 42
    assert js(emailactions_host, "setResult({sent: 3}); 'ignored'") == {"sent": 3}
    assert js(emailactions_host, "var x = 1;") is None
    assert js(emailactions_host, "(function () {})") is None


def test_runs_share_nothing(emailactions_host):
    js(emailactions_host, "var leaked = 1; globalThis.also = 2; openidm.extra = 3")
    assert js(emailactions_host, "[typeof leaked, typeof also, typeof openidm.extra]") == ["undefined", "undefined", "undefined"]
    assert js(emailactions_host, "[typeof __ea_call, typeof __ea_run, typeof __ea_install, typeof __ea_unguard]") == ["undefined"] * 4


# -- limits -----------------------------------------------------------------------------


def test_a_script_that_loops_forever_is_stopped(emailactions_host):
    start = time.monotonic()
    with pytest.raises(ScriptTimeout) as info:
        js(emailactions_host, "while (true) {}", limits=ScriptLimits(time_limit=0.15))
    assert 0.1 < time.monotonic() - start < 2
    assert info.value.message == "Script <script> ran longer than its time limit of 0.15 s and was stopped"
    assert info.value.to_dict()["detail"]["kind"] == "script_timeout"


def test_the_loop_is_stopped_after_host_calls_and_cannot_be_caught(emailactions_host, emailactions_outbox):
    with pytest.raises(ScriptTimeout):
        js(emailactions_host, """
            openidm.action("external/email", "send", {to: "a@example.com", subject: "before"});
            try { for (;;) {} } catch (e) { openidm.action("external/email", "send", {to: "a@example.com", subject: "after"}); }
        """, limits=ScriptLimits(time_limit=1.0))  # room for a first send on a loaded machine
    assert emailactions_outbox.subjects == ["before"]


def test_wall_clock_limit_is_checked_at_host_calls(emailactions_host):
    # Sleeping costs no CPU time, so only the deadline checked at each host call stops this.
    with pytest.raises(ScriptTimeout):
        js(emailactions_host, "for (;;) { try { nap() } catch (e) {} }", globals={"nap": lambda: time.sleep(0.02)},
           limits=ScriptLimits(time_limit=0.1))  # fmt: skip


def test_memory_limit_stops_a_memory_bomb(emailactions_host):
    for source in ("var a = []; for (;;) a.push('x'.repeat(10000));",
                   "var a = []; try { for (;;) a.push('x'.repeat(10000)); } catch (e) { throw e; }"):  # fmt: skip
        with pytest.raises(ScriptMemoryError) as info:
            js(emailactions_host, source, limits=ScriptLimits(memory_limit=8 * 1024 * 1024))
        assert "memory limit of 8 MiB" in info.value.message
    assert js(emailactions_host, "1 + 1") == 2  # the host is fine afterwards


def test_deep_recursion_is_an_error(emailactions_host):
    with pytest.raises(ScriptError, match="stack overflow") as info:
        js(emailactions_host, "function f(n) { return f(n + 1) + 1 }\nf(0)")
    assert "more frames" in info.value.detail["stack"]


def test_without_quickjs_the_language_names_the_extra(emailactions_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "quickjs", None)  # import quickjs -> ImportError
    with ActionHost(emailactions_config, load_entry_points=False) as host:
        with pytest.raises(EngineUnavailable, match=r"pip install 'emailactions\[javascript\]'"):
            js(host, "1")
        assert host.run_script("1 + 1", language="python") == 2  # the rest still works


def test_a_memory_limit_too_small_for_the_prelude_is_a_clean_error(emailactions_host):
    with pytest.raises(ScriptMemoryError):
        js(emailactions_host, "1", limits=ScriptLimits(memory_limit=10_000))


# -- isolation: the sandbox process -------------------------------------------------------

DEEP = "var a = []; for (var i = 0; i < 50000; i++) a = [a];\n"


def idle_children(host):
    return list(host.scripting.language("javascript")._pool._idle)


def test_a_script_that_crashes_the_engine_is_a_script_error_and_the_host_carries_on(emailactions_host):
    # QuickJS's JSON.stringify recurses in C without a stack check: this kills its process.
    with pytest.raises(ScriptError, match=r"the JavaScript engine crashed \(signal SIGSEGV\)") as info:
        js(emailactions_host, DEEP + "JSON.stringify(a).length")
    assert type(info.value) is ScriptError and info.value.detail["engine_exit"] == "signal SIGSEGV"
    assert js(emailactions_host, "1 + 1") == 2  # a fresh sandbox process


def test_a_catastrophic_regex_is_stopped_at_the_time_limit(emailactions_host):
    js(emailactions_host, "1")  # a warm child, so the timing is the run's own
    [before] = idle_children(emailactions_host)
    start = time.monotonic()
    with pytest.raises(ScriptTimeout):  # QuickJS's regex engine never polls its interrupt handler
        js(emailactions_host, '/(a+)+b/.test("a".repeat(40))', limits=ScriptLimits(time_limit=0.3))
    assert time.monotonic() - start < 0.3 + 1
    assert before.proc.returncode is not None  # killed, never reused
    assert js(emailactions_host, "'still here'") == "still here"
    assert idle_children(emailactions_host) != [before]


def test_warm_children_are_reused_and_closed_with_the_host(emailactions_config):
    with ActionHost(emailactions_config, load_entry_points=False) as host:
        for n in range(3):
            assert js(host, f"{n} + 1") == n + 1
        [child] = idle_children(host)  # one run at a time: one child
        with pytest.raises(ScriptTimeout):  # QuickJS's own interrupt: the child survives
            js(host, "while (true) {}", limits=ScriptLimits(time_limit=0.1))
        assert idle_children(host) == [child]
    assert child.proc.returncode is not None and idle_children(host) == []


def test_deep_results_params_and_log_values_are_script_errors_not_crashes(emailactions_host):
    for tail in ("a", "setResult(a)", 'openidm.action("external/email", "send", {to: "a@example.com", x: a})'):
        with pytest.raises(ScriptError, match="nested more than 256 levels deep"):
            js(emailactions_host, DEEP + tail)
    assert js(emailactions_host, "var a = []; for (var i = 0; i < 5000; i++) a = [a]; console.log(a); 'logged'") == "logged"
    assert js(emailactions_host, "var a = []; for (var i = 0; i < 200; i++) a = [a]; a")  # deep but allowed
    with pytest.raises(ScriptError, match="TypeError: circular reference"):
        js(emailactions_host, "var o = {}; o.self = o; o")


def test_a_script_replacing_json_does_not_break_the_bridge(emailactions_host, emailactions_outbox):
    result = js(emailactions_host, """
        JSON.stringify = function () { return "x" };
        JSON.parse = function () { return {error: {message: "forged"}} };
        Array.prototype.push = Array.prototype.slice = function () { throw new Error("replaced") };
        var r = openidm.action("external/email", "send", {to: "a@example.com", subject: "s"});
        ({message: r.message, prop: identityServer.getProperty("p", "dflt"), values: [1, {b: [true, null]}]})
    """)
    assert result == {"message": "Email sent", "prop": "dflt", "values": [1, {"b": [True, None]}]}
    emailactions_outbox.assert_sent(1, subject="s")


def test_results_follow_json_stringify(emailactions_host):
    assert js(emailactions_host, """[new Date(0), new Number(2), new String("s"), new Boolean(false), undefined,
        function () {}, NaN, -Infinity, {u: undefined, f: function () {}, t: {toJSON: function (k) { return "key " + k }}}]""") == [
        "1970-01-01T00:00:00.000Z", 2, "s", False, None, None, None, None, {"t": "key t"}]  # fmt: skip
    with pytest.raises(ScriptError, match="BigInt"):
        js(emailactions_host, "[1n]")


def test_nan_and_infinite_globals_are_refused_by_name(emailactions_host):
    for value in (float("nan"), [float("inf")]):
        with pytest.raises(InvalidParams, match="Script global 'ratio' is not JSON data") as info:
            js(emailactions_host, "ratio", globals={"ratio": value})
        assert info.value.code == 400


def test_only_out_of_memory_is_a_memory_error(emailactions_host):
    from emailactions.scripting.base import ScriptRun
    from emailactions.scripting.javascript import _limit_error

    run = ScriptRun(emailactions_host, filename="x.js", language="javascript", limits=ScriptLimits())
    assert type(_limit_error(run, "SyntaxError: unexpected token: 'NaN'")) is ScriptError
    assert type(_limit_error(run, "InternalError: out of memory")) is ScriptMemoryError
    assert type(_limit_error(run, "InternalError: interrupted")) is ScriptTimeout
