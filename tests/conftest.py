"""Shared fixtures: real SMTP servers on loopback, TLS certificates, hosts."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from smtp_server import PASSWORD, USER, SMTPServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


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


__all__ = ["USER", "PASSWORD"]
