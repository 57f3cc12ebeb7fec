"""The ``external/email/outbox`` service: status and control of submitted mail.

Actions ``list``, ``show``, ``retry``, ``purge`` and ``drain``; the
``emailactions outbox`` commands call these, so scripts and operators see
the same answers.
"""

from __future__ import annotations

from typing import Any, Mapping

from emailactions.errors import InvalidParams
from emailactions.hookspecs import hookimpl
from emailactions.delivery.outbox.entry import STATES

RESOURCE = "external/email/outbox"


def _params(params: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidParams(f"Unknown parameter(s): {', '.join(unknown)}", param=unknown[0], unknown=unknown)
    return {k: v for k, v in params.items() if v is not None}


def _int(params: Mapping[str, Any], name: str, default: int | None = None, *, minimum: int = 0) -> int | None:
    value = params.get(name, default)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParams(f"Parameter {name!r} must be an integer of at least {minimum}", param=name)
    return value


def _number(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidParams(f"Parameter {name!r} must be a number of seconds", param=name)
    return float(value)


def _ids(params: Mapping[str, Any]) -> list[int]:
    value = params.get("ids", params.get("id"))
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int):
            raise InvalidParams("Parameter 'ids' must be outbox ids (integers)", param="ids")
        out.append(item)
    return out


def _states(params: Mapping[str, Any], allowed: tuple[str, ...] = STATES) -> list[str]:
    value = params.get("state")
    if value is None:
        return []
    values = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise InvalidParams(f"Parameter 'state' must be among {', '.join(allowed)}", param="state")
    return values


class OutboxService:
    """Handlers for ``external/email/outbox``; one instance per host."""

    def __init__(self, host: Any) -> None:
        self.host = host

    @property
    def _outbox(self) -> Any:
        return self.host.dispatcher.outbox

    def list(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Entries newest first (``state``, ``limit``, ``offset``) and counts per state."""
        p = _params(params, {"state", "limit", "offset"})
        entries = self._outbox.list(
            states=_states(p), limit=_int(p, "limit", 50, minimum=1), offset=_int(p, "offset", 0)
        )
        return {
            "outbox": self._outbox.where,
            "counts": self._outbox.counts(),
            "entries": [e.to_dict() for e in entries],
        }

    def show(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """One entry with its subject and size (never the body)."""
        p = _params(params, {"id"})
        entry_id = _int(p, "id", minimum=1)
        if entry_id is None:
            raise InvalidParams("Parameter 'id' is missing", param="id")
        return self._outbox.get(entry_id, with_data=True).to_dict()

    def retry(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Queue failed (or waiting) entries again, due now with a fresh budget."""
        p = _params(params, {"id", "ids", "state"})
        ids, states = _ids(p), _states(p, ("queued", "failed"))
        if not ids and not states:
            raise InvalidParams("Give 'ids' or 'state' (failed, queued) to retry", param="ids")
        count = self._outbox.retry(ids, states=states, max_age=self.host.config.outbox.max_age)
        if count:
            self.host.dispatcher.notify()
        return {"status": "OK", "retried": count}

    def purge(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Delete entries by ``ids`` and/or ``state``, optionally ``olderThan`` seconds."""
        p = _params(params, {"id", "ids", "state", "olderThan"})
        ids, states = _ids(p), _states(p, ("queued", "sent", "failed"))
        if not ids and not states:
            raise InvalidParams("Give 'ids' or 'state' (sent, failed, queued) to purge", param="ids")
        count = self._outbox.purge(ids, states=states, older_than=_number(p, "olderThan"))
        return {"status": "OK", "purged": count}

    def drain(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Deliver everything due now, in this process, and report what happened."""
        p = _params(params, {"timeout"})
        tally = self.host.dispatcher.drain(_number(p, "timeout"))
        return {"status": "OK", **tally, "counts": self._outbox.counts()}


@hookimpl
def register_actions(register: Any, host: Any) -> None:
    service = OutboxService(host)
    for name in ("list", "show", "retry", "purge", "drain"):
        register(RESOURCE, name, getattr(service, name))
