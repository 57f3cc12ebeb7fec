"""An editor's draft: one locale's four parts over a stored template, rendered
by the same ``preview`` action the REST APIs use, and saved by a merge patch
through the store's compile-checked write path.

No rendering happens here: this module only builds the template the
``preview`` action renders, and points its problems at source lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from emailactions.errors import InvalidParams
from emailactions.locales.tags import candidates, normalize
from emailactions.templates.model import PARTS, Template

#: Editor form fields -> the model's parts.
FIELDS = {"subject": "subject", "html": "html", "text": "text", "from_name": "from_name"}
#: What the editor calls the template-wide texts (``defaultSubject``, ...).
DEFAULT = "default"


def parse_locale(value: str | None) -> str | None:
    """The edited locale: a tag (``fr``, ``pt-BR``), or ``None`` for the default texts."""
    if value is None or value.strip() in ("", DEFAULT):
        return None
    return normalize(value.strip(), "locale")


def sources(template: Template, locale: str | None) -> dict[str, str]:
    """The texts of one locale (the template-wide ones for ``None``); missing parts are ``""``."""
    out = {}
    for attr, _, _ in PARTS:
        localized = getattr(template, attr)
        text = localized.default if locale is None else localized.by_locale.get(locale)
        out[attr] = text or ""
    return out


def locales(template: Template) -> list[str]:
    """The template's locales, and ``default`` first when it has template-wide texts."""
    tags = sorted({tag for attr, _, _ in PARTS for tag in getattr(template, attr).by_locale})
    has_default = any(getattr(template, attr).default is not None for attr, _, _ in PARTS)
    return ([DEFAULT] if has_default else []) + tags


def form_texts(form: Mapping[str, str]) -> dict[str, str]:
    """The four parts from the editor form, with browsers' CRLF line ends made LF."""
    return {attr: (form.get(name) or "").replace("\r\n", "\n") for name, attr in FIELDS.items()}


def patch(locale: str | None, texts: Mapping[str, str]) -> dict[str, Any]:
    """A merge patch (RFC 7396, native keys) setting one locale's parts; an empty part is removed."""
    out: dict[str, Any] = {}
    for attr, default_key, localized_key in PARTS:
        value = texts.get(attr) or None
        if locale is None:
            out[default_key] = value
        else:
            out.setdefault(localized_key, {})[locale] = value
    return out


def draft(template: Template, locale: str | None, texts: Mapping[str, str]) -> dict[str, Any]:
    """The whole template (native form) with the edited locale's parts replaced."""
    from emailactions.templates.formats import merge_patch

    data = {k: v for k, v in template.to_dict().items() if k not in ("insertInstant", "lastUpdateInstant")}
    merged = merge_patch(data, patch(locale, texts))
    # An emptied per-locale map is no map at all.
    return {k: v for k, v in merged.items() if v != {}}


@dataclass
class Problem:
    """A render error or a missing variable, at its part and line (when known)."""

    part: str
    message: str
    line: int | None = None
    source: str | None = None


@dataclass
class Preview:
    """What the editor shows of a ``preview`` action's result."""

    subject: str = ""
    html: str | None = None
    text: str | None = None
    sender: str | None = None
    locale: str | None = None
    #: part -> the locale its text came from.
    locales: dict[str, str | None] = field(default_factory=dict)
    #: The preference list the locale was resolved from, best first.
    chain: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    missing: list[Problem] = field(default_factory=list)


def _line(source: str, number: int | None) -> str | None:
    lines = source.split("\n")
    if number is None or not 1 <= number <= len(lines):
        return None
    return lines[number - 1][:200]


def _used_source(template: Template, part: str, chosen: str | None) -> str:
    localized = getattr(template, "from_name" if part == "from" else part, None)
    if localized is None:
        return ""
    if chosen is not None and chosen in localized.by_locale:
        return localized.by_locale[chosen]
    return localized.default or ""


def explain(result: Mapping[str, Any], template: Template, locale: str | None, default_locale: str | None) -> Preview:
    """The ``preview`` result, with each error's and missing variable's source line."""
    chosen = dict(result.get("locales") or {})
    out = Preview(
        subject=result.get("subject") or "", html=result.get("html"), text=result.get("text"), sender=result.get("from"),
        locale=result.get("locale"), locales=chosen,
        chain=candidates(None, locale, template.default_locale, default_locale),
    )  # fmt: skip
    for part, error in (result.get("errors") or {}).items():
        line = error.get("line") if isinstance(error.get("line"), int) else None
        source = _used_source(template, part, chosen.get(part))
        out.errors.append(Problem(part, str(error.get("message", "")), line, _line(source, line)))
    for name in result.get("missing") or []:
        found = False
        leaf = str(name).rsplit(".", 1)[-1]
        for part in ("subject", "html", "text"):
            source = _used_source(template, part, chosen.get(part))
            for number, text in enumerate(source.split("\n"), 1):
                if leaf and leaf in text:
                    out.missing.append(Problem(part, str(name), number, text.strip()[:200]))
                    found = True
                    break
        if not found:
            out.missing.append(Problem("", str(name)))
    return out


def check_texts(texts: Mapping[str, str], limit: int) -> None:
    """Refuse a part longer than the store takes (a 400 naming the field) before rendering it."""
    for name, attr in FIELDS.items():
        if len(texts[attr]) > limit:
            raise InvalidParams(f"Field {name!r} is longer than {limit} characters", param=name)
