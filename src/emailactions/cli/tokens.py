"""``emailactions address-token``: an address JWT for the cloudflare_temp_email dialect.

A token (HS256, PyJWT) binds its holder to one sender address: the server's
``/api/send_mail`` routes send only from the ``address`` it carries. It is
signed with ``[server] jwt_secret`` or ``EMAILACTIONS_JWT_SECRET``, the same
secret the server checks it with.
"""

from __future__ import annotations

import re
from typing import Any

import click

from emailactions.cli.common import ConfigProblem, emit
from emailactions.errors import ConfigError, EmailActionsError
from emailactions.hookspecs import hookimpl
from emailactions.server.address_tokens import issue

#: Seconds per unit of ``--expires``.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw]?)\s*")


def duration(value: str) -> int:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w`` in seconds (more than 0)."""
    match = _DURATION.fullmatch(value.lower())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter(f"{value!r} is not a duration like 3600, 30m, 12h, 7d or 2w", param_hint="--expires")
    return int(match.group(1)) * UNITS[match.group(2) or "s"]


@click.command("address-token")
@click.argument("address")
@click.option("--expires", metavar="DURATION", help="Lifetime: seconds, or 30m, 12h, 7d, 2w (default: no expiry).")
@click.pass_context
def address_token_command(ctx: click.Context, address: str, expires: str | None) -> None:
    """Print an address JWT that may send only from ADDRESS (tempmail dialect)."""
    from emailactions.config.loader import default_config_source, load_config
    from emailactions.params.addresses import parse_address

    expires_in = duration(expires) if expires is not None else None
    try:
        sender = parse_address(address, "address").addr
    except EmailActionsError as exc:
        raise click.BadParameter(exc.message, param_hint="ADDRESS") from None
    state = ctx.obj
    try:
        settings = load_config(state.source or default_config_source()).server
    except ConfigError as exc:
        raise ConfigProblem.of(exc) from None
    secret = settings.address_token_secret()
    if secret is None:
        raise ConfigProblem("No secret to sign with: set [server] jwt_secret or EMAILACTIONS_JWT_SECRET")
    try:
        token = issue(sender, secret, expires_in)
    except ImportError:
        raise click.ClickException("address-token needs PyJWT: pip install 'emailactions[server]'") from None
    emit(token)


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(address_token_command)
