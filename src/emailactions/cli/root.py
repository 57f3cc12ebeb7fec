"""The ``emailactions`` command group, its own commands, and ``main``.

Results go as JSON to stdout, errors as the error JSON to stderr (see
:mod:`.common`). Other commands come from plugins, the CLI's own included.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

import click

from emailactions.cli.common import State, accept_language, fail, no_wait, parse_json, plugin_manager, run_action
from emailactions.errors import EmailActionsError, InvalidParams


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--conf", type=click.Path(file_okay=False), help="An IDM conf/ folder (external.email.json, emailTemplate-*.json).")
@click.option("--config", type=click.Path(dir_okay=False), help="An emailactions.toml file.")
@click.version_option(package_name="emailactions")
@click.pass_context
def cli(ctx: click.Context, conf: str | None, config: str | None) -> None:
    """Run IDM-style email actions: send, sendTemplate and more.

    Without --conf or --config, EMAILACTIONS_CONFIG or ./emailactions.toml is
    read; with neither, mail is printed on the console transport.
    """
    if conf and config:
        raise click.UsageError("Give --conf or --config, not both.")
    # main() hands in the plugin manager; the host shares it.
    ctx.obj = State(conf or config, ctx.obj)


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
            try:
                with open(text[1:], encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise InvalidParams(f"Cannot read --body file: {exc.strerror}", param="body") from None
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
        pm = plugin_manager(plugins)
        pm.hook.register_commands(cli=cli)
    except EmailActionsError as exc:
        fail(exc)
    cli.main(args=argv, prog_name="emailactions", obj=pm)
