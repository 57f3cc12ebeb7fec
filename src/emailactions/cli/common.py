"""What every command shares: the global state and host, JSON output, the two error paths, options."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, NoReturn

import click

from emailactions.cli.logs import CliLogging
from emailactions.cli.submitted import Queued, deliver_now, one_shot, where_queued
from emailactions.errors import ConfigError, EmailActionsError
from emailactions.params.incoming import load_json

if TYPE_CHECKING:
    from emailactions.config.model import Config

#: The CLI's own plugins: each adds its commands through ``register_commands``,
#: into the one manager the CLI and its host share.
COMMAND_PLUGINS: tuple[str, ...] = (
    "emailactions.cli.templates",
    "emailactions.cli.outbox",
    "emailactions.cli.server",
    "emailactions.cli.run",
    "emailactions.cli.check",
    "emailactions.cli.tokens",
    "emailactions.cli.smtp_serve",
)


def plugin_manager(plugins: Iterable[object] = (), *, commands: bool = True) -> Any:
    """The CLI's manager: the built-ins, the CLI's own plugins (unless not ``commands``:
    :func:`add_command_plugins` adds them when a command needs them), installed ones, then ``plugins``."""
    from emailactions import plugins as loader

    builtins = (*loader.DEFAULT_PLUGINS, *COMMAND_PLUGINS) if commands else loader.DEFAULT_PLUGINS
    return loader.get_plugin_manager(builtins=builtins, plugins=plugins)


def add_command_plugins(pm: Any, cli: click.Group) -> None:
    """Register the CLI's own plugins into ``pm`` and let them add their commands to ``cli``, once."""
    if all(pm.has_plugin(name) for name in COMMAND_PLUGINS):
        return
    pm.register_builtins(COMMAND_PLUGINS)
    others = [plugin for name, plugin in pm.list_name_plugin() if name not in COMMAND_PLUGINS]
    pm.subset_hook_caller("register_commands", remove_plugins=others)(cli=cli)


class State:
    """Global options, the plugin manager, and the host built from them on first use."""

    def __init__(self, source: str | None, plugin_manager: Any = None, logs: CliLogging | None = None) -> None:
        self.source = source
        self.plugin_manager = plugin_manager
        #: Start background delivery with the host: only ``serve`` does; a
        #: one-shot command ends too soon, and ``worker`` / ``drain`` run it themselves.
        self.autostart = False
        #: The run's logging (set by the group; ``None`` when a command runs alone).
        self.logs = logs
        self._host: Any = None

    @property
    def host(self) -> Any:
        if self._host is None:
            from emailactions.config.loader import default_config_source, load_config
            from emailactions.host import ActionHost

            config = cli_defaults(load_config(self.source or default_config_source()))
            if not self.autostart:
                config = one_shot(config)
            if self.logs is not None and any(t.get("debug") is True for t in config.transports.values()):
                self.logs.smtp_debug()
            if self.plugin_manager is None:  # invoked without main(), as click's test runner does
                self.plugin_manager = plugin_manager()
            self._host = ActionHost(config, plugin_manager=self.plugin_manager)
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()


def cli_defaults(config: Config) -> Config:
    """The CLI's defaults: a console transport writes to stderr, so stdout holds only the result."""
    transports = {
        alias: {"stream": "stderr", **options} if options.get("backend") == "console" else options
        for alias, options in config.transports.items()
    }
    return replace(config, transports=transports)


def emit(result: Any) -> None:
    """Print a result as JSON on stdout."""
    click.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def fail(error: EmailActionsError | dict[str, Any]) -> NoReturn:
    """Print the error JSON on stderr and exit 1: the one way an action fails."""
    body = error.to_dict() if isinstance(error, EmailActionsError) else error
    click.echo(json.dumps(body, indent=2, ensure_ascii=False, default=str), err=True)
    sys.exit(1)


class ConfigProblem(click.ClickException):
    """A config error: a plain message on stderr and exit 2, as click's usage errors."""

    exit_code = 2

    @classmethod
    def of(cls, exc: EmailActionsError) -> "ConfigProblem":
        key = exc.detail.get("key")
        named = not key or str(key).lower() in exc.message.lower()
        return cls(exc.message if named else f"{exc.message} (config key: {key})")


def run_action(ctx: click.Context, call: Callable[[Any], Any]) -> None:
    """Run ``call(host)`` and print its result; a config error exits 2, an action error 1 with its JSON.

    Mail the call submitted is delivered before the process ends, or the
    result says where it waits (:mod:`emailactions.cli.submitted`).
    """
    state: State = ctx.obj
    queued = Queued()
    try:
        host = state.host
        host.plugin_manager.register(queued, name="emailactions.cli.submitted")
        result = call(host)
        if queued.ids:
            outbox = host.dispatcher.outbox
            if not outbox.durable:
                error = deliver_now(host)
                if error is not None:
                    fail(error)
                if isinstance(result, dict) and "outboxId" in result and "state" in result:
                    result = {**result, "state": outbox.get(result["outboxId"]).state}
            else:
                result = where_queued(outbox, result, state.source)
        emit(result)
    except ConfigError as exc:
        raise ConfigProblem.of(exc) from None
    except EmailActionsError as exc:
        fail(exc)
    finally:
        if state.plugin_manager is not None and state.plugin_manager.is_registered(queued):
            state.plugin_manager.unregister(queued)
        state.close()


def read_file(value: str, name: str) -> str:
    """The text of ``@FILE`` given to ``--name``; unreadable is a usage error (exit 2)."""
    try:
        with open(value[1:], encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value[1:]!r}: {exc.strerror}", param_hint=f"--{name}") from None


def parse_json(value: str | None, name: str) -> Any:
    """A JSON option; ``@file`` reads it from a file, ``-`` from stdin."""
    if value is None:
        return None
    if value == "-":
        value = sys.stdin.read()
    elif value.startswith("@"):
        value = read_file(value, name)
    return load_json(value, f"Option --{name}", name)


no_wait = click.option("--no-wait", is_flag=True, help="Answer 'Email submitted' (waitForCompletion=false).")
accept_language = click.option("--accept-language", metavar="HEADER", help="Preferred locales, as the Accept-Language header.")
