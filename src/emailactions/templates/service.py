"""A host's templates: the one write path, and rendering.

Writes go through ``Templates.store`` (a CheckedStore), which compiles every
part first. Rendering is the step between the store and the composer: pick
each part's locale (subject, html, text and from-name separately, as IDM
does), render it with the template's engine, and refuse a subject that would
break its header.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from emailactions.params.addresses import check_header_text
from emailactions.engines.base import TemplateEngine, plain_data
from emailactions.errors import InvalidParams, PluginError, RenderError, TemplateError
from emailactions.locales.tags import candidates
from emailactions.templates.model import Localized, Template
from emailactions.templates.stores.base import TemplateStore
from emailactions.templates.stores.checked import CheckedStore

#: Parts an engine renders, and whether their output is HTML (escaped).
PARTS = (("subject", False), ("html", True), ("text", False))


@dataclass
class RenderedTemplate:
    """A template rendered for one recipient: texts, chosen locales, and problems."""

    template: Template
    subject: str = ""
    html: str | None = None
    text: str | None = None
    from_name: str | None = None
    #: part -> chosen locale (subject, html, text, from_name).
    locales: dict[str, str | None] = field(default_factory=dict)
    #: Variables the template used that the data did not have.
    missing: list[str] = field(default_factory=list)
    #: part -> error dict; only filled when rendering with ``collect_errors``.
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def locale(self) -> str | None:
        """The message's locale: its body's (HTML, else text), else its subject's."""
        for part in ("html", "text", "subject"):
            if self.locales.get(part):
                return self.locales[part]
        return None


class Templates:
    """A host's templates: the checked store, the engines, and rendering."""

    def __init__(self, host: Any) -> None:
        self.host = host
        config = host.config
        # The one place a store is chosen: [templates] store, else what today's keys imply.
        name = config.template_store or (
            "folder" if config.templates_dir is not None else "idm-folder" if config.conf_dir is not None else "memory"
        )
        store: TemplateStore = host.template_stores.choose(name, "templates.store")(config)
        #: The one door to the templates: reads, and writes that compile first.
        self.store = CheckedStore(store, self.check)
        self._engines: dict[str, TemplateEngine] = {}
        self._lock = threading.Lock()

    def engine(self, name: str) -> TemplateEngine:
        """The engine instance for a template's ``engine`` field (built once)."""
        with self._lock:
            if name not in self._engines:
                if name not in self.host.engine_classes:
                    known = ", ".join(sorted(self.host.engine_classes))
                    raise TemplateError(f"Template engine {name!r} is not installed (known: {known})", engine=name)
                self._engines[name] = self.host.engine_classes[name][0]()
            return self._engines[name]

    # -- writing: every write goes through self.store, which calls check ------

    def check(self, template: Template) -> Template:
        """Compile every part of ``template`` in every locale; the first failure is raised."""
        engine = self.engine(template.engine)
        for part, html in PARTS:
            localized: Localized = getattr(template, part)
            for source in [localized.default, *localized.by_locale.values()]:
                if source is not None:
                    engine.compile(source, html=html, part=part)
        return template

    def create(self, data: Mapping[str, Any], template_id: str | None = None) -> Template:
        """Compile and store a new template (``self.store.create``)."""
        return self.store.create(data, template_id)

    def update(self, template_id: str, data: Mapping[str, Any], *, merge: bool = False) -> Template:
        """Replace or merge; the result compiles before it is stored (``self.store.update``)."""
        return self.store.update(template_id, data, merge=merge)

    # -- rendering ------------------------------------------------------------

    def pick(self, localized: Localized, requested: list[str], template: Template) -> tuple[str, str | None]:
        """One part's source and locale: a plugin's or IDM's choice, the default, the first."""
        if localized.by_locale:
            available = list(localized.by_locale)
            chosen = self.host.hook.resolve_locale(requested=list(requested), available=available)
            if chosen is not None:
                if chosen not in localized.by_locale:
                    raise PluginError(f"resolve_locale chose {chosen!r}, which is not one of {available}")
                return localized.by_locale[chosen], chosen
        if localized.default is not None:
            return localized.default, template.default_locale or self.host.config.default_locale
        first = next(iter(localized.by_locale))
        return localized.by_locale[first], first

    def render(
        self,
        template: Template,
        data: Any = None,
        *,
        accept_language: str | None = None,
        locale: str | None = None,
        collect_errors: bool = False,
    ) -> RenderedTemplate:
        """Render every part; with ``collect_errors`` failures are reported per part, not raised."""
        requested = candidates(accept_language, locale, template.default_locale, self.host.config.default_locale)
        engine = self.engine(template.engine)
        plain, paths = plain_data({} if data is None else data, engine.limits)
        if not isinstance(plain, dict):
            raise InvalidParams("Parameter 'object' must be an object", param="object")
        context = {"object": plain}
        out = RenderedTemplate(template)
        for part, html in PARTS:
            localized: Localized = getattr(template, part)
            if not localized:
                continue
            source, chosen = self.pick(localized, requested, template)
            out.locales[part] = chosen
            try:
                rendered = engine.render(source, context, html=html, part=part, locale=chosen, paths=paths)
                out.missing.extend(m for m in rendered.missing if m not in out.missing)
                setattr(out, part, self._subject(rendered.text) if part == "subject" else rendered.text)
            except RenderError as exc:
                if not collect_errors:
                    raise
                out.errors[part] = {"message": exc.message, **{k: v for k, v in exc.detail.items() if k != "part"}}
        if template.from_name:
            out.from_name, out.locales["from_name"] = self.pick(template.from_name, requested, template)
        return out

    def _subject(self, text: str) -> str:
        """A rendered subject must stay one header line."""
        # Surrounding whitespace is layout (a template ending in a newline);
        # a line break inside would start a new header.
        text = text.strip()
        try:
            check_header_text(text, "subject")
        except InvalidParams:
            raise RenderError(
                "Template part 'subject' failed: it renders a line break or control character into the Subject header",
                part="subject",
            ) from None
        limit = self.host.config.limits.max_subject_chars
        if len(text) > limit:
            raise RenderError(f"Template part 'subject' failed: it renders more than {limit} characters", part="subject")
        return text
