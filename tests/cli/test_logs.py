"""The CLI's logging: stderr only, -v / -vv / --log-level on every command, IDM's debug = true, each warning once."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from support.smtp_server import PASSWORD, USER

from emailactions.cli.logs import CliLogging, level_from


def run(*args, env=None):
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": "", **(env or {})}
    env.pop("EMAILACTIONS_CONFIG", None)
    env.pop("EMAILACTIONS_OUTBOX", None)
    return subprocess.run([sys.executable, "-m", "emailactions", *map(str, args)], capture_output=True, text=True, env=env, timeout=60)


def idm_conf(tmp_path, port, **extra):
    (tmp_path / "external.email.json").write_text(json.dumps({"host": "127.0.0.1", "port": port, "from": "openidm@example.com", **extra}))
    return tmp_path


SEND = ("send", "--to", "a@example.com", "--subject", "hi")


def test_vv_and_log_level_debug_log_the_smtp_dialogue_on_stderr(tmp_path, smtp_server):
    conf = idm_conf(tmp_path, smtp_server.port)
    quiet = run("--conf", conf, *SEND)
    assert quiet.returncode == 0 and quiet.stderr == ""
    for flags in (["-vv"], ["--log-level", "debug"]):
        proc = run(*flags, "--conf", conf, *SEND)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["message"] == "Email sent"  # stdout stays the result alone
        assert "DEBUG emailactions.smtp: C: MAIL FROM:<openidm@example.com>" in proc.stderr
        assert "emailactions.smtp: S: 250 " in proc.stderr


def test_idm_debug_true_shows_the_dialogue_with_auth_masked(tmp_path, smtp_tls_server, ca_file):
    conf = idm_conf(tmp_path, smtp_tls_server.port, debug=True, starttls={"enable": True},
                    auth={"enable": True, "username": USER, "password": PASSWORD})  # fmt: skip
    proc = run("--conf", conf, *SEND, env={"SSL_CERT_FILE": ca_file})
    assert proc.returncode == 0, proc.stderr
    assert "C: STARTTLS" in proc.stderr and "C: AUTH PLAIN ********" in proc.stderr
    assert PASSWORD not in proc.stderr and "AGlkbQBzM2NyM3Qt" not in proc.stderr  # nor its base64
    assert len(smtp_tls_server.messages) == 1


def test_the_global_level_reaches_worker_and_v_shows_info(tmp_path, smtp_server):
    config = tmp_path / "emailactions.toml"
    config.write_text(f'[transports.default]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
                      f'[outbox]\npath = "outbox.sqlite3"\n', encoding="utf-8")  # fmt: skip
    worker = ("worker", "--exit-when-empty")
    assert "INFO emailactions.outbox: worker" in run("--config", config, *worker).stderr  # worker: INFO by default
    assert run("--log-level", "error", "--config", config, *worker).stderr == ""
    assert run("--config", config, *worker, "--log-level", "ERROR").stderr == ""  # its own option still works
    assert "INFO emailactions.outbox: worker" in run("-v", "--config", config, *worker).stderr


def test_each_warning_prints_once_and_levels_are_put_back():
    import io

    before = logging.getLogger("emailactions").level
    logs = CliLogging(level_from(0, None))
    stream = logs.handler.stream = io.StringIO()
    log = logging.getLogger("emailactions.outbox")
    for _ in range(3):
        log.warning("outbox is in memory")
        log.error("one error")
    log.warning("another warning")
    log.info("not shown")
    logs.close()
    lines = [line.split(" ", 3)[3] for line in stream.getvalue().splitlines()]
    assert lines == ["emailactions.outbox: outbox is in memory", "emailactions.outbox: one error", "emailactions.outbox: one error",
                     "emailactions.outbox: one error", "emailactions.outbox: another warning"]  # fmt: skip
    assert logging.getLogger("emailactions").level == before and logs.handler not in logging.getLogger("emailactions").handlers
    assert [level_from(v, None) for v in (0, 1, 2, 3)] == [None, "INFO", "DEBUG", "DEBUG"] and level_from(2, "error") == "ERROR"
