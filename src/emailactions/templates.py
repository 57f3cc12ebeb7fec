"""The template model, its two file formats, and the stores that hold templates.

One model (:class:`Template`) holds what IDM's ``emailTemplate-<name>.json``
holds and what FusionAuth's email templates hold: a default and per-locale
subject, HTML body, text body and from-name, a from address, and the engine
that renders it. Two formats read into it:

* **IDM** (``subject``/``message`` per locale, ``mimeType``): what IDM reads.
  Our additions ride in an ``"emailactions"`` block IDM ignores, and IDM's
  admin-UI keys are kept untouched.
* **native** (FusionAuth's names: ``defaultSubject``, ``localizedSubjects``,
  ``defaultHtmlTemplate``, ...): what ``templates show`` prints.

Stores: :class:`MemoryStore`, and :class:`FolderStore` writing one JSON file
per template atomically, in IDM's layout (readable by IDM) or the native one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from emailactions.addresses import check_header_text
from emailactions.errors import InvalidParams, TemplateError, TemplateExists, TemplateNotFound
from emailactions.locales import normalize

#: Template ids become file names: letters, digits, ``.``, ``_``, ``-`` only.
_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.)){0,127}")
_ENGINE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
#: Largest template file read or written.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NAME_CHARS = 256
#: IDM keys used only by its admin UI: kept on round trips, never used.
IDM_UI_KEYS = frozenset({"html", "styles", "displayName", "description", "templateId", "name", "advancedEditor"})
IDM_KEYS = frozenset({"enabled", "from", "subject", "message", "mimeType", "defaultLocale"}) | IDM_UI_KEYS
EXTENSION = "emailactions"

#: (model field, FusionAuth default key, FusionAuth localized key)
_PARTS = (
    ("subject", "defaultSubject", "localizedSubjects"),
    ("html", "defaultHtmlTemplate", "localizedHtmlTemplates"),
    ("text", "defaultTextTemplate", "localizedTextTemplates"),
    ("from_name", "defaultFromName", "localizedFromNames"),
)
NATIVE_KEYS = frozenset(
    {"id", "name", "enabled", "engine", "fromEmail", "defaultLocale", "insertInstant", "lastUpdateInstant", "idm"}
    | {key for _, d, loc in _PARTS for key in (d, loc)}
)
ORDER_BY = ("name", "id", "created")


def now_ms() -> int:
    """Milliseconds since the epoch, as FusionAuth's instants are."""
    return time.time_ns() // 1_000_000


def check_id(value: Any, param: str = "id") -> str:
    """A template id safe as a file name on any OS; anything else is a 400."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or value.endswith("."):
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
        for attr, default_key, localized_key in _PARTS:
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
        locales = sorted({loc for attr, _, _ in _PARTS for loc in getattr(self, attr).by_locale})
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


def _text(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidParams(f"Parameter {key!r} must be a string", param=key)
    return value


def _bool(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise InvalidParams(f"Parameter {key!r} must be true or false", param=key)
    return value


def _instant(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParams(f"Parameter {key!r} must be milliseconds since the epoch", param=key)
    return value


def is_idm_format(data: Mapping[str, Any]) -> bool:
    """IDM's format has ``message``/``mimeType`` or a per-locale ``subject``."""
    return any(key in data for key in ("message", "mimeType", "subject", "from", EXTENSION))


def from_native(data: Mapping[str, Any], template_id: str) -> Template:
    """Read the native form; unknown keys are refused, naming the first."""
    unknown = sorted(set(data) - NATIVE_KEYS)
    if unknown:
        raise InvalidParams(f"Unknown template key(s): {', '.join(unknown)}", param=unknown[0])
    parts = {
        attr: Localized.parse(data.get(default_key), data.get(localized_key), localized_key if data.get(localized_key) else default_key)
        for attr, default_key, localized_key in _PARTS
    }
    extra = data.get("idm") or {}
    if not isinstance(extra, Mapping) or set(extra) - IDM_UI_KEYS:
        raise InvalidParams(f"Parameter 'idm' may only hold IDM's admin-UI keys: {', '.join(sorted(IDM_UI_KEYS))}", param="idm")
    return _build(template_id, data, parts, from_email=_text(data, "fromEmail"), extra=extra)


