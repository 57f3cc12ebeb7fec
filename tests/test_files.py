"""atomic_write: readers see the old file or the new one; exclusive writes never replace."""

from __future__ import annotations

import pytest

from emailactions.files import atomic_write


def test_writes_replace_whole_files_and_leave_no_temporary_file(tmp_path):
    target = tmp_path / "a.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_an_exclusive_write_never_replaces(tmp_path):
    target = tmp_path / "a.json"
    atomic_write(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_the_mode_of_a_replaced_file_is_kept(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write(target, b"new")
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_new_file_gets_the_mode_asked_for(tmp_path):
    target = tmp_path / "secret.json"
    atomic_write(target, b"{}", new_mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600
    atomic_write(target, b"{}")  # a replacement keeps it
    assert target.stat().st_mode & 0o777 == 0o600
