"""The template model, both file formats, and the memory and folder stores."""

from __future__ import annotations

import json
import os
import threading

import pytest

from support import ROOT

from emailactions.errors import InvalidParams, TemplateError, TemplateExists, TemplateNotFound
from emailactions.templates.stores.folder import FolderStore
from emailactions.templates.model import Localized, Template, check_id
from emailactions.templates.stores.memory import MemoryStore
from emailactions.templates.formats import from_dict, merge_patch

WELCOME = json.loads((ROOT / "examples" / "conf" / "emailTemplate-welcome.json").read_text(encoding="utf-8"))

NATIVE = {
    "name": "Password reset",
    "engine": "jinja2",
    "fromEmail": "support@example.com",
    "defaultLocale": "en",
    "defaultSubject": "Reset your password",
    "localizedSubjects": {"fr-ca": "Réinitialisez votre mot de passe"},
    "defaultHtmlTemplate": "<p>Hi {{ object.givenName }}</p>",
    "defaultTextTemplate": "Hi {{ object.givenName }}",
    "localizedFromNames": {"fr": "Assistance"},
    "defaultFromName": "Support",
}


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


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "a\\b", "..", ".hidden", "a..b", "x.", "", "a b", "é", "a" * 129, "con\x00"])
def test_template_names_cannot_play_path_tricks(bad):
    with pytest.raises(InvalidParams):
        check_id(bad)


def test_merge_patch_follows_rfc7396():
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": 5}) == {"a": 1, "b": {"d": 3, "e": 4}, "f": 5}


# -- stores -----------------------------------------------------------------------------


