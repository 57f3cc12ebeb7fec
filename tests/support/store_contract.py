"""The contract every template store meets, through the one write path.

Each store's test module subclasses :class:`StoreContract` and gives
``make_store(tmp_path)``, the store plugin itself. The tests write through
:func:`checked`, a CheckedStore over it that compiles with a real host's
engines, as ``host.templates.store`` does.
"""

from __future__ import annotations

import functools
import json

import pytest

from support import ROOT

from emailactions import ActionHost
from emailactions.errors import InvalidParams, RenderError, TemplateExists, TemplateNotFound
from emailactions.templates.stores.checked import CheckedStore

#: IDM's example template, as IDM writes it.
WELCOME = json.loads((ROOT / "examples" / "conf" / "emailTemplate-welcome.json").read_text(encoding="utf-8"))

#: A native (FusionAuth-style) template using every localized part.
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

#: Parses as a template, but its subject does not compile.
BROKEN = {"subject": {"en": "{{#if x}}"}, "message": {"en": "body"}}


@functools.cache
def _host() -> ActionHost:
    return ActionHost(None, load_entry_points=False)


def checked(backend) -> CheckedStore:
    """``backend`` behind the write path a host gives it (its real engines compile)."""
    return CheckedStore(backend, _host().templates.check)


class StoreContract:
    """Subclasses give ``make_store(tmp_path)``: a fresh, empty store plugin."""

    def make_store(self, tmp_path):
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path) -> CheckedStore:
        return checked(self.make_store(tmp_path))

    def test_crud(self, store):
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

    def test_update_of_unknown_template_is_404(self, store):
        with pytest.raises(TemplateNotFound):
            store.update("nope", NATIVE)

    def test_create_with_mismatched_id_is_refused(self, store):
        with pytest.raises(InvalidParams):
            store.create({**NATIVE, "id": "a"}, "b")

    def test_search_paging_and_ordering(self, store):
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
    def test_bad_search_params(self, store, kwargs, param):
        with pytest.raises(InvalidParams) as info:
            store.search(**kwargs)
        assert info.value.param == param

    # -- the one write path ------------------------------------------------------

    def test_a_template_that_does_not_compile_is_never_stored(self, store):
        with pytest.raises(RenderError) as info:
            store.create(BROKEN, "broken")
        assert info.value.code == 400 and info.value.part == "subject"
        assert store.all() == []
        store.create(WELCOME, "welcome")
        for data, merge in ((BROKEN, False), ({"subject": {"fr": "{{/if}}"}}, True)):
            with pytest.raises(RenderError):
                store.update("welcome", data, merge=merge)
        assert store.get("welcome").subject.by_locale["fr"] == "Votre compte a été créé"

    def test_the_plugin_offers_no_unchecked_write(self, tmp_path):
        backend = self.make_store(tmp_path)
        assert not {"create", "update", "delete"} & set(dir(backend))
