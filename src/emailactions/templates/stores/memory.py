"""MemoryStore: templates in a dict, for tests and hosts without a templates folder."""

from __future__ import annotations

from emailactions.errors import TemplateExists
from emailactions.templates.stores.base import TemplateStore
from emailactions.templates.model import Template


class MemoryStore(TemplateStore):
    """Templates in a dict: for tests, and hosts without a templates folder."""

    def __init__(self) -> None:
        super().__init__()
        self._templates: dict[str, Template] = {}

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


