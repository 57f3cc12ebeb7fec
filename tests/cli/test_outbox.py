"""``emailactions outbox ...`` and ``emailactions worker``, and the outbox actions behind them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from emailactions import ActionHost, InvalidParams, OutboxEntryNotFound
from emailactions.cli.common import COMMAND_PLUGINS
from emailactions.cli.root import cli
from emailactions.config import from_mapping
from emailactions.plugins import get_plugin_manager


@pytest.fixture(scope="module", autouse=True)
def commands():
    # What cli.main() does before running: let plugins (here the CLI's own) add commands.
    get_plugin_manager(load_entry_points=False, builtins=COMMAND_PLUGINS).hook.register_commands(cli=cli)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> dict:
    """Where the shared outbox is: a SQLite file, or a fresh schema on the suite's PostgreSQL."""
    if request.param == "sqlite":
        return {"path": "outbox.sqlite3"}
    return {"url": request.getfixturevalue("postgres").create_schema()}


def toml_config(tmp_path: Path, port: int, store: dict | None = None, **outbox) -> Path:
    outbox = {**(store or {"path": "outbox.sqlite3"}), **outbox}
    outbox_lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in outbox.items())
    path = tmp_path / "emailactions.toml"
    path.write_text(
        f"""
[email]
from = "openidm@example.com"
[transports.default]
backend = "smtp"
host = "127.0.0.1"
port = {port}
[outbox]
backoff = 0.01
backoff_max = 0.02
poll_interval = 0.05
{outbox_lines}
[rate_limits]
enabled = false
""",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> tuple[int, object, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    out = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, out, result.stderr


def test_list_show_retry_drain_purge(tmp_path, smtp_server, store):
    config = str(toml_config(tmp_path, smtp_server.port, store, workers=0))
    smtp_server.handler.data_reply = lambda received: "554 5.7.1 Rejected"
    code, submitted, _ = run("--config", config, "send", "--to", "a@example.com", "--subject", "Hello", "--no-wait")
    assert code == 0 and submitted["message"] == "Email submitted"
    outbox_id = submitted["outboxId"]

    code, listed, _ = run("--config", config, "outbox", "list")
    assert code == 0 and listed["counts"]["queued"] == 1
    assert listed["entries"][0]["id"] == outbox_id and listed["outbox"].endswith(store.get("path") or store["url"])

    code, drained, _ = run("--config", config, "outbox", "drain")
    assert code == 0 and drained["failed"] == 1 and drained["counts"]["failed"] == 1

    code, shown, _ = run("--config", config, "outbox", "show", str(outbox_id))
    assert shown["state"] == "failed" and shown["attempts"] == 1 and shown["subject"] == "Hello"
    assert shown["lastError"]["detail"]["smtp_code"] == 554
    assert shown["refused"]["a@example.com"]["code"] == 554

    smtp_server.handler.data_reply = lambda received: None  # the operator fixed it
    code, retried, _ = run("--config", config, "outbox", "retry", "--failed")
    assert retried == {"status": "OK", "retried": 1}
    code, listed, _ = run("--config", config, "outbox", "list", "--state", "queued")
    assert [e["attempts"] for e in listed["entries"]] == [0]
    code, drained, _ = run("--config", config, "outbox", "drain")
    assert drained["sent"] == 1 and len(smtp_server.messages) == 1
    assert smtp_server.messages[0].message["Message-ID"] == submitted["messageId"]

    code, purged, _ = run("--config", config, "outbox", "purge", "--sent")
    assert purged == {"status": "OK", "purged": 1}
    code, _, err = run("--config", config, "outbox", "show", str(outbox_id))
    assert code == 1 and json.loads(err)["code"] == 404


def test_outbox_commands_need_a_file(tmp_path):
    config = tmp_path / "memory.toml"
    config.write_text('[transports.default]\nbackend = "memory"\n', encoding="utf-8")
    code, _, err = run("--config", str(config), "outbox", "list")
    assert code == 2 and err.startswith("Error: ") and "outbox.path" in err  # a config error: plain, exit 2
    code, _, err = run("--config", str(config), "outbox", "migrate")
    assert code == 2 and "outbox.path" in err


def test_migrate_and_print_sql(tmp_path, smtp_server, store):
    config = str(toml_config(tmp_path, smtp_server.port, store))
    result = CliRunner().invoke(cli, ["--config", config, "outbox", "migrate", "--print-sql"], catch_exceptions=False)
    assert result.exit_code == 0 and "CREATE TABLE" in result.stdout  # a fresh store needs every step
    code, migrated, _ = run("--config", config, "outbox", "migrate")
    assert code == 0 and migrated["applied"] and migrated["version"] == migrated["applied"][-1]
    code, again, _ = run("--config", config, "outbox", "migrate")
    assert again["applied"] == [] and again["version"] == migrated["version"]
    result = CliRunner().invoke(cli, ["--config", config, "outbox", "migrate", "--print-sql"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout == ""  # nothing left to do
    result = CliRunner().invoke(cli, ["--config", config, "outbox", "migrate", "--print-sql", "--from-version", "1"])
    assert result.exit_code == 0 and "CREATE TABLE emailactions_outbox " not in result.stdout


def test_worker_process_delivers_a_shared_outbox(tmp_path, smtp_server, store):
    config = toml_config(tmp_path, smtp_server.port, store, workers=0)
    with ActionHost(config, load_entry_points=False) as host:  # only submits: workers = 0
        ids = [host.action("external/email", "send", {"to": f"u{n}@example.com"}, wait_for_completion=False)["outboxId"] for n in range(5)]
    assert smtp_server.messages == []
    proc = subprocess.run(
        [sys.executable, "-m", "emailactions", "--config", str(config), "worker", "--exit-when-empty", "--threads", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["sent"] == 5 and result["counts"]["sent"] == 5
    assert len(smtp_server.messages) == 5 and len(ids) == 5
    assert "s3cr3t" not in proc.stderr  # the worker logs, without secrets


def test_outbox_actions_check_their_params(outbox_host):
    with pytest.raises(InvalidParams) as info:
        outbox_host.action("external/email/outbox", "list", {"state": "lost"})
    assert info.value.param == "state"
    with pytest.raises(InvalidParams):
        outbox_host.action("external/email/outbox", "retry", {})
    with pytest.raises(InvalidParams) as info:
        outbox_host.action("external/email/outbox", "purge", {"ids": ["x"]})
    assert info.value.param == "ids"
    with pytest.raises(InvalidParams) as info:
        outbox_host.action("external/email/outbox", "show", {"id": 1, "raw": True})
    assert info.value.param == "raw"
    with pytest.raises(OutboxEntryNotFound):
        outbox_host.action("external/email/outbox", "show", {"id": 12345})


def test_outbox_config(tmp_path, monkeypatch):
    from emailactions import ConfigError

    config = from_mapping({"outbox": {"path": "o.sqlite3", "workers": 2, "max_age": 60, "synchronous": "normal"}}, base=tmp_path)
    assert config.outbox.path == tmp_path / "o.sqlite3" and config.outbox.workers == 2
    assert config.outbox.max_age == 60.0 and config.outbox.synchronous == "normal"
    assert from_mapping({}).outbox.path is None  # in memory unless told
    monkeypatch.setenv("EMAILACTIONS_OUTBOX", str(tmp_path / "env.sqlite3"))
    assert from_mapping({}).outbox.path == tmp_path / "env.sqlite3"
    # The environment takes a database URL as well; the config's own path or url wins over it.
    monkeypatch.setenv("EMAILACTIONS_OUTBOX", "postgresql://mail@db.example/outbox")
    env = from_mapping({}).outbox
    assert env.url == "postgresql://mail@db.example/outbox" and env.backend == "postgresql" and env.path is None
    assert from_mapping({"outbox": {"path": "o.sqlite3"}}, base=tmp_path).outbox.url is None
    configured = from_mapping({"outbox": {"url": "postgresql://a@b/c", "dead_after": 5}}).outbox
    assert configured.backend == "postgresql" and configured.dead_after == 5.0 and configured.path is None
    for bad, key in [
        ({"max_atempts": 3}, "outbox.max_atempts"),
        ({"workers": -1}, "outbox.workers"),
        ({"max_attempts": 0}, "outbox.max_attempts"),
        ({"backoff": "fast"}, "outbox.backoff"),
        ({"lease": 0}, "outbox.lease"),
        ({"synchronous": "off"}, "outbox.synchronous"),
        ({"autostart": 1}, "outbox.autostart"),
        ({"backoff": 10, "backoff_max": 5}, "outbox.backoff_max"),
        ({"url": "mysql://a@b/c"}, "outbox.url"),
        ({"url": "postgresql://a@b/c", "path": "o.sqlite3"}, "outbox.url"),
        ({"dead_after": 0}, "outbox.dead_after"),
    ]:
        with pytest.raises(ConfigError) as info:
            from_mapping({"outbox": bad})
        assert info.value.key == key


def test_idm_conf_folder_takes_the_outbox_from_the_environment(tmp_path, monkeypatch, smtp_server):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "external.email.json").write_text(json.dumps({"host": "127.0.0.1", "port": smtp_server.port, "threadPoolSize": 2, "from": "idm@example.com"}))
    monkeypatch.setenv("EMAILACTIONS_OUTBOX", str(tmp_path / "idm-outbox.sqlite3"))
    with ActionHost(str(conf), load_entry_points=False) as host:
        result = host.action("external/email", "send", {"to": "a@example.com"}, wait_for_completion=False)
        assert host.dispatcher.outbox.durable
        assert host.dispatcher.worker.threads == 2  # threadPoolSize bounds the workers
        host.action("external/email/outbox", "drain")
        assert host.dispatcher.outbox.get(result["outboxId"]).state == "sent"
