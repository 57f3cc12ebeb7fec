"""SMTP against a real aiosmtpd server on loopback: plain, STARTTLS, SMTPS, AUTH."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from emailactions import ActionHost, AuthError, ConfigError, ConnectError, DeliveryTimeout, TLSError
from emailactions.transports.smtp import SMTPTransport
from support.smtp_server import PASSWORD, USER, HostileServer, SMTPServer, free_port, outward_address

from support.transport_contract import TransportContract, make_message


class TestSMTP(TransportContract):
    @pytest.fixture(autouse=True)
    def _server(self, smtp_server):
        self.server = smtp_server

    def make_transport(self):
        return SMTPTransport(host="127.0.0.1", port=self.server.port, timeout=10)

    def host_config(self):
        return {"transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": self.server.port}}}

    def read_outbox(self):
        return [m.data for m in self.server.messages]

    def test_envelope_keeps_bcc(self):
        with self.make_transport() as transport:
            transport.send(make_message())
        assert self.server.messages[0].rcpt_tos == ["user0@example.com", "audit@example.com"]

    def test_dots_survive_the_wire(self):
        with self.make_transport() as transport:
            transport.send(make_message(body=".\n..\n.x"))
        assert self.server.messages[0].message.get_content().replace("\r\n", "\n") == ".\n..\n.x\n"

    def test_connection_is_reused(self):
        with self.make_transport() as transport:
            transport.send_messages([make_message(i) for i in range(5)])
            assert transport.connections_opened == 1
        assert len(self.server.messages) == 5

    def test_pool_never_exceeds_its_size_under_threads(self):
        transport = SMTPTransport(host="127.0.0.1", port=self.server.port, pool_size=3, timeout=10)
        errors = []

        def worker(n):
            try:
                for i in range(5):
                    transport.send(make_message(n * 10 + i))
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        transport.close()
        assert errors == []
        assert len(self.server.messages) == 40
        assert transport.connections_opened <= 3

    def test_reconnects_after_the_server_drops_an_idle_connection(self):
        transport = SMTPTransport(host="127.0.0.1", port=self.server.port, timeout=10)
        transport.send(make_message(1))
        # Simulate the server closing the idle connection behind our back.
        conn, _ = transport._idle[0]
        conn.sock.shutdown(socket.SHUT_RDWR)
        transport.send(make_message(2))
        transport.close()
        assert len(self.server.messages) == 2 and transport.connections_opened == 2


def test_starttls_and_auth(smtp_tls_server, ca_file):
    transport = SMTPTransport(host="localhost", port=smtp_tls_server.port, starttls=True, username=USER, password=PASSWORD, ca_file=ca_file, timeout=10)
    transport.send(make_message())
    transport.close()
    assert len(smtp_tls_server.messages) == 1


def test_starttls_certificate_is_verified_by_default(smtp_tls_server):
    transport = SMTPTransport(host="localhost", port=smtp_tls_server.port, starttls=True, username=USER, password=PASSWORD, timeout=10)
    with pytest.raises(TLSError):
        transport.send(make_message())
    assert smtp_tls_server.messages == []


def test_host_name_is_verified(smtp_tls_server, ca_file, ca):
    # The certificate is for localhost/127.0.0.1; reaching it by another name fails.
    transport = SMTPTransport(host="127.0.0.2", port=smtp_tls_server.port, starttls=True, ca_file=ca_file, timeout=10)
    with pytest.raises((TLSError, ConnectError)):
        transport.send(make_message())


def test_wrong_password_is_an_auth_error_without_the_password(smtp_tls_server, ca_file, caplog):
    caplog.set_level(logging.DEBUG)
    transport = SMTPTransport(host="localhost", port=smtp_tls_server.port, starttls=True, username=USER, password="wrong-Secret-1", ca_file=ca_file, timeout=10)
    with pytest.raises(AuthError) as info:
        transport.send(make_message())
    text = repr(info.value) + str(info.value.to_dict()) + repr(transport) + caplog.text
    assert "wrong-Secret-1" not in text
    assert info.value.__cause__ is None
    assert smtp_tls_server.messages == []


def test_server_requiring_starttls_without_it_configured(smtp_tls_server):
    transport = SMTPTransport(host="localhost", port=smtp_tls_server.port, timeout=10)
    with pytest.raises(Exception) as info:
        transport.send(make_message())
    assert info.value.code in (502, 503)
    assert smtp_tls_server.messages == []


def test_implicit_tls(server_tls, ca_file):
    server = SMTPServer(implicit_tls=server_tls).start()
    try:
        transport = SMTPTransport(host="localhost", port=server.port, ssl=True, ca_file=ca_file, timeout=10)
        transport.send(make_message())
        transport.close()
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_server_down_is_503():
    transport = SMTPTransport(host="127.0.0.1", port=free_port(), timeout=5)
    with pytest.raises(ConnectError) as info:
        transport.send(make_message())
    assert info.value.code == 503


def test_stalled_server_times_out_with_504():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the TCP connection, never says a word
    try:
        transport = SMTPTransport(host="127.0.0.1", port=listener.getsockname()[1], timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout) as info:
            transport.send(make_message())
        assert info.value.code == 504 and time.monotonic() - started < 3
    finally:
        listener.close()


@pytest.mark.parametrize(
    "options, key",
    [
        ({"port": "25x"}, "port"),
        ({"port": True}, "port"),
        ({"port": 70000}, "port"),
        ({"ssl": "yes"}, "ssl"),
        ({"ssl": True, "starttls": True}, "starttls"),
        ({"username": "u"}, "password"),
        ({"timeout": "1"}, "timeout"),
        ({"min_tls_version": "SSLv3"}, "min_tls_version"),
        ({"pool_size": 0}, "pool_size"),
    ],
)
def test_bad_options_are_refused(options, key):
    with pytest.raises(ConfigError) as info:
        SMTPTransport(**options)
    assert info.value.key == key


def test_password_is_not_in_repr_or_config_errors():
    transport = SMTPTransport(username="u", password="hunter2-secret")
    assert "hunter2" not in repr(transport) and "hunter2" not in repr(transport.password)
    assert transport.password == "hunter2-secret"


def test_idm_conf_with_starttls_and_auth(tmp_path, smtp_tls_server, ca_file, monkeypatch):
    import json

    monkeypatch.setenv("SSL_CERT_FILE", ca_file)  # how an IDM conf points at a private CA
    (tmp_path / "external.email.json").write_text(json.dumps({
        "host": "localhost", "port": str(smtp_tls_server.port), "from": "openidm@example.com",
        "auth": {"enable": True, "username": USER, "password": PASSWORD},
        "starttls": {"enable": True}, "ssl": {"enable": False},
        "smtpProperties": ["mail.smtp.ssl.protocols=TLSv1.2", "mail.mime.allowutf8=true"],
        "threadPoolSize": 4, "connectiontimeout": 10000, "timeout": 10000, "writetimeout": 10000, "debug": False,
    }))
    host = ActionHost(tmp_path, load_entry_points=False)
    result = host.action("external/email", "send", {"to": "bjensen@example.com", "subject": "over TLS"})
    host.close()
    assert result["message"] == "Email sent"
    assert smtp_tls_server.messages[0].message["Subject"] == "over TLS"


class TestSMTPPipelined(TestSMTP):
    """The whole contract again, with the server offering PIPELINING."""

    @pytest.fixture(autouse=True)
    def _server(self, smtp_server):
        smtp_server.handler.pipelining = True
        self.server = smtp_server

    def test_pipelining_is_used(self):
        transport = self.make_transport()
        conn, _ = transport._acquire(None)
        assert conn.has_extn("pipelining")
        transport._release(conn, True)
        transport.close()

    def test_partial_refusal_pipelined(self):
        self.server.handler.rcpt_reply = lambda a: "550 5.1.1 unknown" if a.startswith("user") else None
        with self.make_transport() as transport:
            result = transport.send(make_message())
            assert result.refused == {"user0@example.com": (550, "5.1.1 unknown")}
            assert result.accepted == ["audit@example.com"]
            # The connection stays in step: the next message goes through too.
            self.server.handler.rcpt_reply = lambda a: None
            transport.send(make_message(1))
            assert transport.connections_opened == 1
        assert [m.rcpt_tos for m in self.server.messages] == [["audit@example.com"], ["user1@example.com", "audit@example.com"]]

    def test_all_refused_pipelined_keeps_connection_usable(self):
        from emailactions import RecipientsRefused

        self.server.handler.rcpt_reply = lambda a: "550 no"
        with self.make_transport() as transport:
            with pytest.raises(RecipientsRefused):
                transport.send(make_message())
            self.server.handler.rcpt_reply = lambda a: None
            transport.send(make_message(1))
            assert transport.connections_opened == 1
        assert len(self.server.messages) == 1


    def test_refusals_are_typed_in_results_and_errors(self):
        from emailactions import RecipientsRefused
        from emailactions.errors import Refusal

        self.server.handler.rcpt_reply = lambda a: "452 4.2.2 full" if a.startswith("user") else None
        with self.make_transport() as transport:
            [refusal] = transport.send(make_message()).refused.values()
            assert type(refusal) is Refusal and (refusal.code, refusal.text) == (452, "4.2.2 full")
            self.server.handler.rcpt_reply = lambda a: "550 5.1.1 unknown"
            with pytest.raises(RecipientsRefused) as info:
                transport.send(make_message(1))
        assert all(type(r) is Refusal for r in info.value.refused.values())
        assert info.value.refused["audit@example.com"] == Refusal(550, "5.1.1 unknown")
        assert info.value.to_dict()["detail"]["refused"]["user1@example.com"] == {"code": 550, "message": "5.1.1 unknown"}


def test_pipelining_can_be_turned_off(smtp_server):
    smtp_server.handler.pipelining = True
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port, pipelining=False)
    transport.send(make_message())
    transport.close()
    assert len(smtp_server.messages) == 1


def test_data_refusal_maps_code(smtp_server):
    from emailactions import TransportError

    smtp_server.handler.data_reply = lambda received: "554 5.7.1 Message rejected as spam"
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port)
    with pytest.raises(TransportError) as info:
        transport.send(make_message())
    assert info.value.smtp_code == 554 and info.value.stage == "DATA" and "spam" in info.value.message
    transport.close()


def _trickle_server(delay: float):
    """Accepts one connection and sends its greeting a byte at a time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        try:
            for byte in b"220 slow.example.com ESMTP " + b"x" * 1000 + b"\r\n":
                if stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(delay)
        except OSError:
            pass
        finally:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, stop


