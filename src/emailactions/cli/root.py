"""The ``emailactions`` command: results as JSON on stdout, errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from emailactions.errors import EmailActionsError, InvalidParams


class _State:
    """Global options, and the host built from them on first use."""

    def __init__(self, conf: str | None, config: str | None) -> None:
        self.source = conf or config
        self._host: Any = None

    @property
    def host(self) -> Any:
        if self._host is None:
            from emailactions.config import default_config_source
            from emailactions.host import ActionHost

            self._host = ActionHost(self.source or default_config_source())
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()


def emit(result: Any) -> None:
    """Print a result as JSON on stdout."""
    click.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def run_action(ctx: click.Context, call: Callable[[Any], Any]) -> None:
    """Run ``call(host)``; print its result, or the error JSON and exit 1."""
    state: _State = ctx.obj
    try:
        emit(call(state.host))
    except EmailActionsError as exc:
        click.echo(json.dumps(exc.to_dict(), indent=2, ensure_ascii=False, default=str), err=True)
        ctx.exit(1)
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
    ctx.obj = _State(conf, config)


_no_wait = click.option("--no-wait", is_flag=True, help="Answer 'Email submitted' (waitForCompletion=false).")
_accept_language = click.option("--accept-language", metavar="HEADER", help="Preferred locales, as the Accept-Language header.")


@cli.command("action")
@click.argument("resource")
@click.argument("action_name", metavar="ACTION")
@click.option("--params", metavar="JSON", help="Params as JSON; @FILE reads a file, - reads stdin.")
@_accept_language
@_no_wait
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
@_no_wait
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
    """List loaded plugins with the transports, engines and actions they register, as JSON."""
    from emailactions.plugins import list_plugins

    def call(host: Any) -> Any:
        plugins = list_plugins(host.plugin_manager)
        for plugin in plugins:
            plugin["transports"] = sorted(n for n, (_, p) in host.transport_classes.items() if p == plugin["name"])
            plugin["engines"] = sorted(n for n, (_, p) in host.engine_classes.items() if p == plugin["name"])
            plugin["actions"] = sorted(
                f"{r}/{a}" for r in host.actions.resources() for a in host.actions.actions(r) if host.actions.plugin(r, a) == plugin["name"]
            )
        return plugins

    run_action(ctx, call)


def main(argv: list[str] | None = None) -> None:
    """Entry point: add plugin commands, then run."""
    from emailactions.plugins import get_plugin_manager

    try:
        get_plugin_manager().hook.register_commands(cli=cli)
    except EmailActionsError as exc:
        click.echo(json.dumps(exc.to_dict(), indent=2), err=True)
        sys.exit(1)
    cli.main(args=argv, prog_name="emailactions")
