"""The CLI through a real subprocess: JSON on stdout, error JSON on stderr, exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(*args, input=None, cwd=None, env=None):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": "", **(env or {})}
    env.pop("EMAILACTIONS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "emailactions", *args], capture_output=True, text=True,
                          input=input, cwd=cwd, env=env, timeout=60)


def last_json(stdout: str):
    return json.loads(stdout[stdout.rindex("\n{") + 1:] if "\n{" in stdout else stdout)


def test_help_lists_commands():
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("action", "send", "plugins"):
        assert command in proc.stdout


def test_send_on_console_without_config(tmp_path):
    proc = run("send", "--from", "a@example.com", "--to", "b@example.com", "--subject", "Hi", "--body", "Hello", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Subject: Hi" in proc.stderr  # the CLI's console transport writes to stderr
    assert last_json(proc.stdout)["message"] == "Email sent"


def test_send_over_smtp_with_idm_conf(tmp_path, smtp_server):
    (tmp_path / "external.email.json").write_text(json.dumps({"host": "127.0.0.1", "port": smtp_server.port, "from": "openidm@example.com"}))
    proc = run("--conf", str(tmp_path), "send", "--to", "bjensen@example.com", "--subject", "OpenIDM recon report",
               "--type", "text/html", "--body", "<p>Recon</p>")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "OK"
    assert smtp_server.messages[0].message.get_content_type() == "text/html"


def test_action_command(tmp_path, smtp_server):
    (tmp_path / "external.email.json").write_text(json.dumps({"host": "127.0.0.1", "port": smtp_server.port}))
    params = {"from": "openidm@example.com", "to": "b@example.com", "subject": "x", "body": "y"}
    proc = run("--conf", str(tmp_path), "action", "external/email", "send", "--params", json.dumps(params))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["message"] == "Email sent"
    proc = run("--conf", str(tmp_path), "action", "external/email", "send", "--params", "-", input=json.dumps(params))
    assert proc.returncode == 0 and len(smtp_server.messages) == 2


@pytest.mark.parametrize(
    "args, code, param",
    [
        (["send", "--from", "a@example.com", "--to", "nope"], 400, "to"),
        (["send", "--to", "b@example.com"], 400, "from"),
        (["send", "--from", "a@example.com"], 400, "to"),
        (["action", "external/email", "send", "--params", "{not json"], 400, "params"),
        (["action", "external/email", "send", "--params", '{"to": "b@example.com", "bogus": 1}'], 400, "bogus"),
        (["action", "external/nothing", "send"], 404, None),
        (["action", "external/email", "explode"], 400, None),
    ],
)
def test_errors_are_json_on_stderr(tmp_path, args, code, param):
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    error = json.loads(proc.stderr)
    assert error["code"] == code and error["reason"]
    if param:
        assert error["detail"]["param"] == param


def test_bad_config_is_a_plain_error(tmp_path):
    (tmp_path / "external.email.json").write_text('{"host": "h", "prot": 25}')
    proc = run("--conf", str(tmp_path), "send", "--from", "a@example.com", "--to", "b@example.com")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("Error: ") and "prot" in proc.stderr


def test_conf_and_config_together_is_a_usage_error(tmp_path):
    proc = run("--conf", str(tmp_path), "--config", str(tmp_path / "x.toml"), "plugins")
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_plugins_lists_builtins():
    proc = run("plugins")
    names = {p["name"]: p for p in json.loads(proc.stdout)}
    assert names["emailactions.transports.console"]["transports"] == ["console"]
    assert names["emailactions.transports.smtp"]["builtin"] is True
    assert names["emailactions.engines.jinja"]["engines"] == ["jinja2"]


def test_plugins_lists_template_stores_and_outbox_backends():
    names = {p["name"]: p for p in json.loads(run("plugins").stdout)}
    assert names["emailactions.templates.stores.builtins"]["template_stores"] == ["folder", "idm-folder", "memory"]
    assert names["emailactions.delivery.outbox.backends"]["outbox_backends"] == ["memory", "postgresql", "sqlite"]
    assert names["emailactions.cli.run"]["builtin"] is True and names["emailactions.cli.run"]["hooks"] == ["register_commands"]


def test_unknown_type_is_a_usage_error():
    proc = run("send", "--to", "b@example.com", "--type", "application/pdf")
    assert proc.returncode == 2


def test_main_takes_plugins_whose_commands_and_hooks_share_one_manager(tmp_path, monkeypatch, capsys):
    import click

    from emailactions import hookimpl
    from emailactions.cli import main
    from emailactions.cli.root import cli
    from emailactions.transports.memory import MemoryTransport

    sent, managers = [], []

    class Captured(MemoryTransport):
        def send(self, message):
            sent.append(message)
            return super().send(message)

    class Embedder:
        __name__ = "embedder"

        @hookimpl
        def register_transports(self, register):
            register("captured", Captured)

        @hookimpl
        def register_commands(self, cli):
            @cli.command("which-manager")
            @click.pass_context
            def which_manager(ctx):
                managers.append(ctx.obj.host.plugin_manager)

    monkeypatch.delenv("EMAILACTIONS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "embedded.toml"
    config.write_text('[email]\nfrom = "a@example.com"\n[transports.default]\nbackend = "captured"\n', encoding="utf-8")
    try:
        with pytest.raises(SystemExit) as info:
            main(["--config", str(config), "send", "--to", "b@example.com", "--subject", "embedded"], plugins=[Embedder()])
        assert info.value.code == 0 and sent[-1].parsed()["Subject"] == "embedded"
        with pytest.raises(SystemExit) as info:
            main(["which-manager"], plugins=[Embedder()])
        assert info.value.code == 0
        [pm] = managers  # the host's manager is the one the commands came from
        assert pm.has_plugin("embedder") and pm.has_plugin("emailactions.cli.run") and pm.has_plugin("emailactions.transports.smtp")
    finally:
        cli.commands.pop("which-manager", None)
    capsys.readouterr()


def test_stdout_is_the_result_alone_so_it_pipes_into_jq():
    from support import ROOT

    proc = run("--config", "examples/console.toml", "send", "--to", "b@example.com", "--subject", "piped", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["message"] == "Email sent"
    assert "Subject: piped" in proc.stderr and "Subject" not in proc.stdout
    shell = subprocess.run(f"{sys.executable} -m emailactions --config examples/console.toml send --to b@example.com | jq -er .status",
                           shell=True, capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert shell.returncode == 0 and shell.stdout == "OK\n", shell.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["--config", "missing.toml", "send", "--to", "b@example.com"], "missing.toml"),
        (["--config", "bad.toml", "send", "--to", "b@example.com"], "bad.toml"),
        (["--config", "unknown.toml", "plugins"], "transports.default.backend"),
        (["action", "external/email", "send", "--params", "@nope.json"], "nope.json"),
        (["send", "--to", "b@example.com", "--body", "@nope.txt"], "nope.txt"),
        (["send-template", "welcome", "--object", "@nope.json"], "nope.json"),
        (["send", "--bogus"], "--bogus"),
    ],
)
def test_usage_and_config_errors_exit_2_with_a_plain_message(tmp_path, args, says):
    (tmp_path / "bad.toml").write_text("[email\n")
    (tmp_path / "unknown.toml").write_text('[transports.default]\nbackend = "smpt"\n')
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Error: " in proc.stderr and says in proc.stderr
    assert not proc.stderr.lstrip().startswith("{") and "Internal Server Error" not in proc.stderr


#: What a cold ``emailactions send`` on the console transport must not import
#: (issue 17: a fast cold start imports nothing optional).
OPTIONAL_MODULES = (
    "limits", "jinja2", "pybars", "babel", "starlette", "uvicorn", "quickjs", "email_validator", "idna",
    "importlib.metadata", "smtplib", "ssl", "emailactions.server", "emailactions.templates.service",
    "emailactions.engines.freemarker_translate", "emailactions.cli.templates", "emailactions.cli.outbox",
    "emailactions.cli.server", "emailactions.cli.run", "emailactions.cli.check", "emailactions.cli.tokens",
    # Built-ins registered as lazy references, and what they alone import:
    "emailactions.engines.base", "emailactions.engines.handlebars", "emailactions.engines.jinja",
    "emailactions.engines.freemarker", "emailactions.locales.formatting", "decimal", "emailactions.scripting",
    "emailactions.scripting.python", "emailactions.scripting.javascript", "subprocess", "signal",
    "emailactions.transports.smtp", "emailactions.transports.file", "emailactions.transports.msgraph",
    "emailactions.transports.memory", "emailactions.files", "tempfile", "shutil",
    # The outbox, opened only when a message is submitted to it:
    "sqlite3", "socket", "emailactions.delivery.outbox.sqlite", "emailactions.delivery.outbox.worker",
)


def test_a_cold_send_on_the_console_transport_imports_nothing_optional(tmp_path):
    code = (
        "import sys\nfrom emailactions.cli.root import main\n"
        "try:\n    main(['send', '--from', 'a@example.com', '--to', 'Bob <bob@example.com>', '--subject', 'hi'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(set(sys.modules) & set({OPTIONAL_MODULES!r})), file=sys.stderr)\n"
    )
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"Email sent"' in proc.stdout
    assert proc.stderr.splitlines()[-1] == "[]"


def test_commands_from_the_clis_own_plugins_still_run_and_are_listed():
    assert run("templates", "--help").returncode == 0
    listed = json.loads(run("plugins").stdout)
    assert {"emailactions.cli.templates", "emailactions.cli.outbox"} <= {p["name"] for p in listed}


def test_every_plugin_the_listing_shows_has_a_name():
    """The CLI's own per-command plugin is named, not shown as a number."""
    names = [p["name"] for p in json.loads(run("plugins").stdout)]
    assert all(not name.isdigit() for name in names), names
    assert "emailactions.cli.submitted" in names
