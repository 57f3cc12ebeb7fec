"""DKIM signing, verified with dkimpy against public keys served by a DNS stub."""

from __future__ import annotations

import base64
import re
import json
import os
import subprocess
import sys
import time
from collections import Counter

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emailactions import ActionHost, ConfigError
from emailactions.config import from_mapping
from emailactions.mime.dkim import sign
from support.transport_contract import make_message

DOMAIN, SELECTOR = "example.com", "mail2026"


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture(scope="module")
def ed25519_key():
    import nacl.encoding
    import nacl.signing

    key = nacl.signing.SigningKey.generate()
    public = key.verify_key.encode(encoder=nacl.encoding.Base64Encoder)
    return key.encode(encoder=nacl.encoding.Base64Encoder), b"v=DKIM1; k=ed25519; p=" + public


class DNSStub:
    """Answers TXT queries for ``<selector>._domainkey.<domain>`` from a dict; nothing leaves the machine."""

    def __init__(self, records):
        self.records = records
        self.asked = []

    def __call__(self, name, timeout=5):
        self.asked.append(name)
        return self.records.get(name)


def dns_for(record, selector=SELECTOR, domain=DOMAIN):
    return DNSStub({f"{selector}._domainkey.{domain}.".encode(): record})


def key_file(tmp_path, data, mode=0o600, name="dkim.key"):
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(mode)
    return path


def dkim_config(tmp_path, private, **extra):
    return {"dkim": {"domain": DOMAIN, "selector": SELECTOR, "private_key": str(key_file(tmp_path, private)), **extra}}


def signature_tags(data: bytes) -> dict[str, str]:
    header = data.split(b"\r\n\r\n", 1)[0].decode()
    value = header.split("DKIM-Signature:", 1)[1]
    value = value.split("\r\n", 1)[0] + "".join(line for line in value.split("\r\n")[1:] if line[:1] in (" ", "\t")).replace("\r\n", "")
    return {k.strip(): "".join(v.split()) for k, _, v in (t.partition("=") for t in value.split(";")) if k.strip()}


def test_a_signed_message_verifies(tmp_path, rsa_key):
    settings = from_mapping(dkim_config(tmp_path, rsa_key[0])).dkim
    signed = sign(make_message(), settings)
    dns = dns_for(rsa_key[1])
    assert signed.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(signed.data, dnsfunc=dns) is True
    assert dns.asked == [b"mail2026._domainkey.example.com."]
    tags = signature_tags(signed.data)
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed" and tags["d"] == DOMAIN and tags["s"] == SELECTOR
    signed_headers = tags["h"].split(":")
    assert signed_headers.count("from") == 2  # oversigned
    assert {"subject", "date", "to", "message-id", "mime-version", "content-type"} <= set(signed_headers)
    assert "bcc" not in signed_headers and "reply-to" not in signed_headers  # absent headers are not listed


@pytest.mark.parametrize(
    "alter",
    [
        lambda d: d.replace(b"Hello", b"Hallo"),  # the body
        lambda d: re.sub(rb"\r\nSubject: [^\r]*", b"\r\nSubject: Invoice", d),  # a signed header
        lambda d: d.replace(b"\r\n\r\n", b"\r\nFrom: Mallory <m@evil.example>\r\n\r\n", 1),  # a second From
        lambda d: d + b"P.S. pay here\r\n",  # appended text (no l= tag)
    ],
    ids=["body", "subject", "second-from", "appended"],
)
def test_a_message_altered_after_signing_fails(tmp_path, rsa_key, alter):
    settings = from_mapping(dkim_config(tmp_path, rsa_key[0])).dkim
    signed = sign(make_message(), settings)
    altered = alter(signed.data)
    assert altered != signed.data
    assert dkim.verify(altered, dnsfunc=dns_for(rsa_key[1])) is False


def test_relaxed_canonicalization_survives_header_refolding(tmp_path, rsa_key):
    settings = from_mapping(dkim_config(tmp_path, rsa_key[0])).dkim
    signed = sign(make_message(), settings).data
    refolded = signed.replace(b"\r\nTo: ", b"\r\nTo:   ", 1)  # whitespace a relay may change
    assert refolded != signed and dkim.verify(refolded, dnsfunc=dns_for(rsa_key[1])) is True


