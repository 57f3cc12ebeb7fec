"""msgraph against a fake token endpoint and a fake Graph sendMail on loopback."""

from __future__ import annotations

import threading
import time

import pytest

from emailactions import ActionHost, AuthError, ConfigError, ConnectError, TransportError
from emailactions.transports.msgraph import MSGraphTransport
from emailactions.transports.msgraph_token import REFRESH_EARLY
from support.graph_server import GraphServer, MAILBOX
from support.transport_contract import TransportContract, make_message


@pytest.fixture(scope="module")
def graph():
    server = GraphServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh(graph):
    graph.reset()


def transport_for(graph, **extra) -> MSGraphTransport:
    options = graph.options(**extra)
    options.pop("backend")
    return MSGraphTransport(**options)


class TestMSGraph(TransportContract):
    backend = "msgraph"

    @pytest.fixture(autouse=True)
    def _server(self, graph):
        self.graph = graph

    def make_transport(self):
        return transport_for(self.graph)

    def host_config(self):
        return {"transports": {"default": self.graph.options()}}

    def read_outbox(self):
        return [s.data for s in self.graph.state.sent]


def test_the_posted_mime_is_ours_and_bcc_reaches_graph(graph):
    message = make_message(3)
    with transport_for(graph) as transport:
        result = transport.send(message)
    [sent] = graph.state.sent
    assert sent.data == message.data  # byte for byte: headers and Message-ID are ours
    assert sent.recipients == ["user3@example.com", "audit@example.com"]
    assert result.accepted == ["user3@example.com", "audit@example.com"] and result.response == "202 req-1"


def test_one_token_serves_many_sends(graph):
    with transport_for(graph) as transport:
        transport.send_messages([make_message(i) for i in range(5)])
    assert graph.state.token_requests == 1 and len({s.token for s in graph.state.sent}) == 1


def test_many_threads_share_one_token_fetch(graph):
    graph.state.token_delay = 0.3
    transport = transport_for(graph, pool_size=8)
    errors = []

    def send(n):
        try:
            transport.send(make_message(n))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transport.close()
    assert errors == [] and len(graph.state.sent) == 8
    assert graph.state.token_requests == 1 and transport.tokens.fetches == 1


def test_a_token_is_renewed_before_it_expires(graph):
    now = [1000.0]
    transport = transport_for(graph)
    transport.tokens._clock = lambda: now[0]
    graph.state.lifetime = 3600
    with transport:
        transport.send(make_message(1))
        now[0] += 3600 - REFRESH_EARLY - 1  # still inside the margin
        transport.send(make_message(2))
        assert graph.state.token_requests == 1
        now[0] += 2  # within REFRESH_EARLY of expiry: fetched again
        transport.send(make_message(3))
    assert graph.state.token_requests == 2


def test_a_revoked_token_is_dropped_and_the_send_retried_once(graph):
    with transport_for(graph) as transport:
        transport.send(make_message(1))
        graph.state.valid.clear()  # Graph no longer accepts the cached token
        transport.send(make_message(2))
    assert graph.state.token_requests == 2
    first, second = (s.token for s in graph.state.sent)
    assert first != second and transport.requests == 3  # the refused request, then the retry


def test_a_second_401_is_an_auth_error_with_a_hint(graph):
    unauthorized = (401, {}, {"error": {"code": "InvalidAuthenticationToken"}})
    graph.state.script[:] = [unauthorized, unauthorized]
    with transport_for(graph) as transport, pytest.raises(AuthError) as info:
        transport.send(make_message())
    assert "client_secret" in info.value.hint and graph.state.token_requests == 2 and graph.state.sent == []


def test_wrong_client_secret_is_an_auth_error_naming_the_keys(graph):
    with transport_for(graph, client_secret="wrong") as transport, pytest.raises(AuthError) as info:
        transport.send(make_message())
    error = info.value
    assert error.detail["stage"] == "token" and "transports.msgraph.client_secret" in error.hint
    assert "wrong" not in str(error.to_dict())  # the secret never appears


def test_a_token_that_would_inject_headers_is_refused(graph):
    graph.state.forged_token = "abc\r\nX-Evil: 1"
    with transport_for(graph) as transport, pytest.raises(TransportError) as info:
        transport.send(make_message())
    assert info.value.detail["stage"] == "token" and info.value.transport == "msgraph" and transport.requests == 0


def test_a_huge_error_answer_is_read_only_in_part(graph):
    graph.state.script.append((400, {}, {"error": {"code": "E" * 2_000_000}}))
    with transport_for(graph) as transport, pytest.raises(TransportError) as info:
        transport.send(make_message())
    assert info.value.permanent is True and len(info.value.message) < 200


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_with_a_long_retry_after_is_temporary(graph, status):
    graph.state.script.append((status, {"Retry-After": "120"}, {"error": {"code": "ApplicationThrottled"}}))
    with transport_for(graph) as transport, pytest.raises(TransportError) as info:
        transport.send(make_message())
    from emailactions.delivery.retry import is_temporary

    assert is_temporary(info.value) and info.value.detail["retry_after"] == 120.0
    assert "ApplicationThrottled" in info.value.message and graph.state.sent == []