def from_idm(data: Mapping[str, Any], template_id: str) -> Template:
    """Read IDM's format (plus our ``emailactions`` block); UI keys are kept."""
    ext = data.get(EXTENSION) or {}
    if not isinstance(ext, Mapping):
        raise InvalidParams(f"Parameter {EXTENSION!r} must be an object", param=EXTENSION)
    # ``engine`` is also accepted at the top, where people write it by hand.
    unknown = sorted(set(data) - IDM_KEYS - {EXTENSION, "engine"})
    if unknown:
        raise InvalidParams(f"Unknown template key(s): {', '.join(unknown)}", param=unknown[0])
    ext_unknown = sorted(set(ext) - NATIVE_KEYS)
    if ext_unknown:
        raise InvalidParams(f"Unknown key(s) in {EXTENSION!r}: {', '.join(ext_unknown)}", param=f"{EXTENSION}.{ext_unknown[0]}")
    mime = _text(data, "mimeType", "text/plain").strip().lower()
    if mime not in ("text/html", "text/plain"):
        raise InvalidParams(f"Template mimeType {mime!r} is not handled (text/html or text/plain)", param="mimeType")
    body_attr = "html" if mime == "text/html" else "text"

    def idm_part(key: str) -> tuple[Any, Any]:
        # IDM writes per-locale maps; a bare string is taken as the default.
        value = data.get(key)
        return (value, None) if isinstance(value, str) else (None, value)

    parts: dict[str, Localized] = {}
    for attr, default_key, localized_key in _PARTS:
        default, by_locale = ext.get(default_key), ext.get(localized_key)
        if attr == "subject":
            by_locale_default, by_locale = idm_part("subject")
            default = default if default is not None else by_locale_default
            param = "subject"
        elif attr == body_attr:
            by_locale_default, by_locale = idm_part("message")
            default = default if default is not None else by_locale_default
            param = "message"
        else:
            param = f"{EXTENSION}.{localized_key}"
        parts[attr] = Localized.parse(default, by_locale, param)
    merged = {**ext, "enabled": data.get("enabled", True), "defaultLocale": data.get("defaultLocale")}
    if "engine" in data:
        merged["engine"] = data["engine"]
    extra = {k: data[k] for k in IDM_UI_KEYS if k in data}
    return _build(template_id, merged, parts, from_email=_text(data, "from"), extra=extra)


def _build(template_id: str, data: Mapping[str, Any], parts: Mapping[str, Localized], *, from_email: str, extra: Mapping[str, Any]) -> Template:
    name = _text(data, "name", template_id) or template_id
    if len(name) > MAX_NAME_CHARS:
        raise InvalidParams(f"Parameter 'name' is longer than {MAX_NAME_CHARS} characters", param="name")
    check_header_text(name, "name")
    engine = _text(data, "engine", "handlebars") or "handlebars"
    if not _ENGINE.fullmatch(engine):
        raise InvalidParams(f"Parameter 'engine': {engine[:40]!r} is not an engine name", param="engine")
    default_locale = data.get("defaultLocale")
    if default_locale is not None:
        default_locale = normalize(default_locale, "defaultLocale")
    check_header_text(from_email, "from")
    for text in [parts["from_name"].default or "", *parts["from_name"].by_locale.values()]:
        check_header_text(text, "fromName")
    return Template(
        id=check_id(template_id),
        name=name,
        enabled=_bool(data, "enabled", True),
        engine=engine,
        from_email=from_email.strip(),
        default_locale=default_locale,
        created=_instant(data, "insertInstant"),
        updated=_instant(data, "lastUpdateInstant"),
        extra=dict(extra),
        **parts,
    )


def from_dict(data: Any, template_id: str) -> Template:
    """Either format, told apart by its keys."""
    if not isinstance(data, Mapping):
        raise InvalidParams("A template must be a JSON object", param="template")
    if any(k in data for k in NATIVE_KEYS - {"id", "name", "enabled", "defaultLocale", "engine"}) and is_idm_format(data):
        raise InvalidParams("A template mixes IDM keys (subject, message) with native ones (localizedSubjects, ...)", param="template")
    data_id = data.get("id")
    if data_id is not None and data_id != template_id:
        raise InvalidParams(f"Template id {data_id!r} does not match {template_id!r}", param="id")
    data = {k: v for k, v in data.items() if k != "id"}
    return from_idm(data, template_id) if is_idm_format(data) else from_native(data, template_id)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, ``null`` removes, the rest replaces."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _wildcard(query: str) -> re.Pattern[str]:
    """``*`` matches anything; plain text matches anywhere in the name."""
    if "*" not in query:
        return re.compile(re.escape(query.casefold()))
    return re.compile(".*".join(re.escape(part.casefold()) for part in query.split("*")) + r"\Z")


