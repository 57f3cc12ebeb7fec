"""Every file in examples/ is run here, as the README tells a newcomer to run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

from emailactions import ActionHost

EXAMPLES = ROOT / "examples"


def run(args, cwd=ROOT):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_readme_first_command_sends_send_json_on_console():
    # README: emailactions action external/email send --params @examples/send.json
    proc = run([sys.executable, "-m", "emailactions", "action", "external/email", "send", "--params", "@examples/send.json"])
    assert proc.returncode == 0, proc.stderr
    # The CLI's console transport writes to stderr: stdout is the result JSON alone.
    assert json.loads(proc.stdout)["message"] == "Email sent"
    assert "Subject: OpenIDM recon report" in proc.stderr
    assert "RCPT TO: bjensen@example.com, scarter@example.com, ops@example.com, audit@example.com" in proc.stderr
    assert "Bcc" not in proc.stderr


def test_embed_example():
    proc = run([sys.executable, str(EXAMPLES / "embed.py")])
    assert proc.returncode == 0, proc.stderr
    assert "Subject: Password changed" in proc.stdout
    assert '"message": "Bad To: email address"' in proc.stdout


def test_every_example_is_covered():
    # A file counts as run when a test names it, or names its example folder.
    texts = [p.read_text() for p in (ROOT / "tests").rglob("test_*.py")]
    for path in EXAMPLES.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        folder = path.parent.relative_to(EXAMPLES).parts
        folder_ref = f'"examples" / "{folder[0]}"' if folder else None
        assert any(path.name in t or (folder_ref and folder_ref in t) for t in texts), f"{path} is not run by any test"


def test_send_json_is_idms_example():
    params = json.loads((EXAMPLES / "send.json").read_text())
    assert params["subject"] == "OpenIDM recon report"


# -- scripts: IDM's examples in JavaScript and Python ------------------------------------

SCRIPTS = EXAMPLES / "scripts"


@pytest.fixture
def smtp_conf(example_conf_smtp) -> Path:
    return example_conf_smtp


@pytest.mark.parametrize("name", ["send.js", "send.py"])
def test_send_script_over_smtp(name, smtp_conf, smtp_server):
    with ActionHost(smtp_conf, load_entry_points=False) as host:
        result = host.run_script(SCRIPTS / name)
    assert result["status"] == "OK" and result["message"] == "Email sent"
    [received] = smtp_server.messages
    assert received.mail_from == "openidm@example.com"
    assert received.rcpt_tos == ["your_email@example.com", "bjensen@example.com", "scarter@example.com"]
    msg = received.message
    assert (msg["Subject"], msg["Cc"], msg.get_content_type()) == ("OpenIDM recon report", "bjensen@example.com, scarter@example.com", "text/html")
    assert msg.get_content().strip() == "<html><body><p>Recon report follows...</p></body></html>"


@pytest.mark.parametrize("name", ["send-template-welcome.js", "send-template-welcome.py"])
def test_send_template_welcome_script_over_smtp(name, smtp_conf, smtp_server):
    with ActionHost(smtp_conf, load_entry_points=False) as host:
        result = host.run_script(SCRIPTS / name)
    assert result["locale"] == "fr"
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["hgale815@example.com"]
    assert received.message["Subject"] == "Votre compte a été créé"
    assert "Bienvenue sur OpenIDM. Votre nom d'utilisateur est 'hgale815'." in received.message.get_content()


@pytest.mark.parametrize("name", ["send-template-hello.js", "send-template-hello.py"])
def test_send_template_hello_script_over_smtp(name, smtp_conf, smtp_server):
    lines = []
    with ActionHost(smtp_conf, load_entry_points=False) as host:
        result = host.run_script(SCRIPTS / name, console=lambda level, text: lines.append(text))
    assert result["templateName"] == "hello" and lines == ["hello sent to hgale815@example.com in en"]
    msg = smtp_server.messages[0].message
    assert msg["Subject"] == "Hello Hilda" and msg["From"] == "Example Support <noreply@example.com>"
    text, html = (part.get_content() for part in msg.iter_parts())
    assert "Hello Hilda Gale," in text and "<p>Hello Hilda Gale,</p>" in html


def test_readme_flow_runs_a_script_on_the_console():
    # emailactions --config examples/console.toml run examples/scripts/send.js
    proc = run([sys.executable, "-m", "emailactions", "--config", "examples/console.toml", "run", "examples/scripts/send.js"])
    assert proc.returncode == 0, proc.stderr
    mail, result = proc.stderr, proc.stdout  # the mail on stderr, the result alone on stdout
    assert "RCPT TO: your_email@example.com, bjensen@example.com, scarter@example.com" in mail
    assert "Subject: OpenIDM recon report" in mail and json.loads(result)["message"] == "Email sent"


def test_console_toml_reads_the_example_templates(capsys):
    # The same config runs the template scripts; in process, as a subprocess costs a second.
    with ActionHost(EXAMPLES / "console.toml", load_entry_points=False) as host:
        result = host.run_script(SCRIPTS / "send-template-welcome.py")
    assert result["locale"] == "fr" and "Subject: =?utf-8?" in capsys.readouterr().out


def test_script_host_example(capsys):
    import runpy

    runpy.run_path(str(EXAMPLES / "script_host.py"), run_name="__main__")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"')]
    assert lines[0] == {"user": "hgale815", "locale": "fr", "message": "Email sent"}
    assert lines[1]["error"]["code"] == 404 and lines[1]["error"]["message"] == "No user nobody"
    assert lines[2] == {"script": "send-template-hello.py", "subject_locale": "fr"}


def test_example_test_file_passes_with_the_plugin():
    proc = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "test_with_plugin.py")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout
