"""Locale-aware formatting of dates, numbers and money, shared by every template engine.

Babel does the CLDR work; these wrappers bound what a template may ask for
(short patterns, known currencies and time zones).
"""


import datetime as _dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from emailactions.locales.tags import parent





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
