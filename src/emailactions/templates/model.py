"""The template model: what IDM's ``emailTemplate-<name>.json`` and FusionAuth's email templates hold.

One model (:class:`Template`) holds a default and per-locale subject, HTML
body, text body and from-name, a from address, and the engine that renders
it. The file formats that read into it are in :mod:`emailactions.templates.formats`;
the stores that hold templates in :mod:`emailactions.templates.stores`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from emailactions.errors import InvalidParams
from emailactions.locales.tags import normalize

#: Template ids become file names: letters, digits, ``.``, ``_``, ``-`` only.
ID_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.)){0,127}")
ENGINE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
#: Largest template file read or written.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NAME_CHARS = 256
#: IDM keys used only by its admin UI: kept on round trips, never used.
IDM_UI_KEYS = frozenset({"html", "styles", "displayName", "description", "templateId", "name", "advancedEditor"})
IDM_KEYS = frozenset({"enabled", "from", "subject", "message", "mimeType", "defaultLocale"}) | IDM_UI_KEYS
EXTENSION = "emailactions"

#: (model field, FusionAuth default key, FusionAuth localized key)
PARTS = (
    ("subject", "defaultSubject", "localizedSubjects"),
    ("html", "defaultHtmlTemplate", "localizedHtmlTemplates"),
    ("text", "defaultTextTemplate", "localizedTextTemplates"),
    ("from_name", "defaultFromName", "localizedFromNames"),
)
NATIVE_KEYS = frozenset(
    {"id", "name", "enabled", "engine", "fromEmail", "defaultLocale", "insertInstant", "lastUpdateInstant", "idm"}
    | {key for _, d, loc in PARTS for key in (d, loc)}
)
ORDER_BY = ("name", "id", "created")


def now_ms() -> int:
    """Milliseconds since the epoch, as FusionAuth's instants are."""
    return time.time_ns() // 1_000_000


def check_id(value: Any, param: str = "id") -> str:
    """A template id safe as a file name on any OS; anything else is a 400."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value) or value.endswith("."):
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise InvalidParams(
            f"Parameter {param!r}: {shown!r} is not a valid template name (letters, digits, '.', '_', '-'; at most 128)",
            param=param,
        )
    return value


@dataclass(frozen=True)
class Localized:
    """A text with an optional default and per-locale variants (canonical locale keys)."""

    default: str | None = None
    by_locale: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.default is not None or bool(self.by_locale)

    @classmethod
    def parse(cls, default: Any, by_locale: Any, param: str, *, max_chars: int = MAX_FILE_BYTES) -> "Localized":
        """Validate texts and normalize locale keys; errors name ``param``."""
        if default is not None and not isinstance(default, str):
            raise InvalidParams(f"Parameter {param!r} must be a string", param=param)
        if by_locale is None:
            by_locale = {}
        if not isinstance(by_locale, Mapping):
            raise InvalidParams(f"Parameter {param!r} must map locales to texts", param=param)
        out: dict[str, str] = {}
        for key, text in by_locale.items():
            locale = normalize(key, f"{param}.{key}")
            if not isinstance(text, str):
                raise InvalidParams(f"Parameter '{param}.{key}' must be a string", param=f"{param}.{key}")
            if locale in out:
                raise InvalidParams(f"Parameter {param!r} lists locale {locale!r} twice", param=f"{param}.{key}")
            out[locale] = text
        for text in [default, *out.values()]:
            if text is not None and len(text) > max_chars:
                raise InvalidParams(f"Parameter {param!r} is longer than {max_chars} characters", param=param)
        return cls(default, out)


@dataclass(frozen=True)
class Template:
    """One email template, whichever format it was read from."""

    id: str
    name: str
    enabled: bool = True
    engine: str = "handlebars"
    #: Sender address, possibly with a display name; "" means the config's.
    from_email: str = ""
    default_locale: str | None = None
    subject: Localized = field(default_factory=Localized)
    html: Localized = field(default_factory=Localized)
    text: Localized = field(default_factory=Localized)
    from_name: Localized = field(default_factory=Localized)
    created: int = 0
    updated: int = 0
    #: IDM admin-UI keys, kept so that writing back changes nothing IDM shows.
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- native (FusionAuth-style) form ------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The native JSON form (FusionAuth's key names, plus ours)."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "engine": self.engine,
            "fromEmail": self.from_email,
            "defaultLocale": self.default_locale,
        }
        for attr, default_key, localized_key in PARTS:
            part: Localized = getattr(self, attr)
            if part.default is not None:
                out[default_key] = part.default
            if part.by_locale:
                out[localized_key] = dict(part.by_locale)
        out["insertInstant"] = self.created
        out["lastUpdateInstant"] = self.updated
        if self.extra:
            # IDM's admin-UI keys, so a native copy converts back unchanged.
            out["idm"] = dict(self.extra)
        return out

    def summary(self) -> dict[str, Any]:
        """What listings show: no template bodies."""
        locales = sorted({loc for attr, _, _ in PARTS for loc in getattr(self, attr).by_locale})
        return {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "engine": self.engine,
            "defaultLocale": self.default_locale,
            "locales": locales,
            "insertInstant": self.created,
            "lastUpdateInstant": self.updated,
        }

    # -- IDM form ------------------------------------------------------------

    def to_idm(self) -> dict[str, Any]:
        """IDM's ``emailTemplate-<id>.json``; what IDM lacks goes in the ``emailactions`` block."""
        body, mime = (self.html, "text/html") if self.html else (self.text, "text/plain")
        out: dict[str, Any] = {
            "enabled": self.enabled,
            "from": self.from_email,
            "subject": dict(self.subject.by_locale),
            "message": dict(body.by_locale),
            "mimeType": mime,
        }
        if self.default_locale:
            out["defaultLocale"] = self.default_locale
        out.update(self.extra)
        ext = {k: v for k, v in self.to_dict().items() if k not in ("id", "enabled", "fromEmail", "defaultLocale", "idm")}
        ext.pop("localizedSubjects", None)
        ext.pop("localizedHtmlTemplates" if mime == "text/html" else "localizedTextTemplates", None)
        if ext.get("name") == self.id:
            del ext["name"]
        if ext.get("engine") == "handlebars":
            del ext["engine"]
        out[EXTENSION] = ext
        return out


