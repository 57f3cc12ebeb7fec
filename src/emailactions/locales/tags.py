"""Locale tags: parsing, Accept-Language, IDM's resolution order, and formatting.

Babel does the parsing and the CLDR formatting; this module adds IDM's rules
on top. A locale is passed around as its canonical string (``fr_CA``,
``zh_Hant_TW``) so ``fr_CA``, ``fr-ca`` and ``fr-CA`` compare equal.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation
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


# -- locale-aware formatting, shared by every engine ----------------------


@lru_cache(maxsize=256)
def babel_locale(tag: str | None) -> Any:
    """The Babel ``Locale`` for a tag; unknown to CLDR falls back to its parent, then ``en``."""
    from babel.core import Locale, UnknownLocaleError

    while tag:
        try:
            return Locale.parse(tag)
        except (UnknownLocaleError, ValueError):
            tag = parent(tag)
    return Locale.parse("en")


def _as_datetime(value: Any) -> _dt.datetime | _dt.date:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a date")
    if isinstance(value, (int, float)):
        # Epoch milliseconds, as IDM and FusionAuth store instants.
        return _dt.datetime.fromtimestamp(value / 1000, tz=_dt.timezone.utc)
    if isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        if len(text) == 10:
            return _dt.date.fromisoformat(text)
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    raise ValueError(f"cannot read {type(value).__name__} as a date")


def _as_number(value: Any) -> Decimal | int | float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, str) and len(value) <= 64:
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise ValueError(f"cannot read {value!r:.40} as a number")


_DATE_FORMATS = ("short", "medium", "long", "full")


def _pattern(fmt: Any) -> str:
    # Named CLDR formats, or a CLDR pattern kept short: patterns are data too.
    if not isinstance(fmt, str) or not fmt or len(fmt) > 64:
        raise ValueError("a date format must be short, medium, long, full or a short CLDR pattern")
    return fmt


def format_date(value: Any, locale: str | None, fmt: Any = "medium") -> str:
    """A date in the locale's words (``1 mars 2024``)."""
    from babel.dates import format_date as fd

    when = _as_datetime(value)
    return fd(when.date() if isinstance(when, _dt.datetime) else when, _pattern(fmt), locale=babel_locale(locale))


def format_datetime(value: Any, locale: str | None, fmt: Any = "medium", tz: Any = "UTC") -> str:
    """A date and time in the locale's words, in time zone ``tz`` (default UTC)."""
    from babel.dates import format_datetime as fdt, get_timezone

    when = _as_datetime(value)
    if not isinstance(when, _dt.datetime):
        when = _dt.datetime.combine(when, _dt.time())
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    if not isinstance(tz, str) or len(tz) > 64:
        raise ValueError("a time zone must be a name such as Europe/Paris")
    try:
        zone = get_timezone(tz)
    except LookupError as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc
    return fdt(when, _pattern(fmt), tzinfo=zone, locale=babel_locale(locale))


def format_number(value: Any, locale: str | None, decimals: Any = None) -> str:
    """A number with the locale's separators; ``decimals`` fixes the fraction digits."""
    from babel.numbers import format_decimal

    number = _as_number(value)
    if decimals is None:
        return format_decimal(number, locale=babel_locale(locale))
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 20:
        raise ValueError("decimals must be an integer from 0 to 20")
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(number, format=pattern, locale=babel_locale(locale), decimal_quantization=True)


def format_currency(value: Any, locale: str | None, currency: Any = "USD") -> str:
    """An amount in a currency, as the locale writes it (``1 234,50 €``)."""
    from babel.numbers import format_currency as fc

    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ValueError("currency must be a three-letter ISO 4217 code")
    return fc(_as_number(value), currency.upper(), locale=babel_locale(locale))


def format_percent(value: Any, locale: str | None) -> str:
    """A ratio as a percentage (0.25 -> ``25 %`` in French)."""
    from babel.numbers import format_percent as fp

    return fp(_as_number(value), locale=babel_locale(locale))


#: name -> function(value, locale, *args); engines expose these as helpers/filters.
FORMATTERS = {
    "formatDate": format_date,
    "formatDateTime": format_datetime,
    "formatNumber": format_number,
    "formatCurrency": format_currency,
    "formatPercent": format_percent,
}
