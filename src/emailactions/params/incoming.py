"""JSON from outside (CLI options, REST bodies, script params): one depth and size limit, one error.

Python's parser recurses per level: 100,000 ``[`` raise ``RecursionError``
from inside it, and a value nested a few hundred deep can still exhaust the
stack of whatever walks it later (validation, templates, ``json.dumps``).
So every door checks the same :data:`MAX_DEPTH` (the JavaScript sandbox's own
limit, ``prelude.js``) and answers with the same 400 naming the param.
"""

from __future__ import annotations

import json
from typing import Any

from emailactions.errors import InvalidParams, TooLarge

#: Deepest nesting of arrays and objects taken; the JS sandbox refuses deeper too.
MAX_DEPTH = 256
#: Largest JSON text read where no other limit is configured (the REST server
#: has ``[server] max_body_bytes``): room for the largest message the default
#: ``[email.limits]`` admit, base64 and all.
MAX_BYTES = 48 * 1024 * 1024


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str | bytes, label: str, param: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Strict JSON (no NaN or Infinity) no deeper than :data:`MAX_DEPTH`.

    ``label`` names the input in messages ("Option --params", "The request
    body"); ``param`` is the param the 400 names. Over ``max_bytes``: 413.
    """
    if len(text) > max_bytes:
        raise TooLarge(f"{label} is larger than {max_bytes} bytes", limit=max_bytes, param=param)
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise InvalidParams(f"{label} is not UTF-8", param=param) from None
    except RecursionError:
        raise _too_deep(label, param) from None
    except ValueError as exc:
        raise InvalidParams(f"{label} is not valid JSON: {str(exc)[:120]}", param=param) from None
    check_depth(value, label, param)
    return value


def check_depth(value: Any, label: str, param: str) -> None:
    """400 if lists and mappings in ``value`` nest deeper than :data:`MAX_DEPTH`
    (walked without recursion: the value may come from Python code, unparsed)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise _too_deep(label, param)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))


def _too_deep(label: str, param: str) -> InvalidParams:
    return InvalidParams(f"{label} nests too deeply (more than {MAX_DEPTH} levels)", param=param, max_depth=MAX_DEPTH)
