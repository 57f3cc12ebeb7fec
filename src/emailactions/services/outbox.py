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
from emailactions.params.fields import REQUIRED, integer, items, number, refuse, refuse_unknown

RESOURCE = "external/email/outbox"


def _params(params: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    refuse_unknown(params, allowed)
    return {k: v for k, v in params.items() if v is not None}


def _ids(params: Mapping[str, Any]) -> list[int]:
    """``ids`` (or ``id``): one outbox id or a list of them."""
    value = params.get("ids", params.get("id"))
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [integer(item, "ids", REQUIRED, minimum=None, must="outbox ids (integers)") for item in values]


def _states(params: Mapping[str, Any], allowed: tuple[str, ...] = STATES) -> list[str]:
    """``state``: a list of states, or a comma-separated string of them."""
    must = f"among {', '.join(allowed)}"
    values = items(params.get("state"), "state", split=",", must=must)
    if any(v not in allowed for v in values):
        raise refuse("state", must)
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
            states=_states(p), limit=integer(p.get("limit"), "limit", 50, minimum=1), offset=integer(p.get("offset"), "offset", 0)
        )
        return {
            "outbox": self._outbox.where,
            "counts": self._outbox.counts(),
            "entries": [e.to_dict() for e in entries],
        }

    def show(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """One entry with its subject and size (never the body)."""
        p = _params(params, {"id"})
        entry_id = integer(p.get("id"), "id", minimum=1)
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
        count = self._outbox.purge(ids, states=states, older_than=number(p.get("olderThan"), "olderThan", must="a number of seconds"))
        return {"status": "OK", "purged": count}

    def drain(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        """Deliver everything due now, in this process, and report what happened."""
        p = _params(params, {"timeout"})
        tally = self.host.dispatcher.drain(number(p.get("timeout"), "timeout", must="a number of seconds"))
        return {"status": "OK", **tally, "counts": self._outbox.counts()}


@hookimpl
def register_actions(register: Any, host: Any) -> None:
    service = OutboxService(host)
    for name in ("list", "show", "retry", "purge", "drain"):
        register(RESOURCE, name, getattr(service, name))
