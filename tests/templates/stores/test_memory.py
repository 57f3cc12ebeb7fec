"""The memory store: the store contract."""

from __future__ import annotations

from emailactions.templates.stores.memory import MemoryStore

from support.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self, tmp_path):
        return MemoryStore()
