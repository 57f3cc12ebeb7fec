"""``emailactions smtp-serve`` as a real process; ``plugins`` lists it; the ``[smtp_server]`` keys."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys

import pytest
from support import wait_for
from support.smtp_server import free_port

from frontdoor.conftest import PASSWORD, door_config
from emailactions.config.native import from_mapping
from emailactions.config.smtp_server import SmtpServerConfig, message_limit
from emailactions.errors import ConfigError

CLI = [sys.executable, "-m", "emailactions"]


def toml(value: object) -> str:
    """Enough TOML for the test config: nested tables of strings, numbers, booleans and lists."""
    lines: list[str] = []

    def table(prefix: str, data: dict) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        for key, item in scalars.items():
            lines.append(f"{json.dumps(key)} = {json.dumps(item)}")
        for key, item in data.items():
            if isinstance(item, dict):
                table(f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key), item)

    table("", value)  # type: ignore[arg-type]
    return "\n".join(lines) + "\n"


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_smtp_serve_process_accepts_mail_and_stops_on_sigterm(tmp_path, sink):
    port = free_port()
    config = door_config(tmp_path, sink.port, outbox={"autostart": True})
    path = tmp_path / "emailactions.toml"
    path.write_text(toml(config), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([*CLI, "--config", str(path), "smtp-serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_for(lambda: listening(port) or child.poll() is not None, timeout=30, interval=0.05)
        assert child.poll() is None, child.stderr.read().decode()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.login("app", PASSWORD)
            smtp.sendmail("app@example.com", ["bob@example.org"], "From: app@example.com\r\nSubject: from the CLI\r\n\r\nhi\r\n")
        wait_for(lambda: sink.messages, timeout=15)
        assert sink.messages[0].message["Subject"] == "from the CLI"
    finally:
        os.kill(child.pid, signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err.decode()
    assert out == b""  # stdout is for JSON results only
    assert b"SMTP front door listening on 127.0.0.1:" in err and b"queued outbox #1" in err
    assert PASSWORD.encode() not in err and b"AUTH" not in err and b"deprecated" not in err
    assert not listening(port)


def test_smtp_serve_reports_a_port_in_use(tmp_path, sink):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        path = tmp_path / "emailactions.toml"
        path.write_text(toml(door_config(tmp_path, sink.port)), encoding="utf-8")
        done = subprocess.run([*CLI, "--config", str(path), "smtp-serve", "--port", str(port)], capture_output=True, timeout=60)
    assert done.returncode == 1 and b"cannot listen" in done.stderr


def test_an_unreadable_certificate_is_a_config_error(tmp_path, sink):
    (tmp_path / "bad.pem").write_text("not a certificate")
    path = tmp_path / "emailactions.toml"
    config = door_config(tmp_path, sink.port, smtp_server={"tls_cert": str(tmp_path / "bad.pem"), "tls_key": str(tmp_path / "bad.pem")})
    path.write_text(toml(config), encoding="utf-8")
    done = subprocess.run([*CLI, "--config", str(path), "smtp-serve", "--port", "0"], capture_output=True, timeout=60)
    assert done.returncode == 2 and b"smtp_server.tls_cert" in done.stderr and b"Traceback" not in done.stderr


def test_other_commands_do_not_load_the_front_door():
    code = (
        "import sys; from emailactions.cli.common import plugin_manager; plugin_manager(); "
        "print(sorted(m for m in ('asyncio', 'aiosmtpd', 'emailactions.frontdoor') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True)
    assert done.stdout.strip() == b"[]"


def test_plugins_lists_the_front_door_command():
    done = subprocess.run([*CLI, "plugins"], capture_output=True, timeout=60, check=True)
    entry = next(p for p in json.loads(done.stdout) if p["name"] == "emailactions.cli.smtp_serve")
    assert entry["builtin"] and entry["hooks"] == ["register_commands"]


# -- [smtp_server] ---------------------------------------------------------------


def test_defaults():
    settings = from_mapping({}).smtp_server
    assert settings == SmtpServerConfig()
    assert (settings.host, settings.port, settings.implicit_tls, settings.tls_cert) == ("127.0.0.1", 8025, False, None)
    assert message_limit(from_mapping({}).limits) == 4 * -(-25 * 1024 * 1024 // 3) + 10 * 1024 * 1024 + 256 * 1024


def test_keys_are_read(tmp_path):
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    settings = from_mapping(
        {"smtp_server": {"host": "0.0.0.0", "port": 587, "hostname": "mx.example.com", "tls_cert": "c.pem", "tls_key": "k.pem",
                         "implicit_tls": True, "max_message_bytes": 4096, "max_messages_per_connection": 5, "max_connections": 7,
                         "max_bad_commands": 3, "identity_limit": "", "timeout": 30}},
        base=tmp_path,
    ).smtp_server  # fmt: skip
    assert settings.tls_cert == tmp_path / "c.pem" and settings.implicit_tls and settings.identity_limit is None
    assert (settings.port, settings.max_message_bytes, settings.timeout, settings.max_connections) == (587, 4096, 30.0, 7)


@pytest.mark.parametrize(
    "section, key",
    [
        ({"bogus": 1}, "smtp_server.bogus"),
        ({"port": 70000}, "smtp_server.port"),
        ({"tls_cert": "/nonexistent.pem", "tls_key": "/nonexistent.key"}, "smtp_server.tls_cert"),
        ({"implicit_tls": True}, "smtp_server.implicit_tls"),
        ({"identity_limit": "lots"}, "smtp_server.identity_limit"),
        ({"max_message_bytes": 10}, "smtp_server.max_message_bytes"),
        ({"timeout": 0}, "smtp_server.timeout"),
    ],
)
def test_bad_keys_are_refused_naming_them(section, key):
    with pytest.raises(ConfigError) as error:
        from_mapping({"smtp_server": section})
    assert error.value.detail["key"] == key


def test_the_listen_address_is_loopback_by_default_and_options_win(tmp_path, sink):
    from emailactions import ActionHost
    from emailactions.frontdoor.server import BackgroundFrontDoor

    host = ActionHost(door_config(tmp_path, sink.port, smtp_server={"port": 1}), load_entry_points=False)
    with BackgroundFrontDoor(host, None, 0) as door:  # --port 0 over [smtp_server] port = 1
        assert door.address == "127.0.0.1" and door.port not in (0, 1) and listening(door.port)
    host.close()