def test_a_wrong_public_key_fails(tmp_path, rsa_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    signed = sign(make_message(), from_mapping(dkim_config(tmp_path, rsa_key[0])).dkim)
    assert dkim.verify(signed.data, dnsfunc=dns_for(record)) is False


def test_ed25519(tmp_path, ed25519_key):
    settings = from_mapping(dkim_config(tmp_path, ed25519_key[0], algorithm="ed25519-sha256")).dkim
    signed = sign(make_message(), settings)
    assert signature_tags(signed.data)["a"] == "ed25519-sha256"
    assert dkim.verify(signed.data, dnsfunc=dns_for(ed25519_key[1])) is True
    assert dkim.verify(signed.data.replace(b"Hello", b"Hallo"), dnsfunc=dns_for(ed25519_key[1])) is False


def test_custom_headers_and_oversign(tmp_path, rsa_key):
    settings = from_mapping(dkim_config(tmp_path, rsa_key[0], headers=["From", "Subject"], oversign=["From", "Subject"])).dkim
    signed = sign(make_message(), settings)
    assert signature_tags(signed.data)["h"] == "from:subject:from:subject"
    assert dkim.verify(signed.data, dnsfunc=dns_for(rsa_key[1])) is True


def test_every_message_of_a_host_is_signed(tmp_path, rsa_key):
    config = {**dkim_config(tmp_path, rsa_key[0]), "transports": {"default": {"backend": "memory"}}}
    host = ActionHost(config, load_entry_points=False)
    try:
        host.action("external/email", "send", {"from": "noreply@example.com", "to": "ann@example.com", "subject": "Hi", "body": "x"})
        [sent] = host.transport().outbox
    finally:
        host.close()
    assert sent.data.count(b"DKIM-Signature:") == 1
    assert dkim.verify(sent.data, dnsfunc=dns_for(rsa_key[1])) is True


def test_no_dkim_section_no_signature():
    host = ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    try:
        host.action("external/email", "send", {"from": "a@example.com", "to": "b@example.com", "subject": "Hi"})
        [sent] = host.transport().outbox
    finally:
        host.close()
    assert b"DKIM-Signature" not in sent.data


def test_a_signed_message_verifies_at_the_smtp_sink(tmp_path, rsa_key, smtp_server):
    config = {
        **dkim_config(tmp_path, rsa_key[0]),
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 10}},
    }
    host = ActionHost(config, load_entry_points=False)
    try:
        host.action("external/email", "send", {"from": "noreply@example.com", "to": "ann@example.com", "bcc": "audit@example.com", "subject": "Über", "body": "Grüße\n.\nBye"})
    finally:
        host.close()
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["ann@example.com", "audit@example.com"]
    assert dkim.verify(received.data, dnsfunc=dns_for(rsa_key[1])) is True


def test_an_outbox_retry_sends_the_same_signature(tmp_path, rsa_key, smtp_server):
    attempts = []

    def first_refused(received):
        attempts.append(received.data)
        return "451 4.3.0 try again later" if len(attempts) == 1 else None

    smtp_server.handler.data_reply = first_refused
    config = {
        **dkim_config(tmp_path, rsa_key[0]),
        "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 10}},
        "outbox": {"path": str(tmp_path / "outbox.db"), "autostart": False, "backoff": 0.01, "backoff_max": 0.01},
    }
    host = ActionHost(config, load_entry_points=False)
    try:
        submitted = host.action(
            "external/email", "send", {"from": "noreply@example.com", "to": "ann@example.com", "subject": "Queued", "body": "x"},
            wait_for_completion=False,
        )  # fmt: skip
        stored = host.dispatcher.outbox.get(submitted["outboxId"], with_data=True).data
        tally: Counter = Counter()
        deadline = time.monotonic() + 30
        while not tally["sent"] and time.monotonic() < deadline:  # the retry is due 0.01 s after the refusal
            tally.update(host.dispatcher.drain(10))
            time.sleep(0.02)
        assert tally["retrying"] == 1 and tally["sent"] == 1
    finally:
        host.close()
    assert len(attempts) == 2 and attempts[0] == attempts[1] == stored  # signed once, before the outbox stored it
    assert signature_tags(attempts[0])["b"] == signature_tags(attempts[1])["b"]
    assert dkim.verify(attempts[1], dnsfunc=dns_for(rsa_key[1])) is True


def test_graph_receives_a_verifiable_message(tmp_path, rsa_key):
    from support.graph_server import GraphServer

    graph = GraphServer()
    try:
        config = {**dkim_config(tmp_path, rsa_key[0]), "transports": {"default": graph.options()}}
        host = ActionHost(config, load_entry_points=False)
        try:
            host.action("external/email", "send", {"from": "noreply@example.com", "to": "ann@example.com", "bcc": "audit@example.com", "subject": "Graph"})
        finally:
            host.close()
        [sent] = graph.state.sent
    finally:
        graph.stop()
    # The Bcc header our transport adds for Graph is outside the signature.
    assert sent.recipients == ["ann@example.com", "audit@example.com"]
    assert dkim.verify(sent.data, dnsfunc=dns_for(rsa_key[1])) is True


# -- config ---------------------------------------------------------------