def test_trickling_server_cannot_hold_a_send_past_its_deadline():
    listener, stop = _trickle_server(0.05)
    try:
        # Each read succeeds well within `timeout`, so only the deadline stops it.
        transport = SMTPTransport(host="127.0.0.1", port=listener.getsockname()[1], timeout=5, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout) as info:
            transport.send(make_message())
        elapsed = time.monotonic() - started
        assert info.value.code == 504 and 0.9 < elapsed < 2.5
    finally:
        stop.set()
        listener.close()


# -- a caller's deadline, and failures only a config change fixes ------------


def test_a_callers_deadline_caps_the_transports_own_timeouts():
    from emailactions.transports.base import answer_by

    with HostileServer("silent") as relay:
        transport = SMTPTransport(host="127.0.0.1", port=relay.port)  # default timeouts: minutes
        started = time.monotonic()
        with answer_by(started + 0.5), pytest.raises(DeliveryTimeout):
            transport.send(make_message())
        assert time.monotonic() - started < 1.0


def test_a_failed_session_is_dropped_without_waiting_for_a_quit_reply():
    # The greeting read times out at 0.5 s; a QUIT would wait another 0.5 s for its reply.
    with HostileServer("silent") as relay:
        transport = SMTPTransport(host="127.0.0.1", port=relay.port, timeout=0.5, deadline=30)
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout):
            transport.send(make_message())
        assert time.monotonic() - started < 0.9


