"""The built-in outbox backends, registered like any plugin's: ``[outbox] backend`` picks one.

Each returns an object with the outbox interface that :mod:`.sqlite` and
:mod:`.postgres` share (add, claim, renew, finish, heartbeat, release_dead,
listen, retry, purge, get, list, counts, migrate, ...); the contract suite in
``tests/support/outbox_contract.py`` runs against both.
"""

from __future__ import annotations

from typing import Any

from emailactions.errors import ConfigError
from emailactions.hookspecs import hookimpl


def sqlite(settings: Any) -> Any:
    """A SQLite file: survives restarts, shared by the processes of one machine that open it."""
    from emailactions.delivery.outbox.sqlite import Outbox

    if settings.path is None:
        raise ConfigError("The outbox backend 'sqlite' needs [outbox] path (or EMAILACTIONS_OUTBOX)", key="outbox.path")
    return Outbox(settings.path, synchronous=settings.synchronous)


def memory(settings: Any) -> Any:
    """SQLite in memory: one process, lost when it stops."""
    from emailactions.delivery.outbox.sqlite import Outbox

    return Outbox(None)


def postgresql(settings: Any) -> Any:
    """A PostgreSQL database: shared by app hosts and workers on any number of machines."""
    from emailactions.delivery.outbox.postgres import PostgresOutbox

    if settings.url is None:
        raise ConfigError("The outbox backend 'postgresql' needs [outbox] url (or EMAILACTIONS_OUTBOX)", key="outbox.url")
    # Every delivery thread and a few submitters may hold a connection at once.
    return PostgresOutbox(settings.url, pool_size=(settings.workers or 4) + 4, synchronous=settings.synchronous)


@hookimpl(trylast=True)
def register_outbox_backends(register: Any) -> None:
    register("sqlite", sqlite)
    register("memory", memory)
    register("postgresql", postgresql)
