"""``emailactions run SCRIPT``: run a script file with ``openidm`` in scope.

A plugin of the CLI's adding its command through ``register_commands``, reusing
the CLI's JSON output and errors: the script's result goes to stdout as
JSON, its console and logger lines to stderr, an uncaught error to stderr
as IDM's error JSON (exit 1).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from emailactions.cli.common import accept_language, no_wait, parse_json, run_action
from emailactions.errors import InvalidParams
from emailactions.hookspecs import hookimpl
from emailactions.scripting.base import ScriptLimits


def _stderr_console(level: str, text: str) -> None:
    # stdout carries the result (and the console transport's mail); keep it parseable.
    prefix = "" if level in ("log", "info") else f"[{level}] "
    click.echo(f"{prefix}{text}", err=True)


def _properties(values: tuple[str, ...]) -> dict[str, str]:
    props = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidParams(f"Option -D expects NAME=VALUE, not {item!r}", param="property")
        props[name] = value
    return props


@click.command("run")
@click.argument("script", metavar="SCRIPT")
@click.option("--language", metavar="NAME", help="Script language (default: from the file extension; required for -).")
@click.option("--globals", "globals_", metavar="JSON", help="Extra global variables, as a JSON object; @FILE reads a file.")
@click.option("-D", "--property", "properties", multiple=True, metavar="NAME=VALUE", help="A value for identityServer.getProperty (repeatable).")
@click.option("--caller", metavar="ID", help="context.security.authenticationId seen by the script.")
@click.option("--time-limit", type=float, default=ScriptLimits.time_limit, show_default=True, help="Seconds before the script is stopped (0: none).")
@click.option("--memory-limit", type=int, default=ScriptLimits.memory_limit // (1024 * 1024), show_default=True,
              help="MiB the JavaScript engine may use (0: none).")  # fmt: skip
@accept_language
@no_wait
@click.pass_context
def run_command(ctx: click.Context, script: str, language: str | None, globals_: str | None, properties: tuple[str, ...],
                caller: str | None, time_limit: float, memory_limit: int, accept_language: str | None, no_wait: bool) -> None:  # fmt: skip
    """Run SCRIPT (.js or .py; - reads stdin) and print its result as JSON.

    The script calls openidm.action("external/email", "send", params) as in
    IDM; --accept-language and --no-wait reach every action it calls.
    """

    def call(host: Any) -> Any:
        source: str = script
        if script == "-":
            source = sys.stdin.read()
            if "\n" not in source:
                source += "\n"  # one-line stdin is source text, never a file name
        extra = parse_json(globals_, "globals")
        if extra is not None and not isinstance(extra, dict):
            raise InvalidParams("Option --globals must be a JSON object", param="globals")
        return host.run_script(
            source,
            language=language,
            globals=extra,
            accept_language=accept_language,
            wait_for_completion=not no_wait,
            caller=caller,
            properties=_properties(properties),
            console=_stderr_console,
            limits=ScriptLimits(time_limit=time_limit if time_limit > 0 else None,
                                memory_limit=memory_limit * 1024 * 1024 if memory_limit > 0 else None),  # fmt: skip
        )

    run_action(ctx, call)


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(run_command)
