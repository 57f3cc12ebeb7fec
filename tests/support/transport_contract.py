"""The contract every transport meets; each backend's test subclasses it."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from emailactions import ActionHost, SendResult
from emailactions.params.addresses import Address
from emailactions.mime.compose import compose
from emailactions.params.send import Body, SendRequest


def make_message(n: int = 0, subject: str = "Grüße", body: str = "Hello\n.\nBye"):
    return compose(
        SendRequest(
            sender=Address("openidm@example.com", "IDM"),
            to=(Address(f"user{n}@example.com", "Zoë"),),
            bcc=(Address("audit@example.com"),),
            subject=f"{subject} {n}",
            bodies=(Body("plain", body),),
        )
    )


class TransportContract:
    """Subclasses give ``make_transport()`` and ``read_outbox()`` (raw bytes, in order)."""

    backend: str = ""
    #: Plugin modules or objects that register ``backend`` (an out-of-tree transport's own module).
    plugins: tuple = ()

    def make_transport(self):
        raise NotImplementedError

    def read_outbox(self) -> list[bytes]:
        raise NotImplementedError

    def host_config(self) -> dict:
        raise NotImplementedError

    def test_send_returns_a_result_per_message(self):
        with self.make_transport() as transport:
            messages = [make_message(i) for i in range(3)]
            results = transport.send_messages(messages)
        assert all(isinstance(r, SendResult) for r in results)
        assert [r.message_id for r in results] == [m.message_id for m in messages]
        assert results[0].accepted == ["user0@example.com", "audit@example.com"]
        assert results[0].refused == {}

    def test_delivered_bytes_parse_back(self):
        message = make_message(7)
        with self.make_transport() as transport:
            transport.send(message)
        [raw] = self.read_outbox()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert msg["Subject"] == "Grüße 7"
        assert msg["Message-ID"] == message.message_id
        assert msg["Bcc"] is None
        assert msg.get_content().replace("\r\n", "\n") == "Hello\n.\nBye\n"

    def test_close_is_idempotent(self):
        transport = self.make_transport()
        transport.open()
        transport.close()
        transport.close()

    def test_through_a_host(self):
        host = ActionHost(self.host_config(), load_entry_points=False, plugins=self.plugins)
        try:
            result = host.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "via host"})
        finally:
            host.close()
        assert result["status"] == "OK" and result["transport"] == "default"
        assert b"Subject: via host" in self.read_outbox()[-1]

    def test_unknown_option_is_refused_naming_it(self):
        from emailactions import ConfigError

        config = self.host_config()
        config["transports"]["default"]["no_such_option"] = 1
        with pytest.raises(ConfigError) as info:  # refused when the host is built
            ActionHost(config, load_entry_points=False, plugins=self.plugins)
        assert info.value.key == "transports.default.no_such_option"
