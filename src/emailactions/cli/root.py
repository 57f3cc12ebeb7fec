"""The ``emailactions`` command group, its own commands, and ``main``.

Results go as JSON to stdout and nothing else does; an action error goes as
the error JSON to stderr (exit 1), a usage or config error as a plain message
(exit 2), log lines to stderr (see :mod:`.common` and :mod:`.logs`). Other
commands come from plugins, the CLI's own included.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

import click

from emailactions.cli.common import State, accept_language, add_command_plugins, fail, no_wait, parse_json, plugin_manager, read_file, run_action
from emailactions.cli.logs import LEVELS, CliLogging, level_from
from emailactions.errors import ConfigError, EmailActionsError


#: The group's own commands: they need none of the CLI's command plugins.
OWN_COMMANDS = frozenset({"send", "action"})


class Commands(click.Group):
    """The root group. The CLI's own command plugins (templates, outbox, serve...)
    are imported only when a command other than ``send`` or ``action`` runs, or
    the commands are listed: a cold ``emailactions send`` loads none of them."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in OWN_COMMANDS:
            self._add_plugins(ctx)
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugins(ctx)
        return super().list_commands(ctx)

    def _add_plugins(self, ctx: click.Context) -> None:
        obj = ctx.find_root().obj  # main()'s manager, or the State built from it
        pm = getattr(obj, "plugin_manager", obj)
        if pm is not None:
            add_command_plugins(pm, self)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--conf", type=click.Path(file_okay=False), help="An IDM conf/ folder (external.email.json, emailTemplate-*.json).")
@click.option("--config", type=click.Path(dir_okay=False), help="An emailactions.toml file.")
@click.option("-v", "--verbose", count=True, help="Log more on stderr: -v INFO, -vv DEBUG with the SMTP dialogue (credentials masked).")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), help="Log level on stderr (default WARNING; INFO for serve and worker).")
@click.version_option(package_name="emailactions")
@click.pass_context
def cli(ctx: click.Context, conf: str | None, config: str | None, verbose: int, log_level: str | None) -> None:
    """Run IDM-style email actions: send, sendTemplate and more.

    Without --conf or --config, EMAILACTIONS_CONFIG or ./emailactions.toml is
    read; with neither, mail is printed on the console transport (on stderr).
    The result is JSON on stdout. Exit status: 0 done, 1 the action failed
    (error JSON on stderr), 2 a usage or config error (a plain message).
    """
    if conf and config:
        raise click.UsageError("Give --conf or --config, not both.")
    logs = CliLogging(level_from(verbose, log_level))
    ctx.call_on_close(logs.close)
    # main() hands in the plugin manager; the host shares it.
    ctx.obj = State(conf or config, ctx.obj, logs)


@cli.command("action")
@click.argument("resource")
@click.argument("action_name", metavar="ACTION")
@click.option("--params", metavar="JSON", help="Params as JSON; @FILE reads a file, - reads stdin.")
@accept_language
@no_wait
@click.pass_context
def action_command(ctx: click.Context, resource: str, action_name: str, params: str | None, accept_language: str | None, no_wait: bool) -> None:
    """Run any action on a resource, with its params as JSON.

    Example: emailactions action external/email send --params @examples/send.json
    """
    run_action(
        ctx,
        lambda host: host.action(
            resource, action_name, parse_json(params, "params") or {}, accept_language=accept_language, wait_for_completion=not no_wait
        ),
    )


@cli.command("send")
@click.option("--from", "from_", metavar="ADDRESS", help="Sender (default: the config's 'from').")
@click.option("--to", metavar="ADDRESSES", help="Comma-separated recipients.")
@click.option("--cc", metavar="ADDRESSES")
@click.option("--bcc", metavar="ADDRESSES", help="Envelope-only recipients.")
@click.option("--subject", default="", show_default=False)
@click.option("--body", default="", help="Body text; @FILE reads a file, - reads stdin.")
@click.option("--type", "type_", default="text/plain", show_default=True, type=click.Choice(["text/plain", "text/html", "text/xml"]))
@no_wait
@click.pass_context
def send_command(ctx: click.Context, from_: str | None, to: str | None, cc: str | None, bcc: str | None, subject: str, body: str, type_: str, no_wait: bool) -> None:
    """Send one email, as external/email `send`."""

    def call(host: Any) -> Any:
        text = body
        if text == "-":
            text = sys.stdin.read()
        elif text.startswith("@"):
            text = read_file(text, "body")
        params = {"from": from_, "to": to, "cc": cc, "bcc": bcc, "subject": subject, "body": text, "type": type_}
        return host.action("external/email", "send", {k: v for k, v in params.items() if v is not None}, wait_for_completion=not no_wait)

    run_action(ctx, call)


@cli.command("plugins")
@click.pass_context
def plugins_command(ctx: click.Context) -> None:
    """List loaded plugins with the transports, engines, stores, outbox backends and actions they register, as JSON."""
    from emailactions.plugins import list_plugins

    def call(host: Any) -> Any:
        plugins = list_plugins(host.plugin_manager)
        for plugin in plugins:
            plugin["transports"] = host.transport_classes.names_of(plugin["name"])
            plugin["engines"] = host.engine_classes.names_of(plugin["name"])
            plugin["template_stores"] = host.template_stores.names_of(plugin["name"])
            plugin["outbox_backends"] = host.outbox_backends.names_of(plugin["name"])
            plugin["actions"] = host.actions.owned_by(plugin["name"])
        return plugins

    run_action(ctx, call)


def main(argv: list[str] | None = None, *, plugins: Iterable[object] = ()) -> None:
    """Entry point: build the one plugin manager, let plugins add commands, then run.

    ``plugins`` are extra plugin objects or modules (an embedding
    application's, a test's): their commands join the CLI and their other
    hooks reach the host the commands use, through the same manager.
    """
    try:
        pm = plugin_manager(plugins, commands=False)
        pm.hook.register_commands(cli=cli)
    except ConfigError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    except EmailActionsError as exc:
        fail(exc)
    cli.main(args=argv, prog_name="emailactions", obj=pm)
