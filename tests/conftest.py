"""Shared fixtures: real SMTP servers on loopback, TLS certificates, hosts."""

from __future__ import annotations

import json
import shutil
import ssl
from pathlib import Path
from typing import Iterator

import pytest

# Helpers and contract suites live in tests/support (on sys.path through pytest's `pythonpath`);
# their plain `assert`s must report values, as assertions in test files do.
pytest.register_assert_rewrite("support")

from support import FAST_OUTBOX, ROOT  # noqa: E402
from support.smtp_server import SMTPServer  # noqa: E402


@pytest.fixture(scope="session")
def ca():
    import trustme

    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_tls(ca) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the session, on loopback; a missing install fails here, never skips."""
    from support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A plain SMTP server with SMTPUTF8."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_tls_server(server_tls) -> Iterator[SMTPServer]:
    """STARTTLS required, AUTH required (after TLS)."""
    server = SMTPServer(starttls=server_tls, auth=True).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_config(smtp_server) -> dict:
    return {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 10}},
    }


@pytest.fixture
def smtp_host(smtp_config):
    from emailactions import ActionHost

    host = ActionHost(smtp_config, load_entry_points=False)
    yield host
    host.close()




@pytest.fixture
def outbox_config(smtp_server, tmp_path) -> dict:
    """SMTP to the test server, a file outbox with fast retries, no rate limits."""
    return {
        "email": {"from": "openidm@example.com"},
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 5}},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3"), **FAST_OUTBOX},
        "rate_limits": {"enabled": False},
    }


@pytest.fixture
def outbox_host(outbox_config):
    from emailactions import ActionHost

    host = ActionHost(outbox_config, load_entry_points=False)
    yield host
    host.close()


@pytest.fixture
def example_conf(tmp_path) -> Path:
    """A copy of examples/conf (IDM's external.email.json and templates) a test may change."""
    return Path(shutil.copytree(ROOT / "examples" / "conf", tmp_path / "conf"))


@pytest.fixture
def example_conf_smtp(example_conf, smtp_server) -> Path:
    """The example conf folder, its external.email.json pointed at the test SMTP server."""
    path = example_conf / "external.email.json"
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings.update(host="127.0.0.1", port=smtp_server.port)
    path.write_text(json.dumps(settings), encoding="utf-8")
    return example_conf


@pytest.fixture
def example_config(example_conf) -> dict:
    """The pytest plugin's default config (memory transport, no rate limits) plus the example templates."""
    return {
        "email": {"from": "IDM <openidm@example.com>", "conf": str(example_conf)},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"enabled": False},
    }
