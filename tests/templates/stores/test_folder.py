"""The folder store, in IDM's layout and the native one: the store contract, then what is on disk."""

from __future__ import annotations

import json
import os
import threading

import pytest

from emailactions.errors import TemplateError, TemplateExists
from emailactions.templates.stores.folder import FolderStore

from support.store_contract import NATIVE, WELCOME, StoreContract, checked


class TestIdmFolderStore(StoreContract):
    def make_store(self, tmp_path):
        return FolderStore(tmp_path, layout="idm")


class TestNativeFolderStore(StoreContract):
    def make_store(self, tmp_path):
        return FolderStore(tmp_path, layout="native")


def test_idm_folder_round_trip_on_disk(tmp_path):
    store = checked(FolderStore(tmp_path))
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
    store = checked(FolderStore(tmp_path))
    assert [t.id for t in store.all()] == ["welcome"]
    assert store.get("welcome").created > 0  # the file's time stands in for IDM's missing timestamps
    updated = store.update("welcome", {"enabled": False}, merge=True)
    on_disk = json.loads((tmp_path / "emailTemplate-welcome.json").read_text(encoding="utf-8"))
    assert on_disk["enabled"] is False and on_disk["displayName"] == "Welcome" and not updated.enabled


def test_native_folder_layout(tmp_path):
    checked(FolderStore(tmp_path, layout="native")).create(NATIVE, "reset")
    assert json.loads((tmp_path / "reset.json").read_text(encoding="utf-8"))["defaultSubject"] == "Reset your password"


def test_changes_on_disk_are_seen(tmp_path):
    store = checked(FolderStore(tmp_path))
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
            results.append(checked(FolderStore(tmp_path)).create(WELCOME, "welcome"))
        except TemplateExists:
            results.append(None)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["emailTemplate-welcome.json"]
