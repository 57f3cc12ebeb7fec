from __future__ import annotations

import pytest

from emailactions import ConfigError
from emailactions.transports.file import FileTransport

from support.transport_contract import TransportContract, make_message


class TestFile(TransportContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path):
        self.folder = tmp_path / "mail"

    def make_transport(self):
        return FileTransport(path=self.folder)

    def host_config(self):
        return {"transports": {"default": {"backend": "file", "path": str(self.folder)}}}

    def read_outbox(self):
        return [p.read_bytes() for p in sorted(self.folder.glob("*.eml"))]

    def test_no_temporary_files_are_left(self):
        with self.make_transport() as transport:
            transport.send(make_message())
        assert [p.name for p in self.folder.iterdir() if not p.name.endswith(".eml") or p.name.startswith(".tmp")] == []

    def test_path_must_be_a_string(self):
        with pytest.raises(ConfigError) as info:
            FileTransport(path=3)
        assert info.value.key == "path"

    def test_unwritable_folder_is_a_clear_error(self, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(ConfigError):
            FileTransport(path=blocker / "sub").open()
