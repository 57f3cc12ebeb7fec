from __future__ import annotations

from emailactions.transports.memory import MemoryTransport

from support.transport_contract import TransportContract


class TestMemory(TransportContract):
    def make_transport(self):
        self.transport = MemoryTransport()
        return self.transport

    def host_config(self):
        return {"transports": {"default": {"backend": "memory"}}}

    def read_outbox(self):
        if hasattr(self, "transport"):
            return [m.data for m in self.transport.outbox]
        return [m.data for m in self.host_outbox]

    def test_through_a_host(self):
        from emailactions import ActionHost

        host = ActionHost(self.host_config(), load_entry_points=False)
        self.host_outbox = host.transport().outbox
        host.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "via host"})
        assert b"Subject: via host" in self.read_outbox()[-1]
