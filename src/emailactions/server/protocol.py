"""Wire rules shared by the REST routes, without the web framework.

Reading a JSON body (media type, size, strict JSON), IDM's
``Accept-API-Version`` header, query strings (through the param toolkit,
:mod:`emailactions.params.fields`), and the two error body
shapes: IDM's ``{"code","reason","message","detail"}`` on ``/openidm`` and
everywhere else, FusionAuth's ``{"fieldErrors","generalErrors"}`` on ``/api``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from emailactions.errors import EmailActionsError, InvalidParams, TooLarge, TransportError, UnsupportedMediaType
from emailactions.params.fields import boolean, integer, mapping, refuse_unknown
from emailactions.params.incoming import load_json
from emailactions.templates.formats import from_dict
from emailactions.templates.model import check_id

#: What CREST answers with, on every ``/openidm`` response.
CONTENT_API_VERSION = "protocol=2.1,resource=1.0"
_VERSION = re.compile(r"\s*(protocol|resource)\s*=\s*(\d+)(?:\.(\d+))?\s*")
#: Media types taken as JSON: ``application/json`` and ``application/*+json``
#: (``merge-patch+json`` for FusionAuth's PATCH).
_JSON_TYPE = re.compile(r"application/(?:[\w.-]+\+)?json")


def printable(text: str, limit: int = 200) -> str:
    """Text from a request made safe for one log line: no line breaks or control characters."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def check_media_type(content_type: str | None) -> None:
    """415 unless the body is declared JSON in UTF-8."""
    if not content_type:
        raise UnsupportedMediaType("The request body must be JSON: send Content-Type: application/json")
    media, _, params = content_type.partition(";")
    if not _JSON_TYPE.fullmatch(media.strip().lower()):
        raise UnsupportedMediaType(f"Content-Type {media.strip()[:80]!r} is not supported: send application/json")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("The JSON body must be UTF-8")


def check_length(content_length: str | None, limit: int) -> None:
    """413 at once when the declared length is over the limit."""
    if content_length is None:
        return
    if not content_length.strip().isdigit():
        raise InvalidParams("Content-Length is not a number", param="Content-Length")
    if int(content_length) > limit:
        raise TooLarge(f"The request body is larger than {limit} bytes", limit=limit)


def parse_json(raw: bytes) -> Any:
    """Strict JSON (no NaN or Infinity); ``None`` for an empty body; 400 otherwise
    (too deep, not UTF-8, not JSON: the one check every door shares)."""
    if not raw.strip():
        return None
    # The body's size was checked against [server] max_body_bytes as it was read.
    return load_json(raw, "The request body", "body", max_bytes=len(raw))


def json_object(value: Any, param: str = "body") -> dict[str, Any]:
    """The parsed body as an object (an empty body is ``{}``)."""
    if param == "body" and not isinstance(value, (dict, type(None))):
        raise InvalidParams("The request body must be a JSON object", param=param)
    return mapping(value, param, {})


def require_content(data: Mapping[str, Any], template_id: str, param: str) -> None:
    """400 unless the template ``data`` describes has a subject or a body with text
    in some locale: stored empty, it would send empty mail to whoever it is used for."""
    template = from_dict(data, check_id(template_id))
    texts = [text for part in (template.subject, template.html, template.text) for text in (part.default, *part.by_locale.values())]
    if not any(text and text.strip() for text in texts):
        raise InvalidParams("A template needs a subject or a body (html or text); this one has neither", param=param)


def check_api_version(header: str | None) -> None:
    """IDM's ``Accept-API-Version``: ``resource=1.x`` (and any ``protocol`` 1 or 2) only."""
    if header is None:
        return
    for item in header.split(","):
        match = _VERSION.fullmatch(item)
        if match is None:
            raise InvalidParams(f"Accept-API-Version {header[:80]!r} is malformed (expected 'resource=1.0')", param="Accept-API-Version")
        name, major = match.group(1), int(match.group(2))
        if (name == "resource" and major != 1) or (name == "protocol" and major not in (1, 2)):
            raise InvalidParams(f"Unsupported {name} version {item.strip()[:40]!r}: this service offers resource=1.0", param="Accept-API-Version")


def query_bool(value: str | None, name: str, default: bool) -> bool:
    """``true`` / ``false`` from a query string; anything else is a 400 naming it."""
    return boolean(value, name, default, must="true or false")


def query_int(value: str | None, name: str, default: int, *, minimum: int = 0, maximum: int = 1_000_000) -> int:
    """A bounded non-negative integer from a query string."""
    return integer(value, name, default, minimum=minimum, maximum=maximum)


def only_params(query: Mapping[str, str], allowed: set[str]) -> None:
    """400 naming the first query parameter this route does not take."""
    refuse_unknown(query, allowed, noun="query parameter")


def public_error(exc: EmailActionsError) -> EmailActionsError:
    """What a client may see of ``exc``: internal failures say only that they happened.

    4xx and relay errors (502-504) are the caller's business; a 500 (a broken
    config, plugin or outbox file) may name paths and internals, which stay in
    the server log.
    """
    if exc.code < 500 or isinstance(exc, TransportError):
        return exc
    hidden = EmailActionsError("Internal error; the server log has the details")
    hidden.code = exc.code
    return hidden


def idm_error(exc: EmailActionsError) -> dict[str, Any]:
    """IDM's error body."""
    return exc.to_dict()


def fusionauth_error(exc: EmailActionsError) -> dict[str, Any]:
    """FusionAuth's error body: a field error when a param is named, else a general one."""
    detail = {k: v for k, v in exc.detail.items() if k != "param"}
    param = exc.detail.get("param")
    entry: dict[str, Any] = {"code": f"[{exc.kind}]{param or ''}", "message": exc.message}
    if detail:
        entry["data"] = detail
    if param and exc.code in (400, 413):
        return {"fieldErrors": {str(param): [entry]}}
    return {"generalErrors": [entry]}
