"""Locale parsing, Accept-Language, and IDM's resolution order with the parent rule."""

from __future__ import annotations

import pytest

from emailactions.errors import InvalidParams
from emailactions.locales.tags import candidates, match, normalize, parse_accept_language


@pytest.mark.parametrize("tag", ["fr_CA", "fr-ca", "fr-CA", "FR_ca", " fr-CA "])
def test_spellings_of_one_locale_are_equal(tag):
    assert normalize(tag) == "fr_CA"


@pytest.mark.parametrize(
    "tag, canonical",
    [("zh-Hant-TW", "zh_Hant_TW"), ("es-419", "es_419"), ("en-US-u-ca-gregory", "en_US"), ("de-CH-x-private", "de_CH"), ("EN", "en")],
)
def test_canonical_forms(tag, canonical):
    assert normalize(tag) == canonical


@pytest.mark.parametrize("tag", ["", "123", "fr_", "en--US", "x-private", "i-klingon", "english!", "e", "a" * 100, "fr\nBcc: x"])
def test_malformed_locale_is_a_400_naming_the_param(tag):
    with pytest.raises(InvalidParams) as info:
        normalize(tag, "_locale")
    assert info.value.code == 400 and info.value.param == "_locale"


def test_non_string_locale_is_refused():
    with pytest.raises(InvalidParams):
        normalize(["fr"], "_locale")


def test_accept_language_is_ordered_by_q():
    assert parse_accept_language("en;q=0.5, fr-CA, fr;q=0.9, de;q=0.9") == ["fr_CA", "fr", "de", "en"]


def test_accept_language_drops_q0_wildcards_and_duplicates():
    assert parse_accept_language("*, fr;q=0, en, EN-gb;q=0.8, en;q=0.1") == ["en", "en_GB"]


@pytest.mark.parametrize("header", ["fr;q=2", "fr;q=abc", "fr;level=1", "fr, 12", "x" * 5000])
def test_malformed_accept_language_is_a_400(header):
    with pytest.raises(InvalidParams) as info:
        parse_accept_language(header)
    assert info.value.param == "Accept-Language"


def test_idm_order_accept_language_then_locale_then_template_then_host():
    assert candidates("de, it;q=0.5", "fr", "es", "en") == ["de", "it", "fr", "es", "en"]
    assert candidates(None, None, None, "en") == ["en"]
    assert candidates("en", "en", "en", "en") == ["en"]


def test_exact_match_first():
    assert match(["fr_CA", "fr"], ["fr", "fr_CA"]) == "fr_CA"


def test_parent_locale_when_no_exact_match():
    assert match(["fr_CA", "en"], ["en", "fr"]) == "fr"
    assert match(["zh_Hant_TW"], ["zh"]) == "zh"


def test_parent_is_skipped_when_listed_later():
    # The caller ranked plain French below English: fr-CA must not pull fr up.
    assert match(["fr_CA", "en", "fr"], ["en", "fr"]) == "en"


def test_template_keys_may_be_spelled_any_way():
    assert match(["fr_CA"], ["en", "fr-ca"]) == "fr-ca"


def test_nothing_matches():
    assert match(["de"], ["en", "fr"]) is None


def test_a_preferred_tag_late_in_a_long_header_still_counts():
    from emailactions.locales.tags import MAX_ACCEPT_ENTRIES, parse_accept_language

    header = ", ".join(f"x{chr(97 + i // 26)}{chr(97 + i % 26)};q=0.1" for i in range(MAX_ACCEPT_ENTRIES + 5)) + ", fr;q=1"
    assert parse_accept_language(header)[0] == "fr"