@pytest.mark.parametrize(
    "change, key",
    [
        ({"domain": None}, "dkim.domain"),
        ({"selector": None}, "dkim.selector"),
        ({"private_key": None}, "dkim.private_key"),
        ({"domain": "exa mple.com"}, "dkim.domain"),
        ({"selector": "sel;x=1"}, "dkim.selector"),
        ({"domain": "bücher.example"}, "dkim.domain"),
        ({"algorithm": "rsa-sha1"}, "dkim.algorithm"),
        ({"headers": ["Subject", "To"]}, "dkim.headers"),
        ({"headers": ["From", "Bcc"]}, "dkim.headers[1]"),
        ({"headers": ["From", "Sub ject"]}, "dkim.headers[1]"),
        ({"oversign": ["Received"]}, "dkim.oversign[0]"),
        ({"canonicalization": "simple/simple"}, "dkim.canonicalization"),
        ({"private_key": "/nonexistent/dkim.key"}, "dkim.private_key"),
    ],
)
def test_bad_dkim_config_names_the_key(tmp_path, rsa_key, change, key):
    data = dkim_config(tmp_path, rsa_key[0])
    for name, value in change.items():
        if value is None:
            data["dkim"].pop(name)
        else:
            data["dkim"][name] = value
    with pytest.raises(ConfigError) as info:
        from_mapping(data)
    assert info.value.key == key


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_others_can_reach_is_refused(tmp_path, rsa_key, mode):
    path = key_file(tmp_path, rsa_key[0], mode=mode)
    with pytest.raises(ConfigError) as info:
        from_mapping({"dkim": {"domain": DOMAIN, "selector": SELECTOR, "private_key": str(path)}})
    assert info.value.key == "dkim.private_key" and "chmod 600" in info.value.message


def test_an_owner_only_key_is_accepted(tmp_path, rsa_key):
    path = key_file(tmp_path, rsa_key[0], mode=0o400)
    assert from_mapping({"dkim": {"domain": DOMAIN, "selector": SELECTOR, "private_key": str(path)}}).dkim.key.startswith(b"-----BEGIN")


def test_a_key_path_that_is_no_file_is_refused(tmp_path):
    (tmp_path / "keys").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="is not a file"):
        from_mapping({"dkim": {"domain": DOMAIN, "selector": SELECTOR, "private_key": str(tmp_path / "keys")}})


@pytest.mark.parametrize(
    "content, algorithm",
    [(b"not a key", "rsa-sha256"), (b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "rsa-sha256"), (b"short", "ed25519-sha256")],
)
def test_a_malformed_key_is_refused_without_showing_it(tmp_path, content, algorithm):
    path = key_file(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        from_mapping({"dkim": {"domain": DOMAIN, "selector": SELECTOR, "private_key": str(path), "algorithm": algorithm}})
    assert info.value.key == "dkim.private_key" and content.decode() not in info.value.message


def test_a_relative_key_path_is_taken_from_the_config_file(tmp_path, rsa_key):
    key_file(tmp_path, rsa_key[0])
    (tmp_path / "emailactions.toml").write_text(f'[dkim]\ndomain = "{DOMAIN}"\nselector = "{SELECTOR}"\nprivate_key = "dkim.key"\n')
    from emailactions.config import load_config

    assert load_config(tmp_path / "emailactions.toml").dkim.private_key == tmp_path / "dkim.key"


def test_the_key_never_shows_in_the_config_repr(tmp_path, rsa_key):
    settings = from_mapping(dkim_config(tmp_path, rsa_key[0])).dkim
    assert b"PRIVATE" not in repr(settings).encode() and "MII" not in repr(settings)


def test_plugins_command_lists_msgraph_and_dkim():
    env = {**os.environ, "EMAILACTIONS_LOAD_PLUGINS": ""}
    env.pop("EMAILACTIONS_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "emailactions", "plugins"], capture_output=True, text=True, env=env, timeout=60)
    names = {p["name"]: p for p in json.loads(proc.stdout)}
    assert names["emailactions.transports.msgraph"]["transports"] == ["msgraph"]
    assert names["emailactions.mime.dkim"]["builtin"] is True and names["emailactions.mime.dkim"]["hooks"] == ["prepare_message"]


def test_a_message_with_utf8_headers_verifies(tmp_path, rsa_key):
    config = {**dkim_config(tmp_path, rsa_key[0]), "transports": {"default": {"backend": "memory"}}}
    host = ActionHost(config, load_entry_points=False)
    try:
        host.action("external/email", "send", {"from": "noreply@example.com", "to": "Zoë <zoë@bücher.example>", "subject": "Grüße ✓", "body": "Straße"})
        [sent] = host.transport().outbox
    finally:
        host.close()
    assert sent.smtputf8 and "zoë".encode() in sent.data
    assert dkim.verify(sent.data, dnsfunc=dns_for(rsa_key[1])) is True
    assert dkim.verify(sent.data.replace("zoë".encode(), "zoe".encode(), 1), dnsfunc=dns_for(rsa_key[1])) is False