@pytest.fixture(params=["memory", "idm-folder", "native-folder"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryStore()
    return FolderStore(tmp_path, layout="idm" if request.param == "idm-folder" else "native")


def test_crud(store):
    created = store.create(WELCOME, "welcome")
    assert store.get("welcome") == created and created.created > 0
    with pytest.raises(TemplateExists):
        store.create(WELCOME, "welcome")
    with pytest.raises(TemplateExists):
        store.create(WELCOME, "WELCOME")  # one file on case-insensitive disks
    generated = store.create(NATIVE)
    assert len(generated.id) == 36 and store.get(generated.id).name == "Password reset"
    given = store.create({**NATIVE, "id": "reset"})
    assert given.id == "reset"

    replaced = store.update("welcome", {"subject": {"en": "New"}, "message": {"en": "Body"}, "mimeType": "text/plain"})
    assert replaced.subject.by_locale == {"en": "New"} and replaced.text.by_locale == {"en": "Body"}
    assert replaced.created == created.created and replaced.updated > created.updated

    merged = store.update("reset", {"localizedSubjects": {"de": "Passwort"}, "defaultFromName": None}, merge=True)
    assert merged.subject.by_locale == {"fr_CA": "Réinitialisez votre mot de passe", "de": "Passwort"}
    assert merged.from_name.default is None and merged.html == given.html

    assert store.delete("welcome").id == "welcome"
    with pytest.raises(TemplateNotFound):
        store.get("welcome")
    with pytest.raises(TemplateNotFound):
        store.delete("welcome")


def test_update_of_unknown_template_is_404(store):
    with pytest.raises(TemplateNotFound):
        store.update("nope", NATIVE)


def test_create_with_mismatched_id_is_refused(store):
    with pytest.raises(InvalidParams):
        store.create({**NATIVE, "id": "a"}, "b")


def test_search_paging_and_ordering(store):
    for i, name in enumerate(["Welcome", "Password reset", "welcome back", "Goodbye", "Reset PIN"]):
        store.create({"name": name, "defaultSubject": "s", "insertInstant": 1000 + (5 - i)}, f"t{i}")
    names = lambda page: [t.name for t in page["templates"]]  # noqa: E731
    assert names(store.search()) == ["Goodbye", "Password reset", "Reset PIN", "Welcome", "welcome back"]
    assert names(store.search("WELCOME")) == ["Welcome", "welcome back"]  # contains, case-insensitive
    assert names(store.search("reset")) == ["Password reset", "Reset PIN"]
    assert names(store.search("*reset")) == ["Password reset"]  # wildcard: whole name
    assert names(store.search("w*e")) == ["Welcome"]
    assert names(store.search("*e*")) == ["Goodbye", "Password reset", "Reset PIN", "Welcome", "welcome back"]
    page = store.search(page_size=2, start_row=2)
    assert page["total"] == 5 and names(page) == ["Reset PIN", "Welcome"]
    assert names(store.search(order_by="name", descending=True))[0] == "welcome back"
    assert [t.id for t in store.search(order_by="id", descending=True)["templates"]] == ["t4", "t3", "t2", "t1", "t0"]
    assert [t.id for t in store.search(order_by="created")["templates"]] == ["t4", "t3", "t2", "t1", "t0"]
    assert store.search()["pageSize"] == 25


@pytest.mark.parametrize("kwargs, param", [({"page_size": 0}, "pageSize"), ({"page_size": 5000}, "pageSize"),
                                           ({"start_row": -1}, "startRow"), ({"order_by": "size"}, "orderBy")])  # fmt: skip
def test_bad_search_params(store, kwargs, param):
    with pytest.raises(InvalidParams) as info:
        store.search(**kwargs)
    assert info.value.param == param


# -- on disk -------------------------------------------------------------------------------


def test_idm_folder_round_trip_on_disk(tmp_path):
    store = FolderStore(tmp_path)
    store.create(NATIVE, "reset")
    path = tmp_path / "emailTemplate-reset.json"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    # What IDM reads is there, in IDM's keys.
    assert on_disk["subject"] == {"fr_CA": "Réinitialisez votre mot de passe"} and on_disk["mimeType"] == "text/html"
    assert on_disk["emailactions"]["defaultSubject"] == "Reset your password"
    # A fresh store (another process) reads back the same template.
    assert FolderStore(tmp_path).get("reset") == store.get("reset")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emailTemplate-reset.json"]  # no temp files left


def test_idm_files_written_by_idm_are_read(tmp_path):
    (tmp_path / "emailTemplate-welcome.json").write_text(json.dumps(WELCOME), encoding="utf-8")
    (tmp_path / "external.email.json").write_text("{}", encoding="utf-8")
    (tmp_path / "emailTemplate-..json").write_text("{}", encoding="utf-8")  # not a valid id: ignored
    store = FolderStore(tmp_path)
    assert [t.id for t in store.all()] == ["welcome"]
    assert store.get("welcome").created > 0  # the file's time stands in for IDM's missing timestamps
    updated = store.update("welcome", {"enabled": False}, merge=True)
    on_disk = json.loads((tmp_path / "emailTemplate-welcome.json").read_text(encoding="utf-8"))
    assert on_disk["enabled"] is False and on_disk["displayName"] == "Welcome" and not updated.enabled


def test_native_folder_layout(tmp_path):
    FolderStore(tmp_path, layout="native").create(NATIVE, "reset")
    assert json.loads((tmp_path / "reset.json").read_text(encoding="utf-8"))["defaultSubject"] == "Reset your password"


def test_changes_on_disk_are_seen(tmp_path):
    store = FolderStore(tmp_path)
    store.create(WELCOME, "welcome")
    path = tmp_path / "emailTemplate-welcome.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["subject"]["en"] = "Changed by IDM"
    path.write_text(json.dumps(data), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert store.get("welcome").subject.by_locale["en"] == "Changed by IDM"


def test_broken_file_is_a_template_error(tmp_path):
    (tmp_path / "emailTemplate-broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "emailTemplate-bad.json").write_text('{"mimeType": "image/png"}', encoding="utf-8")
    store = FolderStore(tmp_path)
    with pytest.raises(TemplateError) as info:
        store.get("broken")
    assert info.value.code == 400 and "cannot be read" in info.value.message
    with pytest.raises(TemplateError) as info:
        store.get("bad")
    assert info.value.key == "mimeType"


def test_concurrent_creates_of_one_id_make_one_file(tmp_path):
    results = []

    def create():
        try:
            results.append(FolderStore(tmp_path).create(WELCOME, "welcome"))
        except TemplateExists:
            results.append(None)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["emailTemplate-welcome.json"]


def test_template_is_a_frozen_value():
    t = Template("a", "a")
    with pytest.raises(AttributeError):
        t.name = "b"  # type: ignore[misc]
