"""One outbox entry as workers and operators see it, and the states it moves through.

States::

    queued ──claim──> in-flight ──accepted──> sent
      ^                  │  └────refused / gave up──> failed
      └──temporary error─┘     (operator "retry" puts failed back to queued)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from emailactions.errors import OutboxError, Refusal, Refusals, refusals_dict
from emailactions.mime.message import Message, MessageInfo

STATES = ("queued", "in-flight", "sent", "failed")


def info_json(info: MessageInfo) -> str | None:
    """The ``meta`` column: ``{"template", "locale", "locales"}`` JSON with the
    empty ones left out (NULL when all are), as every version has written it."""
    fields = {"locale": info.locale, "locales": dict(info.locales), "template": info.template}
    kept = {key: value for key, value in fields.items() if value}
    return json.dumps(kept) if kept else None


def info_from_json(text: str | None) -> MessageInfo:
    """The ``meta`` column back; keys this version does not know are ignored."""
    meta = json.loads(text) if text else {}
    return MessageInfo(template=meta.get("template"), locale=meta.get("locale"), locales=meta.get("locales") or {})


def iso_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Entry:
    """One outbox row. ``data`` is only loaded when a worker or ``show --raw`` needs it."""

    id: int
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    pending: tuple[str, ...]
    accepted: tuple[str, ...]
    refused: Refusals
    smtputf8: bool
    info: MessageInfo
    transport: str | None
    template: str | None
    state: str
    attempts: int
    created: float
    updated: float
    next_attempt: float
    expires: float
    lease_until: float | None
    worker: str | None
    last_error: dict[str, Any] | None
    rate_check: bool
    data: bytes | None = field(default=None, repr=False)
    #: Fencing token of the claim that loaded it: only that claim may record a result.
    token: int = 0

    @classmethod
    def _from_row(cls, row: Any) -> "Entry":
        """From a ``sqlite3.Row`` or a psycopg ``dict_row``: the columns are the same."""
        keys = row.keys()
        return cls(
            id=row["id"],
            message_id=row["message_id"],
            sender=row["sender"],
            recipients=tuple(json.loads(row["recipients"])),
            pending=tuple(json.loads(row["pending"])),
            accepted=tuple(json.loads(row["accepted"])),
            refused={a: Refusal.of(r) for a, r in json.loads(row["refused"]).items()},
            smtputf8=bool(row["smtputf8"]),
            info=info_from_json(row["meta"]),
            transport=row["transport"],
            template=row["template"],
            state=row["state"],
            attempts=row["attempts"],
            created=row["created"],
            updated=row["updated"],
            next_attempt=row["next_attempt"],
            expires=row["expires"],
            lease_until=row["lease_until"],
            worker=row["worker"],
            last_error=json.loads(row["last_error"]) if row["last_error"] else None,
            rate_check=bool(row["rate_check"]),
            data=bytes(row["data"]) if "data" in keys else None,
            token=row["token"] if "token" in keys else 0,
        )

    def message(self) -> Message:
        """The stored message addressed to the recipients still pending.

        The bytes are the ones composed at submit time, so every attempt
        carries the same Message-ID.
        """
        if self.data is None:
            raise OutboxError(f"Outbox entry {self.id} was loaded without its message", id=self.id)
        return Message(self.data, self.sender, self.pending, self.message_id, self.smtputf8, self.info)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready status, without the message body."""
        out: dict[str, Any] = {
            "id": self.id,
            "messageId": self.message_id,
            "state": self.state,
            "attempts": self.attempts,
            "created": iso_time(self.created),
            "updated": iso_time(self.updated),
            "nextAttempt": iso_time(self.next_attempt) if self.state == "queued" else None,
            "expires": iso_time(self.expires),
            "lastError": self.last_error,
            "from": self.sender,
            "recipients": list(self.recipients),
            "pending": list(self.pending),
            "accepted": list(self.accepted),
            "refused": refusals_dict(self.refused),
            "transport": self.transport,
            "template": self.template,
            "rateLimited": self.rate_check,
        }
        if self.state == "in-flight":
            out["worker"] = self.worker
            out["leaseUntil"] = iso_time(self.lease_until)
        if self.data is not None:
            from email import policy
            from email.parser import BytesHeaderParser

            headers = BytesHeaderParser(policy=policy.default).parsebytes(self.data)
            out["subject"] = str(headers.get("Subject", ""))
            out["size"] = len(self.data)
        return out


def worker_id() -> str:
    """``host:pid:nonce``: unique per worker, and tells which process holds a lease."""
    import socket  # here: a synchronous send never needs it

    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def dead_local_workers(workers: Iterable[str | None], own_pid: int | None = None) -> list[str]:
    """The worker ids of processes on this machine that are gone (``host:pid:nonce``).

    Saves waiting out a lease after a local crash; workers on other hosts are
    left to their heartbeats and leases.
    """
    if os.name != "posix":
        return []
    import socket

    me = socket.gethostname()
    own_pid = own_pid if own_pid is not None else os.getpid()
    dead = []
    for worker in workers:
        # host:pid:nonce, and a host name may itself hold colons.
        parts = (worker or "").rsplit(":", 2)
        if len(parts) != 3 or parts[0] != me or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid != own_pid and not pid_alive(pid):
            dead.append(str(worker))
    return dead


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


