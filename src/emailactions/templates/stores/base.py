"""TemplateStore: reads, search and paging over templates; subclasses supply storage.

A store's writes are protected: callers write through
:class:`~emailactions.templates.stores.checked.CheckedStore`, which compiles
a template before the store sees it, so nothing broken is ever stored.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, Callable

from emailactions.errors import InvalidParams, TemplateExists, TemplateNotFound
from emailactions.templates.model import ORDER_BY, Template, check_id, now_ms


def _wildcard(query: str) -> re.Pattern[str]:
    """``*`` matches anything; plain text matches anywhere in the name."""
    if "*" not in query:
        return re.compile(re.escape(query.casefold()))
    return re.compile(".*".join(re.escape(part.casefold()) for part in query.split("*")) + r"\Z")


class TemplateStore(ABC):
    """Reads and search over templates; subclasses supply the four storage primitives."""

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

    # -- writes: called only by CheckedStore, after the template compiled ------

    def _create(self, template: Template) -> Template:
        """Store a new template, stamped; a taken id (in any case) is a 409."""
        stamp = now_ms()
        template = replace(template, created=template.created or stamp, updated=template.updated or stamp)
        with self._lock:
            taken = {i.casefold() for i in self._ids()}
            if template.id.casefold() in taken:
                raise TemplateExists(f"Email template {template.id!r} already exists", template=template.id)
            self._save(template, create=True)
        return template

    def _update(self, template_id: str, change: Callable[[Template], Template]) -> Template:
        """Replace the template with ``change(old)``, under the lock that a
        concurrent update also takes, so nothing unchecked slips in between."""
        with self._lock:
            old = self.get(template_id)
            new = replace(change(old), created=old.created, updated=max(now_ms(), old.updated + 1))
            self._save(new, create=False)
        return new

    def _delete(self, template_id: str) -> Template:
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
