"""``emailactions check-config``: load a config, build its host and transports, print what it resolved.

A plugin of the CLI's (``register_commands``). Secrets never reach the
output: values under secret-looking keys (passwords, password hashes, API
key digests, tokens) are masked, and so are credentials inside URIs
(``redis://:PASSWORD@host``) and ``password=`` in connection strings.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from typing import Any, Mapping

import click

from emailactions.cli.common import ConfigProblem, State, emit, plugin_manager
from emailactions.errors import EmailActionsError
from emailactions.hookspecs import hookimpl

MASK = "********"
_SECRET_KEY = re.compile(r"pass|secret|token|digest|api_?key|private|credential", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(?<=://)([^/@\s:]*):[^/@\s]*@")
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def masked(value: Any, key: str = "") -> Any:
    """``value`` as JSON-ready data, with secrets replaced by ``********``."""
    # A table under a secret-looking name ([server.api_keys]) is walked; anything else under one is masked.
    if _SECRET_KEY.search(key) and not isinstance(value, Mapping) and value not in (None, ""):
        return MASK
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name.rstrip("_"): masked(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((masked(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if isinstance(value, bytes):
        return MASK
    if isinstance(value, str):
        return _DSN_PASSWORD.sub(rf"\g<1>{MASK}", _URI_PASSWORD.sub(rf"\g<1>:{MASK}@", value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)  # Path and other plain values


@click.command("check-config")
@click.option("--conf", type=click.Path(file_okay=False), help="An IDM conf/ folder (as the global --conf).")
@click.option("--config", type=click.Path(dir_okay=False), help="An emailactions.toml file (as the global --config).")
@click.pass_context
def check_config_command(ctx: click.Context, conf: str | None, config: str | None) -> None:
    """Check the config (--conf, --config or the default) and print what it resolved, secrets masked.

    Builds the host and every transport, as a send would; exits 0, or 2 with
    the problem.
    """
    from emailactions.config.loader import default_config_source, load_config
    from emailactions.host import ActionHost

    state: State = ctx.obj
    # Also after the command name, where someone checking one file types it.
    source = conf or config or state.source or default_config_source()
    try:
        config = load_config(source)
        pm = state.plugin_manager or plugin_manager()
        with ActionHost(replace(config, outbox=replace(config.outbox, autostart=False)), plugin_manager=pm) as host:
            for alias in config.transports:
                host.transport(alias)
    except EmailActionsError as exc:  # a plugin that cannot load is as much a config problem
        raise ConfigProblem.of(exc) from None
    emit(masked(config))


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(check_config_command)

