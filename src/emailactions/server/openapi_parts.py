"""Small builders the OpenAPI document's modules share (no routes here)."""

from __future__ import annotations

from typing import Any

STR = {"type": "string"}
EMAIL = {"type": "string", "format": "email"}


def ref(name: str) -> dict[str, Any]:
    """A reference to one of the document's schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_reply(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A response with a JSON body."""
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """A JSON request body."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}