class TemplateStore(ABC):
    """CRUD and search over templates; subclasses supply storage."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @abstractmethod
    def _load(self, template_id: str) -> Template | None:
        """The stored template, or None."""

    @abstractmethod
    def _ids(self) -> list[str]:
        """Every stored id."""

    @abstractmethod
    def _save(self, template: Template, *, create: bool) -> None:
        """Store; with ``create``, raise TemplateExists if the id is taken."""

    @abstractmethod
    def _remove(self, template_id: str) -> bool:
        """Delete; False if it was not there."""

    def get(self, template_id: str) -> Template:
        """The template, or 404."""
        check_id(template_id, "templateName")
        template = self._load(template_id)
        if template is None:
            raise TemplateNotFound(f"Email template {template_id!r} not found", template=template_id)
        return template

    def all(self) -> list[Template]:
        """Every template (unordered)."""
        return [t for t in (self._load(i) for i in self._ids()) if t is not None]

    def create(self, data: Mapping[str, Any] | Template, template_id: str | None = None) -> Template:
        """Add a template; without an id (argument or ``id`` key) one is generated."""
        if isinstance(data, Template):
            template = data
        else:
            template_id = template_id or (data.get("id") if isinstance(data, Mapping) else None) or str(uuid.uuid4())
            template = from_dict(data, check_id(template_id))
        stamp = now_ms()
        template = replace(template, created=template.created or stamp, updated=template.updated or stamp)
        with self._lock:
            taken = {i.casefold() for i in self._ids()}
            if template.id.casefold() in taken:
                raise TemplateExists(f"Email template {template.id!r} already exists", template=template.id)
            self._save(template, create=True)
        return template

    def update(self, template_id: str, data: Mapping[str, Any], *, merge: bool = False) -> Template:
        """Replace the template, or with ``merge`` apply ``data`` as a JSON merge patch."""
        with self._lock:
            old = self.get(template_id)
            if not isinstance(data, Mapping):
                raise InvalidParams("A template must be a JSON object", param="template")
            if merge:
                # The patch is applied to the old template in the patch's own format.
                base = old.to_idm() if is_idm_format(data) else old.to_dict()
                merged = merge_patch(base, data)
                new = from_dict({k: v for k, v in merged.items() if k not in ("id", "insertInstant", "lastUpdateInstant")}, template_id)
            else:
                new = from_dict({k: v for k, v in data.items() if k not in ("insertInstant", "lastUpdateInstant")}, template_id)
            extra = new.extra if is_idm_format(data) and not merge else {**old.extra, **new.extra}
            new = replace(new, created=old.created, updated=max(now_ms(), old.updated + 1), extra=extra)
            self._save(new, create=False)
        return new

    def delete(self, template_id: str) -> Template:
        """Remove and return the template, or 404."""
        with self._lock:
            template = self.get(template_id)
            self._remove(template_id)
        return template

    def search(
        self,
        name: str | None = None,
        *,
        page_size: int = 25,
        start_row: int = 0,
        order_by: str = "name",
        descending: bool = False,
    ) -> dict[str, Any]:
        """Templates whose name matches, one page of them, and the total.

        ``name`` is case-insensitive; ``*`` is a wildcard, and text without
        one matches anywhere in the name.
        """
        if name is not None and not isinstance(name, str):
            raise InvalidParams("Parameter 'name' must be a string", param="name")
        for value, param, low in ((page_size, "pageSize", 1), (start_row, "startRow", 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidParams(f"Parameter {param!r} must be an integer of at least {low}", param=param)
        if page_size > 1000:
            raise InvalidParams("Parameter 'pageSize' must be at most 1000", param="pageSize")
        if order_by not in ORDER_BY:
            raise InvalidParams(f"Parameter 'orderBy' must be one of {', '.join(ORDER_BY)}", param="orderBy")
        templates = self.all()
        if name:
            pattern = _wildcard(name)
            matches = pattern.match if "*" in name else pattern.search
            templates = [t for t in templates if matches(t.name.casefold())]
        keys = {
            "name": lambda t: (t.name.casefold(), t.id),
            "id": lambda t: (t.id,),
            "created": lambda t: (t.created, t.id),
        }
        templates.sort(key=keys[order_by], reverse=descending)
        return {
            "total": len(templates),
            "startRow": start_row,
            "pageSize": page_size,
            "templates": templates[start_row : start_row + page_size],
        }


class MemoryStore(TemplateStore):
    """Templates in a dict: for tests, and hosts without a templates folder."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        super().__init__()
        self._templates: dict[str, Template] = {t.id: t for t in templates}

    def _load(self, template_id: str) -> Template | None:
        return self._templates.get(template_id)

    def _ids(self) -> list[str]:
        return list(self._templates)

    def _save(self, template: Template, *, create: bool) -> None:
        if create and template.id in self._templates:
            raise TemplateExists(f"Email template {template.id!r} already exists", template=template.id)
        self._templates[template.id] = template

    def _remove(self, template_id: str) -> bool:
        return self._templates.pop(template_id, None) is not None


