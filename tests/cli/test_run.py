"""``emailactions run``: result JSON on stdout, script output and errors on stderr, context options."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from support import ROOT

from emailactions.cli.root import main

EXAMPLES = ROOT / "examples"


@pytest.fixture
def conf(example_conf_smtp) -> Path:
    return example_conf_smtp


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(map(str, args)))
    out = capsys.readouterr()
    return info.value.code, json.loads(out.out) if out.out.strip() else None, out.err


def test_run_prints_the_result_and_script_output_apart(capsys, conf, smtp_server):
    code, result, err = run(capsys, "--conf", conf, "run", EXAMPLES / "scripts" / "send-template-hello.js")
    assert code == 0 and result["message"] == "Email sent" and result["locale"] == "en"
    assert err == "hello sent to hgale815@example.com in en\n"
    assert smtp_server.messages[0].message["Subject"] == "Hello Hilda"


def test_accept_language_and_no_wait_reach_the_script(capsys, conf, smtp_server):
    code, result, _ = run(capsys, "--conf", conf, "run", "--accept-language", "fr-CA,fr;q=0.9", "--no-wait",
                          EXAMPLES / "scripts" / "send-template-hello.py")  # fmt: skip
    assert code == 0 and result["message"] == "Email submitted" and result["locale"] == "fr"
    # The CLI closes its host before exiting, which delivers the submitted mail.
    assert smtp_server.messages[0].message["Subject"] == "Bonjour Hilda"


def test_runaway_script_is_stopped_with_a_clear_error(capsys, tmp_path):
    script = tmp_path / "loop.js"
    script.write_text('console.log("working");\nwhile (true) {}\n')
    # 1 s, not less: on a loaded 2-core machine starting the engine alone can take 0.2 s.
    code, result, err = run(capsys, "run", "--time-limit", "1.0", script)
    assert code == 1 and result is None
    first, rest = err.split("\n", 1)
    assert first == "working"
    error = json.loads(rest)
    assert error["code"] == 500 and error["detail"]["kind"] == "script_timeout"
    assert error["message"] == f"Script {script} ran longer than its time limit of 1.0 s and was stopped"


def test_uncaught_action_error_is_idms_error_json(capsys, tmp_path):
    script = tmp_path / "bad.js"
    script.write_text('openidm.action("external/email", "send", {to: "nobody"});\n')
    code, _, err = run(capsys, "run", script)
    error = json.loads(err)
    assert code == 1 and (error["code"], error["message"]) == (400, "Bad To: email address")
    assert error["detail"]["script"] == str(script)


def test_stdin_properties_globals_and_caller(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("[identityServer.getProperty('env'), who, context.security.authenticationId]"))
    code, result, _ = run(capsys, "run", "--language", "javascript", "-D", "env=prod", "--globals", '{"who": "ops"}',
                          "--caller", "admin", "-")  # fmt: skip
    assert code == 0 and result == ["prod", "ops", "admin"]
    code, _, err = run(capsys, "run", "-D", "novalue", "--language", "python", "-")
    assert code == 1 and json.loads(err)["detail"]["param"] == "property"


def test_missing_script_and_unknown_extension(capsys, tmp_path):
    code, _, err = run(capsys, "run", tmp_path / "nope.js")
    assert code == 1 and json.loads(err)["code"] == 404
    (tmp_path / "x.rb").write_text("puts 1")
    code, _, err = run(capsys, "run", tmp_path / "x.rb")
    assert code == 1 and json.loads(err)["detail"]["kind"] == "unknown_language"
