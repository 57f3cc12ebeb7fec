"""FolderStore: one JSON file per template, in IDM's layout or the native one."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from emailactions.errors import InvalidParams, TemplateError, TemplateExists
from emailactions.templates.stores.base import TemplateStore
from emailactions.templates.model import MAX_FILE_BYTES, Template, ID_PATTERN, check_id
from emailactions.templates.formats import from_dict
from emailactions.files import atomic_write


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
                if ID_PATTERN.fullmatch(candidate) and not candidate.endswith(".") and entry.is_file():
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
        try:
            atomic_write(self.file(template.id), raw, exclusive=create)
        except FileExistsError:
            raise TemplateExists(f"Email template {template.id!r} already exists", template=template.id) from None
        self._cache.pop(template.id, None)

    def _remove(self, template_id: str) -> bool:
        self._cache.pop(template_id, None)
        try:
            self.file(template_id).unlink()
        except FileNotFoundError:
            return False
        return True