class FolderStore(TemplateStore):
    """One JSON file per template, written atomically (temp file, fsync, rename).

    ``layout="idm"`` reads and writes ``emailTemplate-<id>.json`` in IDM's
    format, so IDM reads the same folder; ``layout="native"`` uses ``<id>.json``
    in the native format. Either layout reads either format. Parsed files are
    cached by modification time and size.
    """

    def __init__(self, path: str | os.PathLike[str], layout: str = "idm") -> None:
        super().__init__()
        if layout not in ("idm", "native"):
            raise ValueError(f"unknown layout {layout!r}")
        self.path = Path(path)
        self.layout = layout
        self._prefix = "emailTemplate-" if layout == "idm" else ""
        self._cache: dict[str, tuple[tuple[int, int], Template]] = {}

    def file(self, template_id: str) -> Path:
        """Where a template lives; the id was checked, so no path tricks."""
        return self.path / f"{self._prefix}{check_id(template_id)}.json"

    def _ids(self) -> list[str]:
        if not self.path.is_dir():
            return []
        ids = []
        for entry in self.path.iterdir():
            name = entry.name
            if name.startswith(self._prefix) and name.endswith(".json") and not name.startswith("."):
                candidate = name[len(self._prefix) : -len(".json")]
                if _ID.fullmatch(candidate) and not candidate.endswith(".") and entry.is_file():
                    ids.append(candidate)
        return ids

    def _load(self, template_id: str) -> Template | None:
        path = self.file(template_id)
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._cache.pop(template_id, None)
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(template_id)
        if cached and cached[0] == key:
            return cached[1]
        if stat.st_size > MAX_FILE_BYTES:
            raise TemplateError(f"Template file {path.name} is larger than {MAX_FILE_BYTES} bytes", template=template_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            template = from_dict(data, template_id)
        except (OSError, ValueError) as exc:
            raise TemplateError(f"Template file {path.name} cannot be read: {exc}", template=template_id) from None
        except InvalidParams as exc:
            raise TemplateError(f"Template file {path.name} is invalid: {exc.message}", template=template_id, key=exc.detail.get("param")) from None
        if not template.created:
            # IDM's files carry no timestamps: the file's own time stands in.
            millis = stat.st_mtime_ns // 1_000_000
            template = replace(template, created=millis, updated=template.updated or millis)
        self._cache[template_id] = (key, template)
        return template

    def _save(self, template: Template, *, create: bool) -> None:
        data = template.to_idm() if self.layout == "idm" else template.to_dict()
        raw = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        if len(raw) > MAX_FILE_BYTES:
            raise InvalidParams(f"The template is larger than {MAX_FILE_BYTES} bytes", param="template")
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.file(template.id), raw, exclusive=create)
        self._cache.pop(template.id, None)

    def _remove(self, template_id: str) -> bool:
        self._cache.pop(template_id, None)
        try:
            self.file(template_id).unlink()
        except FileNotFoundError:
            return False
        return True


def atomic_write(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` so readers see the old file or the new one, never half of one.

    With ``exclusive``, fail with TemplateExists if ``path`` exists, atomically
    (a hard link refuses to replace; filesystems without links fall back to a check).
    """
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise TemplateExists(f"Email template file {path.name} already exists", template=path.stem) from None
            except OSError:
                if path.exists():
                    raise TemplateExists(f"Email template file {path.name} already exists", template=path.stem) from None
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    # The rename is durable once the directory entry is on disk (POSIX only).
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
