"""One message per recipient, recipient groups, and bulk calls that stay flat in memory."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from emailactions import ActionHost, BaseTransport, InvalidParams, TransportError, UnknownDestination, hookimpl


def test_send_separately_over_smtp(smtp_host, smtp_server):
    to = [f"user{i}@example.com" for i in range(50)] + [{"address": "ann@example.com", "display": "Ann"}]
    result = smtp_host.action("external/email", "send", {"to": to, "subject": "Hi", "sendSeparately": True})
    assert result["count"] == 51 and result["sent"] == 51 and result["failed"] == 0
    assert [r["address"] for r in result["results"]] == [f"user{i}@example.com" for i in range(50)] + ["ann@example.com"]
    assert len(smtp_server.messages) == 51
    by_rcpt = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    for address in ("user7@example.com", "ann@example.com"):
        received = by_rcpt[address]
        assert received.rcpt_tos == [address]
        assert [a.addr_spec for a in received.message["To"].addresses] == [address]
        assert received.message["Bcc"] is None
    assert by_rcpt["ann@example.com"].message["To"].addresses[0].display_name == "Ann"
    assert len({m.message["Message-ID"] for m in smtp_server.messages}) == 51


def test_one_refused_recipient_does_not_stop_the_others(smtp_host, smtp_server):
    smtp_server.handler.rcpt_reply = lambda a: "550 5.1.1 no such user" if a == "gone@example.com" else None
    result = smtp_host.action("external/email", "send", {"to": "a@example.com gone@example.com, b@example.com", "sendSeparately": True})
    assert result["sent"] == 2 and result["failed"] == 1
    failed = [r for r in result["results"] if r["status"] == "failed"]
    assert failed[0]["address"] == "gone@example.com"
    assert failed[0]["error"]["detail"]["refused"]["gone@example.com"]["code"] == 550


def test_space_separated_lists_for_bulk(emailactions_host, emailactions_outbox):
    result = emailactions_host.action("external/email", "send", {"to": "a@example.com b@example.com,c@example.com  ; d@example.com", "sendSeparately": True})
    assert result["count"] == 4 and len(emailactions_outbox) == 4


@pytest.mark.parametrize(
    "params, param",
    [
        ({"to": "a@example.com", "cc": "c@example.com", "sendSeparately": True}, "cc"),
        ({"bcc": "a@example.com", "sendSeparately": True}, "bcc"),
        ({"to": "a@example.com", "bcc": "audit@example.com", "sendSeparately": True}, "bcc"),
        ({"sendSeparately": True, "to": []}, "to"),
        ({"to": "a@example.com", "sendSeparately": "sometimes"}, "sendSeparately"),
        ({"to": "a@example.com, bad", "sendSeparately": True}, "to"),
        ({"destination": 5}, "destination"),
    ],
)
def test_bulk_refusals_happen_before_anything_is_sent(emailactions_host, emailactions_outbox, params, param):
    with pytest.raises(InvalidParams) as info:
        emailactions_host.action("external/email", "send", params)
    assert info.value.param == param and len(emailactions_outbox) == 0


def test_bulk_recipient_limit():
    host = ActionHost({"email": {"from": "a@example.com", "limits": {"max_bulk_recipients": 3}},
                       "transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    with pytest.raises(InvalidParams):
        host.action("external/email", "send", {"to": [f"u{i}@example.com" for i in range(4)], "sendSeparately": True})
    assert host.transport().outbox == []


@pytest.fixture
def emailactions_config():
    return {"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "memory"}},
            "groups": {"billing": ["Ann <ann@example.com>", {"address": "bob@example.com", "display": "Bob"}]}}


def test_static_group_from_config(emailactions_host, emailactions_outbox):
    result = emailactions_host.action("external/email", "send", {"destination": "billing", "subject": "Invoice run"})
    assert result["count"] == 2 and [r["address"] for r in result["results"]] == ["ann@example.com", "bob@example.com"]
    assert [m.recipients for m in emailactions_outbox] == [("ann@example.com",), ("bob@example.com",)]


def test_group_as_one_message_when_asked(emailactions_host, emailactions_outbox):
    result = emailactions_host.action("external/email", "send", {"destination": "billing", "sendSeparately": False})
    assert result["message"] == "Email sent" and emailactions_outbox[0].recipients == ("ann@example.com", "bob@example.com")


def test_unknown_group_is_404(emailactions_host, emailactions_outbox):
    with pytest.raises(UnknownDestination) as info:
        emailactions_host.action("external/email", "send", {"destination": "nobody"})
    assert info.value.code == 404 and info.value.param == "destination"


class CRMResolver:
    """A third-party resolver: groups from another system."""

    @hookimpl
    def resolve_recipients(self, destination, host):
        if destination == "all-billing-contacts":
            return [f"contact{i}@example.com" for i in range(5)]
        return None


def test_hook_resolve_recipients(emailactions_config):
    host = ActionHost(emailactions_config, load_entry_points=False, plugins=[CRMResolver()])
    result = host.action("external/email", "send", {"destination": "all-billing-contacts", "subject": "x"})
    assert result["count"] == 5
    # The built-in static groups still answer for names the plugin does not know.
    assert host.action("external/email", "send", {"destination": "billing"})["count"] == 2


def test_bad_member_of_a_group(emailactions_config):
    class Bad:
        @hookimpl
        def resolve_recipients(self, destination):
            return ["fine@example.com", "broken"]

    host = ActionHost(emailactions_config, load_entry_points=False, plugins=[Bad()])
    with pytest.raises(InvalidParams) as info:
        host.action("external/email", "send", {"destination": "x"})
    assert info.value.param == "destination"


class NullTransport(BaseTransport):
    """Accepts and forgets: what stays in memory is the library's, not an outbox's."""

    name = "null"
    pool_size = 4

    def send(self, message):
        if message.recipients[0].startswith("fail"):
            raise TransportError("refused for the test", transport=self.alias)
        return self.result(message)


class NullPlugin:
    @hookimpl
    def register_transports(self, register):
        register("null", NullTransport)


def test_ten_thousand_separate_messages_report_ten_thousand_outcomes_with_flat_memory():
    host = ActionHost({"email": {"from": "a@example.com"}, "transports": {"default": {"backend": "null"}},
                       "rate_limits": {"enabled": False}}, load_entry_points=False, plugins=[NullPlugin()])
    body = ("x" * 71 + "\n") * 280  # 20 KB: 10,000 of these held at once would be 200 MB
    to = [f"user{i}@example.com" for i in range(9_999)] + ["fail@example.com"]
    host.action("external/email", "send", {"to": to[:10], "body": body, "sendSeparately": True})  # warm caches
    gc.collect()
    tracemalloc.start()
    try:
        result = host.action("external/email", "send", {"to": to, "body": body, "sendSeparately": True})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["count"] == 10_000 and result["sent"] == 9_999 and result["failed"] == 1
    assert result["results"][-1]["address"] == "fail@example.com" and result["results"][-1]["status"] == "failed"
    # Addresses, results and a window of messages: far below 10,000 x 20 KB.
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    print(f"peak {peak / 1e6:.1f} MB")


def test_bulk_submit_goes_to_the_outbox_then_the_server(smtp_config, smtp_server, tmp_path):
    config = {**smtp_config, "rate_limits": {"enabled": False}, "outbox": {"path": str(tmp_path / "outbox.sqlite3"), "workers": 0}}
    host = ActionHost(config, load_entry_points=False)
    to = [f"user{i}@example.com" for i in range(200)]
    result = host.action("external/email", "send", {"to": to, "subject": "Later", "sendSeparately": True}, wait_for_completion=False)
    assert result["message"] == "Email submitted" and result["count"] == 200
    assert {r["status"] for r in result["results"]} == {"submitted"} and len({r["outboxId"] for r in result["results"]}) == 200
    assert smtp_server.messages == [] and host.dispatcher.outbox.counts()["queued"] == 200
    host.dispatcher.drain(timeout=30)
    host.close()
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(to)