def test_a_pooled_connection_gets_its_own_timeout_back_after_a_capped_send(smtp_server):
    from emailactions.transports.base import answer_by

    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port, timeout=10)
    with answer_by(time.monotonic() + 3):
        transport.send(make_message(1))
    conn, _ = transport._idle[0]
    assert conn.sock.gettimeout() <= 3
    transport.send(make_message(2))
    assert transport._idle[0][0] is conn and conn.sock.gettimeout() == 10
    transport.close()


@pytest.mark.parametrize(
    "trusted, error, keys",
    [
        (False, TLSError, ["transports.relay.ca_file", "transports.relay.verify"]),
        (True, AuthError, ["transports.relay.username", "transports.relay.password"]),
    ],
)
def test_tls_and_auth_failures_name_the_key_that_fixes_them(smtp_tls_server, ca_file, trusted, error, keys):
    transport = SMTPTransport(host="localhost", port=smtp_tls_server.port, timeout=10, starttls=True,
                              ca_file=ca_file if trusted else None, username=USER, password="wrong")  # fmt: skip
    transport.alias = "relay"
    with pytest.raises(error) as info:
        transport.send(make_message())
    assert all(key in info.value.hint for key in keys) and info.value.to_dict()["detail"]["hint"] == info.value.hint


@pytest.mark.parametrize(
    "options, error, key",
    [
        ({"starttls": True}, TLSError, "transports.default.starttls"),
        ({"username": USER, "password": PASSWORD}, AuthError, "transports.default.starttls"),
    ],
)
def test_a_missing_capability_names_the_key_that_fixes_it(smtp_server, options, error, key):
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port, timeout=10, **options)
    transport.alias = "default"
    with pytest.raises(error) as info:
        transport.send(make_message())
    assert key in info.value.hint


