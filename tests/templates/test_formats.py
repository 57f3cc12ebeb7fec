"""Both file formats of a template (IDM's and the native one), read into the model and back."""

from __future__ import annotations

import pytest

from emailactions.errors import InvalidParams
from emailactions.templates.model import Localized
from emailactions.templates.formats import from_dict, merge_patch

from support.store_contract import NATIVE, WELCOME


def test_idm_template_loads_into_the_model():
    t = from_dict(WELCOME, "welcome")
    assert t.id == t.name == "welcome" and t.enabled and t.engine == "handlebars"
    assert t.subject == Localized(None, {"en": "Your account has been created", "fr": "Votre compte a été créé"})
    assert set(t.html.by_locale) == {"en", "fr"} and not t.text
    assert t.default_locale == "en" and t.from_email == ""
    # Admin-UI keys are kept, and do not change behaviour.
    assert t.extra == {"displayName": "Welcome", "description": "Sent when an account is created", "templateId": "welcome",
                       "styles": "body { font-family: sans-serif; }"}  # fmt: skip


def test_idm_plain_text_template():
    t = from_dict({"subject": {"en": "S"}, "message": {"en": "B"}, "mimeType": "text/plain"}, "plain")
    assert t.text.by_locale == {"en": "B"} and not t.html


def test_idm_round_trip_keeps_everything_idm_reads():
    t = from_dict(WELCOME, "welcome")
    out = t.to_idm()
    for key in WELCOME:
        assert out[key] == WELCOME[key]
    assert from_dict(out, "welcome") == t


def test_native_round_trip_with_defaults_and_localized_parts():
    t = from_dict(NATIVE, "reset")
    assert t.subject.default == "Reset your password" and t.subject.by_locale == {"fr_CA": "Réinitialisez votre mot de passe"}
    assert t.from_name == Localized("Support", {"fr": "Assistance"})
    assert from_dict(t.to_dict(), "reset") == t
    # The richer parts survive the IDM format too, in the emailactions block.
    assert from_dict(t.to_idm(), "reset") == t


@pytest.mark.parametrize(
    "data, param",
    [
        ({"subject": {"en": "x"}, "message": {"en": "y"}, "mimeType": "text/xml"}, "mimeType"),
        ({"subject": {"english!": "x"}}, "subject.english!"),
        ({"subject": {"en": 5}}, "subject.en"),
        ({"subject": {"en": "x"}, "bogus": 1}, "bogus"),
        ({"localizedSubjects": {"en": "x"}, "bogus": 1}, "bogus"),
        ({"name": "a\nb"}, "name"),
        ({"engine": "../evil"}, "engine"),
        ({"enabled": "yes"}, "enabled"),
        ({"defaultLocale": "??"}, "defaultLocale"),
        ({"fromEmail": "a@b\r\nBcc: x"}, "from"),
        ({"localizedFromNames": {"en": "x\ny"}}, "fromName"),
        ({"subject": {"en": "x"}, "localizedSubjects": {"en": "y"}}, "template"),
        ({"subject": {"en": "x", "EN": "y"}}, "subject.EN"),
    ],
)
def test_invalid_templates_are_refused_naming_the_key(data, param):
    with pytest.raises(InvalidParams) as info:
        from_dict(data, "t")
    assert info.value.param == param


def test_merge_patch_follows_rfc7396():
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": 5}) == {"a": 1, "b": {"d": 3, "e": 4}, "f": 5}
