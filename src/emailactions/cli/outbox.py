"""CLI: ``emailactions outbox list|show|retry|purge|drain|migrate`` and ``emailactions worker``.

Added through ``register_commands`` like any plugin's commands (the CLI
registers this module). Like every command but ``serve``, they build a host that does not start
delivery by itself: ``outbox list`` must not send mail, and ``worker`` /
``drain`` decide how delivery runs.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Any

import click

from emailactions.cli.common import ConfigProblem, fail, run_action
from emailactions.cli.logs import LEVELS
from emailactions.errors import ConfigError, EmailActionsError
from emailactions.hookspecs import hookimpl

RESOURCE = "external/email/outbox"


def _file_outbox(host: Any) -> Any:
    """The shared outbox (a SQLite file or a database), refusing one in memory: another process must see it."""
    settings = host.config.outbox
    if settings.path is None and settings.url is None:
        raise ConfigError(
            "No shared outbox is configured: set [outbox] path or url (or EMAILACTIONS_OUTBOX)", key="outbox.path"
        )
    return host.dispatcher.outbox


@click.group("outbox")
def outbox_group() -> None:
    """Show and control submitted mail (needs [outbox] path or url, or EMAILACTIONS_OUTBOX)."""


@outbox_group.command("list")
@click.option("--state", help="Only these states, comma-separated: queued, in-flight, sent, failed.")
@click.option("--sent", is_flag=True, help="Only sent entries (the sent-mail record): --state sent.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
@click.pass_context
def list_command(ctx: click.Context, state: str | None, sent: bool, limit: int, offset: int) -> None:
    """Entries newest first, with counts per state."""
    if sent:
        state = ",".join(filter(None, (state, "sent")))

    def call(host: Any) -> Any:
        _file_outbox(host)
        return host.action(RESOURCE, "list", {"state": state, "limit": limit, "offset": offset})

    run_action(ctx, call)


@outbox_group.command("show")
@click.argument("entry_id", metavar="ID", type=int)
@click.pass_context
def show_command(ctx: click.Context, entry_id: int) -> None:
    """One entry: state, attempts, next attempt, last error, recipients."""
    run_action(ctx, lambda host: (_file_outbox(host), host.action(RESOURCE, "show", {"id": entry_id}))[1])


@outbox_group.command("retry")
@click.argument("ids", metavar="[ID]...", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="Every failed entry.")
@click.option("--queued", is_flag=True, help="Every queued entry, due now (flush).")
@click.pass_context
def retry_command(ctx: click.Context, ids: tuple[int, ...], failed: bool, queued: bool) -> None:
    """Queue entries again, due now, with a fresh attempt budget."""
    states = [s for s, on in (("failed", failed), ("queued", queued)) if on]
    run_action(ctx, lambda host: (_file_outbox(host), host.action(RESOURCE, "retry", {"ids": list(ids) or None, "state": states or None}))[1])


@outbox_group.command("purge")
@click.argument("ids", metavar="[ID]...", nargs=-1, type=int)
@click.option("--sent", is_flag=True, help="Every sent entry.")
@click.option("--failed", is_flag=True, help="Every failed entry.")
@click.option("--queued", is_flag=True, help="Every queued entry (cancels them).")
@click.option("--older-than", type=float, metavar="SECONDS", help="Only entries last changed before then.")
@click.pass_context
def purge_command(ctx: click.Context, ids: tuple[int, ...], sent: bool, failed: bool, queued: bool, older_than: float | None) -> None:
    """Delete entries (never one in flight)."""
    states = [s for s, on in (("sent", sent), ("failed", failed), ("queued", queued)) if on]
    params = {"ids": list(ids) or None, "state": states or None, "olderThan": older_than}
    run_action(ctx, lambda host: (_file_outbox(host), host.action(RESOURCE, "purge", params))[1])


@outbox_group.command("drain")
@click.option("--timeout", type=float, metavar="SECONDS", help="Stop starting new sends after this long.")
@click.pass_context
def drain_command(ctx: click.Context, timeout: float | None) -> None:
    """Deliver everything due now from this process, then exit."""
    run_action(ctx, lambda host: (_file_outbox(host), host.action(RESOURCE, "drain", {"timeout": timeout}))[1])


@outbox_group.command("migrate")
@click.option("--print-sql", is_flag=True, help="Print the SQL this database still needs instead of running it (for DBAs).")
@click.option("--from-version", type=click.IntRange(min=0), help="With --print-sql: the version to start from, without connecting.")
@click.pass_context
def migrate_command(ctx: click.Context, print_sql: bool, from_version: int | None) -> None:
    """Bring the outbox schema up to date (outboxes also do it when opened), or print its SQL."""
    from emailactions.delivery.outbox import schema

    try:
        settings = ctx.obj.host.config.outbox
        postgres = settings.url is not None
        if from_version is None or not print_sql:
            outbox = _open_unmigrated(settings)
            try:
                if not print_sql:
                    applied = outbox.migrate()
                    click.echo(json.dumps({"status": "OK", "outbox": outbox.where, "applied": applied, "version": outbox.schema_version()}, indent=2))
                    return
                from_version = outbox.schema_version()
            finally:
                outbox.close()
        click.echo(schema.print_sql(schema.POSTGRES_MIGRATIONS if postgres else schema.SQLITE_MIGRATIONS, from_version, postgres=postgres), nl=False)
    except ConfigError as exc:
        raise ConfigProblem.of(exc) from None
    except EmailActionsError as exc:
        fail(exc)
    finally:
        ctx.obj.close()


def _open_unmigrated(settings: Any) -> Any:
    """The configured outbox opened without migrating it."""
    if settings.url is not None:
        from emailactions.delivery.outbox.postgres import PostgresOutbox

        return PostgresOutbox(settings.url, pool_size=1, migrate=False)
    if settings.path is None:
        raise ConfigError("No shared outbox is configured: set [outbox] path or url (or EMAILACTIONS_OUTBOX)", key="outbox.path")
    from emailactions.delivery.outbox.sqlite import Outbox

    return Outbox(settings.path, migrate=False)


@click.command("worker")
@click.option("--threads", type=click.IntRange(min=1), help="Delivery threads (default: [outbox] workers or the transport's pool_size).")
@click.option("--exit-when-empty", is_flag=True, help="Exit once nothing is queued or in flight.")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), help="Log level on stderr (default: INFO, or the global -v / --log-level).")
@click.pass_context
def worker_command(ctx: click.Context, threads: int | None, exit_when_empty: bool, log_level: str | None) -> None:
    """Deliver a shared outbox (file or database) from this process until SIGTERM or Ctrl-C."""
    logs = ctx.obj.logs
    if logs is not None:
        logs.default(log_level.upper() if log_level else "INFO", override=log_level is not None)
    stop = threading.Event()

    def call(host: Any) -> Any:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        outbox = _wait_for_outbox(host, stop)
        if outbox is None:  # stopped before the outbox could be reached
            return {"status": "OK", "worker": None, "sent": 0, "failed": 0, "retrying": 0, "deferred": 0}
        worker = host.dispatcher.worker
        if threads is not None:
            worker.threads = threads
        worker.start()
        logging.getLogger("emailactions.outbox").info(
            "worker %s delivering %s with %d thread(s)", worker.id, outbox.where, worker.threads
        )
        while not stop.wait(0.2):
            if exit_when_empty and outbox.unfinished() == 0:
                break
        worker.stop()
        return {"status": "OK", "worker": worker.id, **worker.tally.to_dict(), "counts": outbox.counts()}

    run_action(ctx, call)


def _wait_for_outbox(host: Any, stop: threading.Event) -> Any:
    """The shared outbox, waiting while its database is away: a worker started
    during an outage (or a failover) starts delivering when it is back."""
    from emailactions.errors import OutboxUnavailable

    log = logging.getLogger("emailactions.outbox")
    while True:
        try:
            outbox = _file_outbox(host)
            host.dispatcher.worker  # opens the worker's own connection too
            return outbox
        except OutboxUnavailable as exc:
            log.error("%s; trying again", exc.message)
            if stop.wait(max(1.0, host.config.outbox.poll_interval)):
                return None


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(outbox_group)
    cli.add_command(worker_command)
