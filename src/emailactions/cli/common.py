"""What every command shares: the global state and host, JSON output, the one error path, options."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any, Callable, Iterable, NoReturn

import click

from emailactions.errors import EmailActionsError, InvalidParams

#: The CLI's own plugins: each adds its commands through ``register_commands``,
#: into the one manager the CLI and its host share.
COMMAND_PLUGINS: tuple[str, ...] = (
    "emailactions.cli.templates",
    "emailactions.cli.outbox",
    "emailactions.cli.server",
    "emailactions.cli.run",
)


def plugin_manager(plugins: Iterable[object] = ()) -> Any:
    """The CLI's manager: the built-ins, the CLI's own plugins, installed ones, then ``plugins``."""
    from emailactions import plugins as loader

    return loader.get_plugin_manager(builtins=(*loader.DEFAULT_PLUGINS, *COMMAND_PLUGINS), plugins=plugins)


class State:
    """Global options, the plugin manager, and the host built from them on first use."""

    def __init__(self, source: str | None, plugin_manager: Any = None) -> None:
        self.source = source
        self.plugin_manager = plugin_manager
        #: Start outbox delivery with the host; the outbox commands decide how delivery runs.
        self.autostart = True
        self._host: Any = None

    @property
    def host(self) -> Any:
        if self._host is None:
            from emailactions.config.loader import default_config_source, load_config
            from emailactions.host import ActionHost

            config = load_config(self.source or default_config_source())
            if not self.autostart:
                config = replace(config, outbox=replace(config.outbox, autostart=False))
            if self.plugin_manager is None:  # invoked without main(), as click's test runner does
                self.plugin_manager = plugin_manager()
            self._host = ActionHost(config, plugin_manager=self.plugin_manager)
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()


def emit(result: Any) -> None:
    """Print a result as JSON on stdout."""
    click.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def fail(exc: EmailActionsError) -> NoReturn:
    """Print the error JSON on stderr and exit 1: the one way a command fails."""
    click.echo(json.dumps(exc.to_dict(), indent=2, ensure_ascii=False, default=str), err=True)
    sys.exit(1)


def run_action(ctx: click.Context, call: Callable[[Any], Any]) -> None:
    """Run ``call(host)``; print its result, or fail with the error JSON."""
    state: State = ctx.obj
    try:
        emit(call(state.host))
    except EmailActionsError as exc:
        fail(exc)
    finally:
        state.close()


def parse_json(value: str | None, name: str) -> Any:
    """A JSON option; ``@file`` reads it from a file, ``-`` from stdin."""
    if value is None:
        return None
    try:
        if value == "-":
            value = sys.stdin.read()
        elif value.startswith("@"):
            with open(value[1:], encoding="utf-8") as fh:
                value = fh.read()
        return json.loads(value)
    except (OSError, ValueError) as exc:
        raise InvalidParams(f"Option --{name} is not valid JSON: {exc}", param=name) from None


no_wait = click.option("--no-wait", is_flag=True, help="Answer 'Email submitted' (waitForCompletion=false).")
accept_language = click.option("--accept-language", metavar="HEADER", help="Preferred locales, as the Accept-Language header.")
