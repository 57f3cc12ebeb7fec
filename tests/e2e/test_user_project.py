"""A user project's own pytest run: its tests never deliver real mail unless they ask.

The project is a temporary folder with its own ``pytest.ini`` (so not this
repository's ``emailactions_deliver = true``), an ``emailactions.toml`` pointing
at a real SMTP server on loopback, and tests that call ``emailactions.action()``
as its application code would. pytest runs in a subprocess and finds the
plugin through its ``pytest11`` entry point, as it does in any project.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_TESTS = '''
import pytest

import emailactions
from emailactions import ActionHost

# Built and used at import, before any test runs: captured as well.
APP_HOST = ActionHost("emailactions.toml")
APP_HOST.action("external/email", "send", {"to": "import@example.com", "subject": "At import"})


def signup(email):
    """The application's code: the default host, configured from ./emailactions.toml."""
    return emailactions.action("external/email", "send", {"to": email, "subject": "Welcome", "body": "Hello"})


def test_signup_sends_a_welcome_mail(emailactions_outbox):
    assert signup("new@example.com")["message"] == "Email sent"
    emailactions_outbox.assert_sent(1, to="new@example.com", subject="Welcome")


def test_each_test_sees_only_its_own_mail(emailactions_outbox):
    APP_HOST.action("external/email", "send", {"to": "app@example.com", "subject": "From the app host"})
    assert emailactions_outbox.subjects == ["From the app host"]


@pytest.mark.emailactions_deliver
def test_delivers_when_marked(emailactions_outbox):
    signup("real@example.com")
    assert len(emailactions_outbox) == 0
'''


def user_project(tmp_path: Path, port: int, tests: str, ini: str = "") -> Path:
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}")
    (tmp_path / "emailactions.toml").write_text(
        f'[email]\nfrom = "shop@example.com"\n[transports.default]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {port}\ntimeout = 5\n'
    )
    (tmp_path / "test_signup.py").write_text(tests)
    return tmp_path


def run_pytest(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    hidden = {"EMAILACTIONS_CONFIG", "EMAILACTIONS_OUTBOX", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    env = {**{k: v for k, v in os.environ.items() if k not in hidden}, **env}
    # This environment's heavy test plugins are no part of the user project: left out, they save seconds a run.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:schemathesis",
               "--strict-markers", "test_signup.py"]  # fmt: skip
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_user_tests_send_nothing_unless_marked(tmp_path, smtp_server):
    run = run_pytest(user_project(tmp_path, smtp_server.port, USER_TESTS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
    # Only the marked test reached the relay; at import, the app host's and the default host's mail did not.
    assert [m.rcpt_tos for m in smtp_server.messages] == [["real@example.com"]]


DELIVERING_SUITE = '''
import pytest

import emailactions


def send(subject):
    emailactions.action("external/email", "send", {"to": "b@example.com", "subject": subject})


def test_delivers():
    send("delivered")


@pytest.mark.emailactions_deliver(False)
def test_captured(emailactions_outbox):
    send("captured")
    assert emailactions_outbox.subjects == ["captured"]


@pytest.mark.emailactions_deliver(on=False)
def test_captured_by_keyword(emailactions_outbox):
    send("captured")
    assert len(emailactions_outbox) == 1
'''


@pytest.mark.parametrize("autoload", ["", "1"])
def test_the_old_plugin_module_still_works(tmp_path, smtp_server, autoload):
    """``pytest_plugins = ["emailactions.pytest_plugin"]``, alone or beside the entry point."""
    project = user_project(tmp_path, smtp_server.port, USER_TESTS)
    (project / "conftest.py").write_text('pytest_plugins = ["emailactions.pytest_plugin"]\n')
    run = run_pytest(project, **({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": autoload} if autoload else {}))
    assert run.returncode == 0, run.stdout + run.stderr
    assert [m.rcpt_tos for m in smtp_server.messages] == [["real@example.com"]]


def test_the_ini_option_delivers_and_a_marker_captures(tmp_path, smtp_server):
    run = run_pytest(user_project(tmp_path, smtp_server.port, DELIVERING_SUITE, ini="emailactions_deliver = true\n"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout
    assert [m.message["Subject"] for m in smtp_server.messages] == ["delivered"]
