"""``emailactions smtp-serve``: the SMTP submission front door, until SIGTERM or SIGINT.

A plugin of the CLI's (``register_commands``). aiosmtpd and asyncio load only
when the command runs: every other command works without the ``smtp-server``
extra, and starts no slower.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from emailactions.cli.common import ConfigProblem, fail
from emailactions.errors import ConfigError, EmailActionsError
from emailactions.hookspecs import hookimpl

log = logging.getLogger("emailactions.frontdoor")
_LOCAL = ("127.0.0.1", "localhost", "::1")


@click.command("smtp-serve")
@click.option("--host", "bind", metavar="ADDRESS", help="Address to listen on (default: [smtp_server] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [smtp_server] port, 8025).")
@click.pass_context
def smtp_serve_command(ctx: click.Context, bind: str | None, port: int | None) -> None:
    """Accept mail over SMTP (AUTH as a [server] user, an API key or an address token) into the outbox.

    Each message is checked as `send` checks its params and committed to the
    outbox before the 250. SIGINT or SIGTERM stops accepting connections;
    queued mail stays in the outbox file for the next start.
    """
    state = ctx.obj
    state.autostart = True  # deliver what comes in while serving
    if state.logs is not None:
        state.logs.default("INFO")
    try:
        importlib.import_module("emailactions.frontdoor.server")  # aiosmtpd missing: a clear error first
        from emailactions.frontdoor.door import FrontDoor

        host = state.host
        door = FrontDoor(host)
    except ConfigError as exc:
        raise ConfigProblem.of(exc) from None
    except EmailActionsError as exc:
        fail(exc)
    config = host.config
    settings = config.smtp_server
    if not host.dispatcher.outbox.durable:
        logging.getLogger("emailactions.outbox").warning(
            "outbox is in memory: mail accepted with 250 is lost if this process stops; set [outbox] path"
        )
    if settings.tls_cert is None and (bind or settings.host) not in _LOCAL:
        log.warning("no [smtp_server] tls_cert/tls_key: clients off this machine cannot log in (AUTH needs TLS)")
    server = config.server
    if not server.users and not server.api_keys and not server.address_token_secret():
        log.warning("no [server] users, api_keys or jwt_secret: every login will be refused")
    import asyncio  # ~50 ms: only this command pays for it

    try:
        asyncio.run(_serve(host, door, bind, port))
    except OSError as exc:
        click.echo(f"Error: cannot listen: {exc.strerror or exc}", err=True)
        sys.exit(1)


async def _serve(host: Any, door: Any, bind: str | None, port: int | None) -> None:
    import asyncio
    import signal

    from emailactions.frontdoor.server import start

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    listening = await start(host, bind, port, door)
    try:
        await stop.wait()
    finally:
        log.info("SMTP front door stopping")
        await listening.close()


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(smtp_serve_command)
