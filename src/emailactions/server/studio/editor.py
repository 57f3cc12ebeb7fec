"""Studio template pages: the list, create/duplicate/delete, and the editor.

Reads and writes go through ``host.templates.store`` (the compile-checked
store the REST APIs write through); previews and test sends through the
``external/email`` service's ``preview`` and ``send`` actions, run as the
logged-in user (their mail limits and senders apply).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.responses import HTMLResponse, Response

from emailactions.errors import EmailActionsError, InvalidParams, UnknownResource
from emailactions.params.addresses import parse_address
from emailactions.server.protocol import require_content
from emailactions.server.studio import drafts
from emailactions.server.studio.samples import parse_sample
from emailactions.server.studio.web import PREVIEW_HEADERS, Page, redirect
from emailactions.templates.model import MAX_FILE_BYTES, check_id

EMAIL = "external/email"
#: What a test mail's subject starts with, so nobody takes it for the real one.
TEST_PREFIX = "[TEST] "
ENGINES = ("handlebars", "jinja2", "freemarker")


def _editor_url(template_id: str, locale: str | None) -> str:
    return f"/studio/templates/{quote(template_id)}?locale={quote(locale or drafts.DEFAULT)}"


async def list_templates(page: Page) -> Response:
    """Every template, filtered by ``q`` (id or name, case-insensitive)."""
    query = page.request.query_params.get("q", "")[:200].strip()
    templates = await page.call.run(page.studio.host.templates.store.all)
    needle = query.casefold()
    shown = [t for t in templates if not needle or needle in t.id.casefold() or needle in t.name.casefold()]
    shown.sort(key=lambda t: (t.name.casefold(), t.id))
    return page.render("list.html", templates=[(t, drafts.locales(t)) for t in shown], query=query, engines=ENGINES,
                       total=len(templates), error=page.request.query_params.get("error"))  # fmt: skip


async def create(page: Page) -> Response:
    form = page.form
    template_id = check_id(form.get("id", "").strip(), "id")
    engine = form.get("engine", "handlebars")
    if engine not in ENGINES:
        raise InvalidParams(f"Field 'engine' must be one of {', '.join(ENGINES)}", param="engine")
    locale = drafts.parse_locale(form.get("locale"))
    name = form.get("name", "").strip() or template_id
    # A new template starts with its name as the subject: a template needs some content.
    data: dict[str, Any] = {"name": name, "engine": engine}
    if locale is None:
        data["defaultSubject"] = name
    else:
        data.update(localizedSubjects={locale: name}, defaultLocale=locale)
    await page.call.run(page.studio.host.templates.store.create, data, template_id)
    return redirect(_editor_url(template_id, locale))


async def duplicate(page: Page) -> Response:
    source = await page.call.run(page.studio.host.templates.store.get, page.request.path_params["id"])
    new_id = check_id(page.form.get("new_id", "").strip(), "new_id")
    data = {k: v for k, v in source.to_dict().items() if k not in ("id", "insertInstant", "lastUpdateInstant")}
    data["name"] = f"{source.name} (copy)"[:256]
    await page.call.run(page.studio.host.templates.store.create, data, new_id)
    await page.call.run(page.studio.samples.put, new_id, page.studio.samples.get(source.id))
    return redirect(_editor_url(new_id, drafts.locales(source)[0] if drafts.locales(source) else None))


async def delete(page: Page) -> Response:
    template_id = page.request.path_params["id"]
    await page.call.run(page.studio.host.templates.store.delete, template_id)
    await page.call.run(page.studio.samples.put, template_id, None)
    return redirect("/studio/templates")


async def editor(page: Page) -> Response:
    """``GET``: the editor for one template and locale, with the stored texts previewed."""
    template = await page.call.run(page.studio.host.templates.store.get, page.request.path_params["id"])
    locale = drafts.parse_locale(page.request.query_params.get("locale") or (drafts.locales(template) or [None])[0])
    texts = drafts.sources(template, locale)
    sample = page.studio.samples.get(template.id)
    sample_text = json.dumps(sample, indent=2, ensure_ascii=False) if sample else "{}"
    notice = "Saved." if page.request.query_params.get("saved") else None
    return await _editor_page(page, template, locale, texts, sample_text, notice=notice)


async def editor_post(page: Page) -> Response:
    """``POST``: the editor's buttons: ``preview`` (without JavaScript), ``save`` or ``send`` (a test mail)."""
    template = await page.call.run(page.studio.host.templates.store.get, page.request.path_params["id"])
    locale = drafts.parse_locale(page.form.get("locale"))
    texts = drafts.form_texts(page.form)
    sample_text = page.form.get("sample", "")
    action = page.form.get("do", "preview")
    try:
        drafts.check_texts(texts, MAX_FILE_BYTES)
        sample = parse_sample(sample_text)
        if action == "save":
            page.principal.require("templates:write")
            draft = drafts.draft(template, locale, texts)
            require_content(draft, template.id, "subject")
            await page.call.run(page.studio.host.templates.store.update, template.id, drafts.patch(locale, texts), merge=True)
            await page.call.run(page.studio.samples.put, template.id, sample)
            return redirect(_editor_url(template.id, locale) + "&saved=1")
        if action == "send":
            notice = await _test_send(page, template, locale, texts, sample)
            return await _editor_page(page, template, locale, texts, sample_text, notice=notice)
        if action != "preview":
            raise InvalidParams("Field 'do' must be preview, save or send", param="do")
    except EmailActionsError as exc:
        if exc.code >= 500 or isinstance(exc, UnknownResource):
            raise
        return await _editor_page(page, template, locale, texts, sample_text, error=exc, status=exc.code)
    return await _editor_page(page, template, locale, texts, sample_text)


