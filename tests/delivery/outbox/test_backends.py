"""The built-in outbox backends, chosen by ``[outbox] backend`` (else the path decides)."""

from __future__ import annotations

import pytest

from emailactions import ActionHost, ConfigError


def host(outbox: dict) -> ActionHost:
    return ActionHost({"transports": {"default": {"backend": "memory"}}, "outbox": {"autostart": False, **outbox}},
                      load_entry_points=False)  # fmt: skip


def test_a_path_means_a_sqlite_file_and_none_means_memory(tmp_path):
    with host({"path": str(tmp_path / "o.sqlite3")}) as on_disk:
        on_disk.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "s"}, wait_for_completion=False)
        assert (tmp_path / "o.sqlite3").is_file()
    with host({}) as in_memory:
        in_memory.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "s"}, wait_for_completion=False)
        assert list(tmp_path.iterdir()) == [tmp_path / "o.sqlite3"]


def test_sqlite_without_a_path_names_the_key():
    with host({"backend": "sqlite"}) as h, pytest.raises(ConfigError) as info:
        h.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "s"}, wait_for_completion=False)
    assert info.value.key == "outbox.path"


def test_an_unknown_backend_names_the_key():
    with host({"backend": "carrier-pigeon"}) as h, pytest.raises(ConfigError) as info:
        h.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "s"}, wait_for_completion=False)
    assert info.value.key == "outbox.backend"
