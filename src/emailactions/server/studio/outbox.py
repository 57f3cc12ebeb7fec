"""The studio's outbox page: counts by state, the latest entries, retry and purge.

Everything goes through the ``external/email/outbox`` actions, the ones
``emailactions outbox`` runs, so the page and the CLI always agree.
"""

from __future__ import annotations

from starlette.responses import Response

from emailactions.errors import InvalidParams
from emailactions.params.fields import integer
from emailactions.server.studio.web import Page, redirect

OUTBOX = "external/email/outbox"
#: Entries shown, newest first.
SHOWN = 50
#: Seconds between the page's own reloads.
REFRESH_SECONDS = 5
STATES = ("queued", "in-flight", "sent", "failed")


async def view(page: Page) -> Response:
    state = page.request.query_params.get("state") or None
    if state is not None and state not in STATES:
        raise InvalidParams(f"Parameter 'state' must be one of {', '.join(STATES)}", param="state")
    params = {"limit": SHOWN, **({"state": state} if state else {})}
    listing = await page.call.run(page.studio.host.action, OUTBOX, "list", params, caller=page.principal.name)
    # Only numbers come back through the URL: a link cannot make the page say anything else.
    notice = None
    for verb in ("retried", "purged"):
        count = page.request.query_params.get(verb, "")
        if count.isdigit() and len(count) < 10:
            notice = f"{verb.capitalize()} {int(count)} message(s)."
    return page.render("outbox.html", counts=listing["counts"], entries=listing["entries"], state=state, states=STATES,
                       refresh=REFRESH_SECONDS, notice=notice)  # fmt: skip


def _target(page: Page, allowed: tuple[str, ...]) -> dict[str, object]:
    """``id`` (one entry) or ``state`` (all of them in it) from the form."""
    if page.form.get("id"):
        return {"ids": [integer(page.form["id"], "id", minimum=1)]}
    state = page.form.get("state", "")
    if state not in allowed:
        raise InvalidParams(f"Field 'state' must be one of {', '.join(allowed)}", param="state")
    return {"state": state}


async def retry(page: Page) -> Response:
    result = await page.call.run(page.studio.host.action, OUTBOX, "retry", _target(page, ("failed", "queued")), caller=page.principal.name)
    return redirect(f"/studio/outbox?retried={result['retried']}")


async def purge(page: Page) -> Response:
    result = await page.call.run(page.studio.host.action, OUTBOX, "purge", _target(page, ("sent", "failed")), caller=page.principal.name)
    return redirect(f"/studio/outbox?purged={result['purged']}")