async def live_preview(page: Page) -> Response:
    """``POST .../preview``: the preview panel alone, for the editor's script to swap in."""
    template = await page.call.run(page.studio.host.templates.store.get, page.request.path_params["id"])
    locale = drafts.parse_locale(page.form.get("locale"))
    texts = drafts.form_texts(page.form)
    try:
        drafts.check_texts(texts, MAX_FILE_BYTES)
        preview = await _preview(page, template, locale, texts, parse_sample(page.form.get("sample", "")))
        error = None
    except EmailActionsError as exc:
        if exc.code >= 500:
            raise
        preview, error = None, exc
    return page.render("preview.html", preview=preview, preview_url=_keep(page, preview), error=error)


async def preview_html(page: Page) -> Response:
    """The HTML of a preview, for the sandboxed iframe; it lives in the session that rendered it."""
    html = page.session.previews.get(page.request.path_params["key"])
    if html is None:
        raise UnknownResource("This preview has expired; edit the template to render it again")
    return HTMLResponse(html, headers=PREVIEW_HEADERS)


def _keep(page: Page, preview: drafts.Preview | None) -> str | None:
    if preview is None or preview.html is None:
        return None
    return f"/studio/preview/{page.session.keep_preview(preview.html)}"


async def _preview(page: Page, template: Any, locale: str | None, texts: dict[str, str], sample: dict[str, Any]) -> drafts.Preview:
    """Render the draft with the ``preview`` action, as FusionAuth's preview route does."""
    page.principal.require("preview")
    draft = drafts.draft(template, locale, texts)
    params: dict[str, Any] = {"template": draft, "object": sample}
    if locale is not None:
        params["_locale"] = locale
    host = page.studio.host
    result = await page.call.run(host.action, EMAIL, "preview", params, caller=page.principal.name)
    from emailactions.templates.formats import from_dict

    return drafts.explain(result, from_dict(draft, template.id), locale, host.config.default_locale)


async def _test_send(page: Page, template: Any, locale: str | None, texts: dict[str, str], sample: dict[str, Any]) -> str:
    """Render the draft and submit it to the outbox for one address, its subject marked as a test."""
    page.principal.require("send")
    to = parse_address(page.form.get("to", "").strip(), "to")
    preview = await _preview(page, template, locale, texts, sample)
    if preview.errors:
        raise InvalidParams("The draft does not render; fix the errors shown before sending a test", param="template")
    page.studio.count_test_send(page.principal.name)
    params: dict[str, Any] = {"to": to.addr, "subject": TEST_PREFIX + preview.subject}
    if preview.sender:
        params["from"] = preview.sender
    if preview.html is not None:
        params["html"] = preview.html
    if preview.text is not None:
        params["text"] = preview.text
    if preview.html is None and preview.text is None:
        params["text"] = ""
    result = await page.call.run(page.studio.host.action, EMAIL, "send", params, wait_for_completion=False, caller=page.principal.name)
    where = f" as outbox entry {result['outboxId']}" if result.get("outboxId") is not None else ""
    return f"Test mail to {to.addr} submitted{where}."


async def _editor_page(
    page: Page, template: Any, locale: str | None, texts: dict[str, str], sample_text: str,
    *, notice: str | None = None, error: EmailActionsError | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    preview = preview_error = None
    if page.can("preview"):
        try:
            preview = await _preview(page, template, locale, texts, parse_sample(sample_text))
        except EmailActionsError as exc:
            if exc.code >= 500:
                raise
            preview_error = exc
    return page.render(
        "editor.html", status, template=template, locale=locale or drafts.DEFAULT, locales=drafts.locales(template), texts=texts,
        sample=sample_text, preview=preview, preview_url=_keep(page, preview), preview_error=preview_error,
        notice=notice, error=error, view=page.request.query_params.get("view", "desktop"),
    )  # fmt: skip
