"""Locale tags: parsing, Accept-Language, and IDM's resolution order.

Babel does the parsing; this module adds IDM's rules on top. A locale is passed
around as its canonical string (``fr_CA``, ``zh_Hant_TW``) so ``fr_CA``, ``fr-ca``
and ``fr-CA`` compare equal.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Sequence

from emailactions.errors import InvalidParams
from emailactions.hookspecs import hookimpl

#: Longest tag we look at; real tags are under 35 characters (RFC 5646 4.4.1).
MAX_TAG_CHARS = 64
#: Most entries taken from one Accept-Language header.
MAX_ACCEPT_ENTRIES = 32

_Q = re.compile(r"q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$", re.I)


@lru_cache(maxsize=1024)
def _parse(tag: str) -> str | None:
    """Canonical tag, or None when malformed. Cached: the same few tags recur."""
    from babel.core import parse_locale

    subtags = tag.replace("-", "_").split("_")
    # RFC 5646 extensions (-u-ca-gregory) and private use (-x-...) start at a
    # one-letter subtag; they refine formatting, not the language: drop them.
    for i, sub in enumerate(subtags):
        if len(sub) == 1 and i > 0:
            subtags = subtags[:i]
            break
    try:
        lang, territory, script, variant = parse_locale("_".join(subtags))[:4]
    except ValueError:
        return None
    # Babel accepts any run of letters as a language; BCP 47 wants 2-3 (or 5-8,
    # registered ones only, which no mail template uses).
    if not (2 <= len(lang) <= 3 and lang.isascii()):
        return None
    return "_".join(p for p in (lang, script, territory, variant) if p)


def normalize(tag: Any, param: str = "_locale") -> str:
    """The canonical form of a locale tag; malformed is a 400 naming ``param``."""
    if not isinstance(tag, str):
        raise InvalidParams(f"Parameter {param!r} must be a locale string", param=param)
    canonical = _parse(tag.strip()) if 0 < len(tag) <= MAX_TAG_CHARS else None
    if canonical is None:
        shown = tag if len(tag) <= MAX_TAG_CHARS else tag[:MAX_TAG_CHARS] + "..."
        raise InvalidParams(f"Parameter {param!r}: {shown!r} is not a valid locale", param=param, locale=shown)
    return canonical


def parse_accept_language(header: str | None, param: str = "Accept-Language") -> list[str]:
    """Locales of an Accept-Language header, best first (RFC 9110 12.5.4).

    ``q=0`` means "not acceptable" and drops the entry; ``*`` says nothing
    about which locale, so the later fallbacks handle it. Equal q values keep
    the header's order.
    """
    if not header:
        return []
    if not isinstance(header, str) or len(header) > 4096:
        raise InvalidParams(f"{param} must be a header string under 4096 characters", param=param)
    weighted: list[tuple[float, int, str]] = []
    for position, entry in enumerate(e.strip() for e in header.split(",")):
        if not entry:
            continue
        tag, _, rest = entry.partition(";")
        q = 1.0
        if rest:
            match = _Q.match(rest.strip())
            if not match:
                raise InvalidParams(f"{param}: bad quality value in {entry!r}", param=param)
            q = float(match.group(1))
        tag = tag.strip()
        if q == 0 or tag == "*":
            continue
        weighted.append((-q, position, tag))
    # Sorted before the cut, so a q=1 tag late in a long header still counts;
    # only the tags kept are parsed (the header's length bounds the rest).
    out: list[str] = []
    for _, _, tag in sorted(weighted)[:MAX_ACCEPT_ENTRIES]:
        canonical = normalize(tag, param)
        if canonical not in out:
            out.append(canonical)
    return out


def parent(tag: str) -> str | None:
    """The tag without its last subtag (``zh_Hant_TW`` -> ``zh_Hant``), or None."""
    head, sep, _ = tag.rpartition("_")
    return head if sep else None


def candidates(
    accept_language: str | None,
    requested: str | None,
    template_default: str | None,
    host_default: str | None,
) -> list[str]:
    """IDM's preference list: Accept-Language by q, ``_locale``, template, host."""
    out = parse_accept_language(accept_language)
    for tag in (requested and normalize(requested, "_locale"), template_default, host_default):
        if tag and tag not in out:
            out.append(tag)
    return out


def match(requested: Sequence[str], available: Iterable[str]) -> str | None:
    """IDM's lookup: each candidate exactly, else its parents, best candidate first.

    A parent (``fr`` for ``fr_CA``) is skipped at that position when it is
    itself listed later: the caller ranked it below what comes in between.
    Returns the key of ``available`` that matched, or None.
    """
    by_canonical: dict[str, str] = {}
    for key in available:
        canonical = _parse(key) if isinstance(key, str) else None
        by_canonical.setdefault(canonical or key, key)
    for i, tag in enumerate(requested):
        if tag in by_canonical:
            return by_canonical[tag]
        later = set(requested[i + 1 :])
        up = parent(tag)
        while up is not None:
            if up in later:
                break
            if up in by_canonical:
                return by_canonical[up]
            up = parent(up)
    return None


@hookimpl(trylast=True)
def resolve_locale(requested: list[str], available: list[str]) -> str | None:
    """Built-in resolution: IDM's order and parent rule (see :func:`match`)."""
    return match(requested, available)