def test_no_request_until_a_long_retry_after_ends(graph):
    graph.state.script.append((429, {"Retry-After": "120"}, {"error": {"code": "ApplicationThrottled"}}))
    with transport_for(graph) as transport:
        with pytest.raises(TransportError):
            transport.send(make_message(1))
        with pytest.raises(TransportError) as info:
            transport.send(make_message(2))
        assert transport.requests == 1 and info.value.permanent is False and 119 < info.value.detail["retry_after"] <= 120
        transport._quiet_until = 0.0  # as if two minutes had passed
        transport.send(make_message(3))
    assert len(graph.state.sent) == 1 and transport.requests == 2


def test_a_short_retry_after_is_waited_out_once(graph):
    graph.state.script.append((429, {"Retry-After": "1"}, {"error": {"code": "ApplicationThrottled"}}))
    started = time.monotonic()
    with transport_for(graph) as transport:
        transport.send(make_message())
    assert time.monotonic() - started >= 1.0 and len(graph.state.sent) == 1 and transport.requests == 2


def test_a_retry_after_past_the_callers_deadline_is_not_waited(graph):
    from emailactions.transports.base import answer_by

    graph.state.script.append((503, {"Retry-After": "5"}, {}))
    with transport_for(graph) as transport, answer_by(time.monotonic() + 1), pytest.raises(TransportError) as info:
        transport.send(make_message())
    assert info.value.permanent is False and transport.requests == 1


@pytest.mark.parametrize("status, code", [(400, "ErrorMimeContentInvalid"), (404, "ErrorInvalidUser"), (413, "")])
def test_other_4xx_are_permanent(graph, status, code):
    graph.state.script.append((status, {}, {"error": {"code": code}} if code else {}))
    with transport_for(graph) as transport, pytest.raises(TransportError) as info:
        transport.send(make_message())
    assert info.value.permanent is True and str(status) in info.value.message


def test_403_names_the_permission(graph):
    graph.state.script.append((403, {}, {"error": {"code": "ErrorAccessDenied"}}))
    with transport_for(graph) as transport, pytest.raises(TransportError) as info:
        transport.send(make_message())
    assert info.value.permanent is True and "Mail.Send" in info.value.hint


def test_a_message_over_graphs_limit_is_refused_before_any_request(graph):
    big = make_message(body="x" * (3_200_000))
    with transport_for(graph) as transport, pytest.raises(TransportError) as info:
        transport.send(big)
    assert info.value.permanent is True and graph.state.token_requests == 0 and transport.requests == 0


def test_an_unreachable_endpoint_is_a_connect_error():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    transport = MSGraphTransport(
        mail_endpoint=f"http://127.0.0.1:{port}/v1.0/users/{MAILBOX}/sendMail",
        token_endpoint=f"http://127.0.0.1:{port}/token", client_id="a", client_secret="b",
    )  # fmt: skip
    with transport, pytest.raises(ConnectError):
        transport.send(make_message())


@pytest.mark.parametrize(
    "key, value",
    [
        ("mail_endpoint", "http://graph.example.com/v1.0/users/x/sendMail"),  # clear text off loopback
        ("token_endpoint", "ftp://login.example.com/token"),
        ("grant_type", "password"),
        ("client_secret", ""),
        ("pool_size", 0),
    ],
)
def test_bad_options_are_refused_naming_them(graph, key, value):
    with pytest.raises(ConfigError) as info:
        transport_for(graph, **{key: value})
    assert info.value.key == key


def test_the_secret_stays_out_of_repr(graph):
    transport = transport_for(graph, proxy="http://user:proxy-pass@127.0.0.1:3128")
    assert "graph-secret-value" not in repr(transport) and "proxy-pass" not in repr(vars(transport))


def test_outbox_delivery_through_graph(graph, tmp_path):
    config = {"transports": {"default": graph.options()}, "outbox": {"path": str(tmp_path / "outbox.db"), "autostart": False}}
    host = ActionHost(config, load_entry_points=False)
    graph.state.script.append((503, {"Retry-After": "600"}, {}))
    try:
        submitted = host.action(
            "external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "queued"}, wait_for_completion=False
        )
        assert host.dispatcher.drain(10)["retrying"] == 1
        entry = host.dispatcher.outbox.get(submitted["outboxId"])
        assert entry.state == "queued" and entry.last_error["detail"]["retry_after"] == 600.0
        # The worker does not come back before Graph said it may (the backoff alone would be seconds).
        assert entry.next_attempt - host.dispatcher.outbox.clock() > 590
    finally:
        host.close()
