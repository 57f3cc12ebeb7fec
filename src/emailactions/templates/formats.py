"""The two file formats of a template: IDM's ``emailTemplate-<name>.json`` and the native (FusionAuth) one.

* **IDM** (``subject``/``message`` per locale, ``mimeType``): what IDM reads.
  Our additions ride in an ``"emailactions"`` block IDM ignores, and IDM's
  admin-UI keys are kept untouched.
* **native** (FusionAuth's names: ``defaultSubject``, ``localizedSubjects``,
  ``defaultHtmlTemplate``, ...): what ``templates show`` prints.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from emailactions.params.addresses import check_header_text
from emailactions.params import fields
from emailactions.errors import InvalidParams
from emailactions.locales.tags import normalize
from emailactions.templates.model import EXTENSION, IDM_KEYS, IDM_UI_KEYS, Localized, MAX_NAME_CHARS, NATIVE_KEYS, Template, ENGINE_PATTERN, PARTS, check_id


def _text(data: Mapping[str, Any], key: str, default: str = "") -> str:
    return fields.text(data.get(key), key, default)


def _bool(data: Mapping[str, Any], key: str, default: bool) -> bool:
    return fields.boolean(data.get(key), key, default, strings=False, must="true or false")


def _instant(data: Mapping[str, Any], key: str) -> int:
    return fields.integer(data.get(key) or 0, key, strings=False, must="milliseconds since the epoch")


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
        for attr, default_key, localized_key in PARTS
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
    for attr, default_key, localized_key in PARTS:
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
    if not ENGINE_PATTERN.fullmatch(engine):
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


def updated(old: Template, data: Any, *, merge: bool) -> Template:
    """``old`` replaced by ``data``, or with ``merge`` patched by it, in the patch's own format.

    Timestamps are the store's business; IDM's admin-UI keys survive a
    native replace or any merge, as IDM would keep them.
    """
    if not isinstance(data, Mapping):
        raise InvalidParams("A template must be a JSON object", param="template")
    if merge:
        base = old.to_idm() if is_idm_format(data) else old.to_dict()
        merged = merge_patch(base, data)
        new = from_dict({k: v for k, v in merged.items() if k not in ("id", "insertInstant", "lastUpdateInstant")}, old.id)
    else:
        new = from_dict({k: v for k, v in data.items() if k not in ("insertInstant", "lastUpdateInstant")}, old.id)
    extra = new.extra if is_idm_format(data) and not merge else {**old.extra, **new.extra}
    return replace(new, extra=extra)


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


