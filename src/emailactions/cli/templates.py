"""CLI commands for templates: ``send-template``, ``preview`` and ``templates ...``.

A plugin of the CLI's (registered by it, not by the core): it adds its
commands through ``register_commands`` like any third-party package would, reusing the CLI's JSON output and errors.
"""

from __future__ import annotations

from typing import Any

import click

from emailactions.cli.common import accept_language, no_wait, parse_json, run_action
from emailactions.hookspecs import hookimpl

_object = click.option("--object", "object_", metavar="JSON", help="The render data ('object'); @FILE reads a file, - reads stdin.")
_locale = click.option("--locale", metavar="L", help="The _locale param (after Accept-Language).")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@click.command("send-template")
@click.argument("name")
@click.option("--to", metavar="ADDRESSES", help="Comma-separated recipients.")
@click.option("--cc", metavar="ADDRESSES")
@click.option("--bcc", metavar="ADDRESSES", help="Envelope-only recipients.")
@click.option("--from", "from_", metavar="ADDRESS", help="Sender; beats the template's and the config's.")
@_object
@_locale
@accept_language
@no_wait
@click.pass_context
def send_template_command(ctx: click.Context, name: str, to: str | None, cc: str | None, bcc: str | None, from_: str | None,
                          object_: str | None, locale: str | None, accept_language: str | None, no_wait: bool) -> None:  # fmt: skip
    """Send the template NAME, as external/email `sendTemplate`."""
    run_action(
        ctx,
        lambda host: host.action(
            "external/email",
            "sendTemplate",
            _params(templateName=name, to=to, cc=cc, bcc=bcc, **{"from": from_}, object=parse_json(object_, "object"), _locale=locale),
            accept_language=accept_language,
            wait_for_completion=not no_wait,
        ),
    )


@click.command("preview")
@click.argument("name", required=False)
@click.option("--template", "inline", metavar="JSON", help="Preview this template (IDM or native JSON) instead of a stored one.")
@_object
@_locale
@accept_language
@click.pass_context
def preview_command(ctx: click.Context, name: str | None, inline: str | None, object_: str | None, locale: str | None, accept_language: str | None) -> None:
    """Render the template NAME without sending: subject, from, text, HTML, errors, missing variables."""
    run_action(
        ctx,
        lambda host: host.action(
            "external/email",
            "preview",
            _params(templateName=name, template=parse_json(inline, "template"), object=parse_json(object_, "object"), _locale=locale),
            accept_language=accept_language,
        ),
    )


@click.group("templates")
def templates_group() -> None:
    """List, show, create, update, delete and search email templates."""


def _paging(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--page-size", type=int, default=25, show_default=True),
            click.option("--start-row", type=int, default=0, show_default=True),
            click.option("--order-by", type=click.Choice(["name", "id", "created"]), default="name", show_default=True),
            click.option("--desc", is_flag=True, help="Descending order."),
        ]
    ):
        fn = option(fn)
    return fn


def _search(ctx: click.Context, query: str | None, page_size: int, start_row: int, order_by: str, desc: bool) -> None:
    def call(host: Any) -> Any:
        page = host.templates.store.search(query, page_size=page_size, start_row=start_row, order_by=order_by, descending=desc)
        return {**page, "templates": [t.summary() for t in page["templates"]]}

    run_action(ctx, call)


@templates_group.command("list")
@_paging
@click.pass_context
def list_command(ctx: click.Context, page_size: int, start_row: int, order_by: str, desc: bool) -> None:
    """Every template, one page at a time, with the total."""
    _search(ctx, None, page_size, start_row, order_by, desc)


@templates_group.command("search")
@click.argument("query")
@_paging
@click.pass_context
def search_command(ctx: click.Context, query: str, page_size: int, start_row: int, order_by: str, desc: bool) -> None:
    """Templates whose name matches QUERY (case-insensitive; * is a wildcard, plain text means contains)."""
    _search(ctx, query, page_size, start_row, order_by, desc)


@templates_group.command("show")
@click.argument("template_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["native", "idm"]), default="native", show_default=True)
@click.pass_context
def show_command(ctx: click.Context, template_id: str, fmt: str) -> None:
    """One template in full."""

    def call(host: Any) -> Any:
        template = host.templates.store.get(template_id)
        return template.to_dict() if fmt == "native" else template.to_idm()

    run_action(ctx, call)


def _template_data(data: str) -> Any:
    """``--data`` as given, or unwrapped from FusionAuth's ``{"emailTemplate": {...}}`` request body."""
    value = parse_json(data, "data")
    if isinstance(value, dict) and list(value) == ["emailTemplate"] and isinstance(value["emailTemplate"], dict):
        return value["emailTemplate"]
    return value


@templates_group.command("create")
@click.argument("template_id", metavar="[ID]", required=False)
@click.option("--data", required=True, metavar="JSON", help="The template, IDM or native JSON (or FusionAuth's {\"emailTemplate\": ...}); @FILE reads a file, - reads stdin.")
@click.pass_context
def create_command(ctx: click.Context, template_id: str | None, data: str) -> None:
    """Create a template (its id is generated when neither ID nor an 'id' key gives one)."""
    run_action(ctx, lambda host: host.templates.store.create(_template_data(data), template_id).to_dict())


@templates_group.command("update")
@click.argument("template_id", metavar="ID")
@click.option("--data", required=True, metavar="JSON", help="The new template, or with --merge a JSON merge patch.")
@click.option("--merge", is_flag=True, help="Merge --data into the template (RFC 7396; null removes a key).")
@click.pass_context
def update_command(ctx: click.Context, template_id: str, data: str, merge: bool) -> None:
    """Replace a template, or merge changes into it."""
    run_action(ctx, lambda host: host.templates.store.update(template_id, _template_data(data), merge=merge).to_dict())


@templates_group.command("delete")
@click.argument("template_id", metavar="ID")
@click.pass_context
def delete_command(ctx: click.Context, template_id: str) -> None:
    """Delete a template; prints what was deleted."""
    run_action(ctx, lambda host: {"deleted": host.templates.store.delete(template_id).summary()})


@hookimpl
def register_commands(cli: Any) -> None:
    for command in (send_template_command, preview_command, templates_group):
        cli.add_command(command)
