"""CheckedStore: the one write path to templates, whoever calls (Python, CLI, REST).

``host.templates.store`` is a CheckedStore. It reads through to the store
plugin and compiles every part of a template before the store writes it, so
a template that does not compile is refused (400) and nothing is stored.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Mapping

from emailactions.templates.formats import from_dict, updated
from emailactions.templates.model import Template, check_id
from emailactions.templates.stores.base import TemplateStore


class CheckedStore:
    """A store's reads, and writes that pass ``check`` (compile, raise RenderError) first."""

    def __init__(self, backend: TemplateStore, check: Callable[[Template], Template]) -> None:
        #: The store plugin underneath; its writes are protected, for this class only.
        self.backend = backend
        self._check = check

    def get(self, template_id: str) -> Template:
        """The template, or 404."""
        return self.backend.get(template_id)

    def all(self) -> list[Template]:
        """Every template (unordered)."""
        return self.backend.all()

    def search(self, name: str | None = None, **options: Any) -> dict[str, Any]:
        """One page of the templates whose name matches; see :meth:`TemplateStore.search`."""
        return self.backend.search(name, **options)

    def create(self, data: Mapping[str, Any] | Template, template_id: str | None = None) -> Template:
        """Add a template; without an id (argument or ``id`` key) one is generated."""
        if isinstance(data, Template):
            template = data
        else:
            template_id = template_id or (data.get("id") if isinstance(data, Mapping) else None) or str(uuid.uuid4())
            # The id may come from the data itself: checked before anything uses it.
            template = from_dict(data, check_id(template_id))
        return self.backend._create(self._check(template))

    def update(self, template_id: str, data: Mapping[str, Any], *, merge: bool = False) -> Template:
        """Replace the template, or with ``merge`` apply ``data`` as a JSON merge patch (RFC 7396)."""
        return self.backend._update(template_id, lambda old: self._check(updated(old, data, merge=merge)))

    def delete(self, template_id: str) -> Template:
        """Remove and return the template, or 404."""
        return self.backend._delete(template_id)
