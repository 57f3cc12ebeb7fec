"""Locale-aware formatting shared by every engine: Babel's answers, within bounds a template cannot stretch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from babel.dates import format_date as babel_date
from babel.numbers import format_currency as babel_currency

from emailactions.locales.formatting import FORMATTERS, babel_locale, format_currency, format_date, format_datetime, format_number


@pytest.mark.parametrize("locale", ["en", "fr", "de_CH", "ja"])
def test_dates_and_money_are_babels_for_the_locale(locale):
    # Babel is the oracle: CLDR changes separators between releases.
    assert format_date("2024-03-01", locale, "long") == babel_date(dt.date(2024, 3, 1), "long", locale=locale)
    assert format_currency(1234.5, locale, "eur") == babel_currency(Decimal("1234.5"), "EUR", locale=locale)


def test_an_unknown_locale_falls_back_to_its_parent_then_english():
    assert babel_locale("fr_ZZ").language == "fr"
    assert str(babel_locale("xx_YY")) == "en"


def test_datetime_in_a_named_time_zone():
    assert "10:00" in format_datetime("2024-03-01T09:00:00Z", "en", "short", "Europe/Paris")


def test_decimals_are_fixed_on_request():
    assert format_number(2, "en", 2) == "2.00"


@pytest.mark.parametrize(
    "call",
    [
        lambda: format_currency(1, "en", "EURO"),
        lambda: format_date("2024-03-01", "en", "y" * 65),
        lambda: format_datetime("2024-03-01", "en", "short", "Mars/Olympus"),
        lambda: format_number(1, "en", 21),
        lambda: format_number(1, "en", True),
    ],
)
def test_what_a_template_cannot_ask_for_is_a_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_every_engine_helper_is_listed():
    assert {"formatDate", "formatDateTime", "formatNumber", "formatCurrency", "formatPercent"} <= set(FORMATTERS)