def test_failures_a_retry_may_fix_carry_no_hint():
    transport = SMTPTransport(host="127.0.0.1", port=free_port(), timeout=5)
    with pytest.raises(ConnectError) as info:
        transport.send(make_message())
    assert info.value.hint is None


@pytest.fixture
def outward_auth_server():
    """A server asking for AUTH over plain TCP on this machine's non-loopback address."""
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    server = SMTPServer(auth=True, hostname=address).start()
    yield server
    server.stop()


def test_credentials_never_go_over_plain_tcp_to_a_remote_relay(outward_auth_server):
    transport = SMTPTransport(host=outward_auth_server.hostname, port=outward_auth_server.port, timeout=10,
                              username=USER, password=PASSWORD)  # fmt: skip
    transport.alias = "relay"
    with pytest.raises(AuthError) as info:
        transport.send(make_message())
    assert "without TLS" in info.value.message and "transports.relay.allow_plaintext_auth" in info.value.hint
    assert outward_auth_server.messages == []


def test_allow_plaintext_auth_lets_credentials_over_plain_tcp(outward_auth_server):
    transport = SMTPTransport(host=outward_auth_server.hostname, port=outward_auth_server.port, timeout=10,
                              username=USER, password=PASSWORD, allow_plaintext_auth=True)  # fmt: skip
    transport.send(make_message())
    transport.close()
    assert len(outward_auth_server.messages) == 1


def test_a_loopback_relay_takes_credentials_over_plain_tcp():
    server = SMTPServer(auth=True).start()
    try:
        transport = SMTPTransport(host="127.0.0.1", port=server.port, timeout=10, username=USER, password=PASSWORD)
        transport.send(make_message())
        transport.close()
    finally:
        server.stop()
    assert len(server.messages) == 1


def test_starttls_not_required_goes_on_in_clear_like_idm(smtp_server):
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port, timeout=10, starttls=True, starttls_required=False)
    with transport:
        transport.send(make_message())
    assert len(smtp_server.messages) == 1


def test_starttls_not_required_still_upgrades_when_offered(smtp_tls_server, ca_file):
    transport = SMTPTransport(host="localhost", port=smtp_tls_server.port, starttls=True, starttls_required=False,
                              username=USER, password=PASSWORD, ca_file=ca_file, timeout=10)  # fmt: skip
    with transport:
        transport.send(make_message())
    assert len(smtp_tls_server.messages) == 1


def test_starttls_fallback_never_sends_credentials_in_clear(outward_auth_server):
    transport = SMTPTransport(host=outward_auth_server.hostname, port=outward_auth_server.port, timeout=10,
                              starttls=True, starttls_required=False, username=USER, password=PASSWORD)  # fmt: skip
    with pytest.raises(AuthError):
        transport.send(make_message())
    assert outward_auth_server.messages == []


def test_missing_starttls_hint_names_the_compatibility_option(smtp_server):
    transport = SMTPTransport(host="127.0.0.1", port=smtp_server.port, timeout=10, starttls=True)
    transport.alias = "default"
    with pytest.raises(TLSError) as info:
        transport.send(make_message())
    assert "transports.default.starttls_required = false" in info.value.hint


@pytest.mark.parametrize("advertised", [True, False], ids=["PIPELINING offered", "not offered"])
def test_a_refused_rcpt_among_accepted_ones_with_and_without_pipelining(smtp_server, advertised):
    """Issue 17: per-recipient results stay right whether the envelope goes in one write or not."""
    from emailactions.mime.compose import compose
    from emailactions.params.addresses import Address
    from emailactions.params.send import Body, SendRequest

    smtp_server.handler.pipelining = advertised
    smtp_server.handler.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith("gone") else None
    to = tuple(Address(f"{name}@example.com") for name in ("a1", "gone1", "a2", "a3"))
    message = compose(SendRequest(sender=Address("openidm@example.com"), to=to, subject="s", bodies=(Body("plain", "b"),)))
    with SMTPTransport(host="127.0.0.1", port=smtp_server.port) as transport:
        result = transport.send(message)
        conn, _ = transport._acquire(None)
        assert conn.has_extn("pipelining") is advertised
        transport._release(conn, True)
        transport.send(make_message(1))  # the connection is still in step
        assert transport.connections_opened == 1
    assert result.accepted == ["a1@example.com", "a2@example.com", "a3@example.com"]
    assert {a: (r.code, r.text) for a, r in result.refused.items()} == {"gone1@example.com": (550, "5.1.1 no such user")}
    assert [m.rcpt_tos for m in smtp_server.messages] == [list(result.accepted), ["user1@example.com", "audit@example.com"]]
