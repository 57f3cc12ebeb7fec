"""CLI commands for the REST server: ``serve``, ``hash-password`` and ``api-key``.

A plugin of the CLI's (``register_commands``). It imports no web framework: the
server's libraries load when ``serve`` runs, so every other command works
without the ``[server]`` extra.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import click

from emailactions.cli.common import ConfigProblem, emit, fail
from emailactions.errors import ConfigError, EmailActionsError, EngineUnavailable
from emailactions.hookspecs import hookimpl

log = logging.getLogger("emailactions.server")


class _Stopped(Exception):
    """The stop signal uvicorn re-raises once its graceful shutdown is done."""


def _stopped(signum: int, frame: Any) -> None:
    raise _Stopped(signum)


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:
        raise EngineUnavailable("emailactions serve needs the server extra: pip install 'emailactions[server]'", extra="server") from exc
    return uvicorn


@click.command("serve")
@click.option("--conf", type=click.Path(file_okay=False), help="An IDM conf/ folder (may hold emailactions-server.toml).")
@click.option("--config", type=click.Path(dir_okay=False), help="An emailactions.toml file with a [server] section.")
@click.option("--host", "bind", metavar="ADDRESS", help="Address to listen on (default: [server] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [server] port, 8080).")
@click.pass_context
def serve_command(ctx: click.Context, conf: str | None, config: str | None, bind: str | None, port: int | None) -> None:
    """Serve the IDM- and FusionAuth-compatible REST API until stopped.

    SIGINT or SIGTERM stops accepting requests, lets those in flight finish
    (up to [server] shutdown_timeout), then stops delivery: mail submitted
    but not yet sent stays in the outbox file for the next start.
    """
    if conf and config:
        raise click.UsageError("Give --conf or --config, not both.")
    state = ctx.obj
    if conf or config:
        state.source = conf or config
    state.autostart = True  # the server delivers submitted mail while it runs
    if state.logs is not None:
        state.logs.default("INFO")
    try:
        uvicorn = _uvicorn()
        from emailactions.server.app import create_app

        host = state.host
    except ConfigError as exc:
        raise ConfigProblem.of(exc) from None
    except EmailActionsError as exc:
        fail(exc)
    settings = host.config.server
    if not host.dispatcher.outbox.durable:
        # The dispatcher's own words, at start rather than first submit: the
        # CLI's log handler prints each warning once, so it is not repeated then.
        logging.getLogger("emailactions.outbox").warning(
            "outbox is in memory: submitted mail is lost if this process stops; set [outbox] path"
        )
    if settings.tls_cert is None and (bind or settings.host) not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving plain HTTP on %s: passwords and API keys cross the network in clear; set [server] tls_cert/tls_key or use a TLS proxy", bind or settings.host)
    if not settings.users and not settings.api_keys and not settings.anonymous:
        log.warning("no [server] users, api_keys or anonymous permissions: every request will be refused (401)")
    app = create_app(host, close_host=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=bind or settings.host,
            port=settings.port if port is None else port,
            lifespan="on",
            access_log=False,  # our own request log names the caller and never the body
            server_header=False,
            timeout_graceful_shutdown=settings.shutdown_timeout,
            log_level="info",
            # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; only named proxies here.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=list(settings.trusted_proxies) or None,
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
        )
    )
    # uvicorn handles SIGINT/SIGTERM itself while it runs, then re-raises the
    # signal; by then the shutdown was clean, so it ends here with status 0.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        sys.exit(1)


@click.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin instead of prompting.")
def hash_password_command(from_stdin: bool) -> None:
    """Print a scrypt hash of a password for [server.users.NAME] password."""
    from emailactions.config.passwords import hash_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.UsageError("The password is empty.")
    emit({"hash": hash_password(password)})


@click.command("api-key")
def api_key_command() -> None:
    """Print a new random API key and the SHA-256 to put in [server.api_keys.NAME] key_sha256."""
    from emailactions.config.passwords import key_digest, new_api_key

    key = new_api_key()
    emit({"key": key, "key_sha256": key_digest(key).hex()})


@hookimpl
def register_commands(cli: Any) -> None:
    for command in (serve_command, hash_password_command, api_key_command):
        cli.add_command(command)
