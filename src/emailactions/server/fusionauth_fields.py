"""FusionAuth's own request checks: UUID template ids and the fields its document marks required.

Each failure is one entry of FusionAuth's ``fieldErrors``, coded
``[blank]emailTemplate.name``, ``[invalid]emailTemplateId``,
``[duplicate]emailTemplateId``; all of a request's are reported together,
as FusionAuth validates a whole request at once.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Mapping

from emailactions.errors import InvalidParams

#: What FusionAuth's create (``POST``) and update (``PUT``) mark required.
REQUIRED = ("name", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate")
#: What its preview marks required (of an inline ``emailTemplate``).
PREVIEW_REQUIRED = ("defaultFromName", "defaultSubject", "defaultHtmlTemplate", "defaultTextTemplate", "fromEmail")
# The form FusionAuth writes and reads (8-4-4-4-12 hex digits); uuid.UUID alone
# would also take braces, "urn:uuid:" and undashed forms.
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class FieldErrors(InvalidParams):
    """A 400 naming one or more fields: ``fields`` is ``[(field, code, message), ...]``."""

    def __init__(self, fields: list[tuple[str, str, str]]) -> None:
        super().__init__(fields[0][2], param=fields[0][0])
        self.fields = fields

    def body(self) -> dict[str, Any]:
        """FusionAuth's Errors object."""
        out: dict[str, list[dict[str, str]]] = {}
        for field, code, message in self.fields:
            out.setdefault(field, []).append({"code": f"[{code}]{field}", "message": message})
        return {"fieldErrors": out}


def blank(template: Mapping[str, Any], names: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """``[blank]`` entries for the ``names`` absent, null, or only white space in ``template``
    (a value of the wrong type is the template parser's error, not this one)."""
    problems = []
    for name in names:
        value = template.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            field = f"emailTemplate.{name}"
            problems.append((field, "blank", f"You must specify the [{field}] property."))
    return problems


def uuid_id(value: Any, field: str) -> str:
    """A given template id as FusionAuth takes it: a UUID, answered in lower case."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise FieldErrors([(field, "invalid", f"The [{field}] property must be a UUID, such as "
                                               f"'{uuid.UUID(int=0xAB)}'; {shown!r} is not one.")])  # fmt: skip
    return str(uuid.UUID(value))
