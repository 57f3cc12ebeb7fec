"""Enswitch's ``emails/send`` over real HTTP, mail seen at a real SMTP server:
the documented examples run verbatim (but for host and port), then the
parameter forms, the destination types and Enswitch's error codes."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from support import wait_for
from support.server import FAST, Serve, copy_conf, make_config, start, write_config
from support.smtp_server import free_port
from emailactions.config.passwords import hash_password

# Enswitch's documentation, verbatim but for the host.
EXAMPLE_ME = ("http://enswitch.example.com/api/json/emails/send/?auth_username=user;auth_password=password;destination=me;"
              "from=from%40example.com;subject=Example%20email;body=This%20is%20an%20example%20email")  # fmt: skip
EXAMPLE_EMAILS = ("http://enswitch.example.com/api/json/emails/send/?auth_username=user;auth_password=password;destination=;"
                  "emails=destination1%40example.com,destination2%40example.com;from=from%40example.com;"
                  "subject=Example%20email;body=This%20is%20an%20example%20email")  # fmt: skip
OK = {"responses": [{"code": "200", "key": "", "message": "OK"}]}
USER_HASH = hash_password("password", **FAST)
READER_HASH = hash_password("reader-pass", **FAST)


def enswitch_server(config: dict) -> dict:
    """``config`` serving Enswitch too, with the documented ``user`` (who has an address and may send as
    anyone at example.com, as the documented ``from`` needs) and a user without ``send``."""
    config["server"]["apis"] = ["idm", "enswitch"]
    config["server"]["users"]["user"] = {"password": USER_HASH, "permissions": ["send"], "email": "user@example.com",
                                         "senders": ["*@example.com"]}  # fmt: skip
    config["server"]["users"]["reader"] = {"password": READER_HASH, "permissions": ["preview"]}
    config["groups"] = {"customer": ["c1@example.com", "c2@example.com", "c3@example.com"]}
    return config


@pytest.fixture(scope="module")
def enswitch(module_smtp, tmp_path_factory) -> Iterator:
    folder = tmp_path_factory.mktemp("enswitch")
    host, server = start(enswitch_server(make_config(copy_conf(folder), module_smtp.port, folder)))
    yield server
    server.stop()
    host.close()


def url(server, example: str) -> str:
    return example.replace("http://enswitch.example.com", server.url)


def test_example_destination_me(enswitch, smtp_server):
    response = httpx.get(url(enswitch, EXAMPLE_ME), timeout=20)
    assert response.status_code == 200
    assert response.json() == {**OK, "data": {"count": 1}}
    [received] = wait_for(lambda: smtp_server.messages)
    assert received.rcpt_tos == ["user@example.com"]
    assert received.message["From"] == "from@example.com" and received.message["Subject"] == "Example email"
    assert received.message.get_content().strip() == "This is an example email"


def test_example_emails_list(enswitch, smtp_server):
    response = httpx.get(url(enswitch, EXAMPLE_EMAILS), timeout=20)
    assert response.status_code == 200 and response.json() == {**OK, "data": {"count": 2}}
    wait_for(lambda: len(smtp_server.messages) == 2)
    # Bulk: one message each, no recipient sees the other.
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["destination1@example.com", "destination2@example.com"]
    assert all(len(m.rcpt_tos) == 1 for m in smtp_server.messages)


@pytest.mark.parametrize("how", ["ampersand", "form", "json"])
def test_parameters_in_query_form_or_json(enswitch, smtp_server, how):
    params = {"auth_username": "user", "auth_password": "password", "emails": "a@example.com b@example.com, c@example.com",
              "from": "from@example.com", "subject": "Hi", "body": "Body"}  # fmt: skip
    target = enswitch.url + "/api/json/emails/send/"
    if how == "ampersand":
        response = httpx.get(target, params=params, timeout=20)
    elif how == "form":
        response = httpx.post(target, data=params, timeout=20)
    else:
        response = httpx.post(target, json={**params, "customer": 7}, timeout=20)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"count": 3}
    wait_for(lambda: len(smtp_server.messages) == 3)


def test_customer_destination_from_groups(enswitch, smtp_server):
    query = "auth_username=user;auth_password=password;destination=customer;from=f%40example.com;subject=S;body=B"
    response = httpx.post(f"{enswitch.url}/api/json/emails/send/?{query}", timeout=20)
    assert response.json() == {**OK, "data": {"count": 3}}
    wait_for(lambda: len(smtp_server.messages) == 3)


def test_errors_in_enswitch_envelope(enswitch, smtp_server):
    base = enswitch.url + "/api/json/emails/send/?"
    good = "from=f%40example.com;subject=S;body=B;emails=a%40example.com"
    bad_login = httpx.get(base + "auth_username=user;auth_password=wrong;" + good, timeout=20)
    assert bad_login.status_code == 401
    assert bad_login.json()["responses"][0]["code"] == "401"
    no_role = httpx.get(base + "auth_username=reader;auth_password=reader-pass;" + good, timeout=20)
    assert no_role.status_code == 402 and no_role.json()["responses"][0]["code"] == "402"
    missing = httpx.get(base + "auth_username=user;auth_password=password;emails=a%40example.com;from=f%40example.com;body=B", timeout=20)
    assert missing.status_code == 400
    assert missing.json()["responses"][0] | {"message": ""} == {"code": "400", "key": "subject", "message": ""}
    bad_destination = httpx.get(base + "auth_username=user;auth_password=password;destination=everyone;" + good, timeout=20)
    assert bad_destination.json()["responses"][0]["key"] == "destination"
    bad_address = httpx.get(base + "auth_username=user;auth_password=password;from=f%40example.com;subject=S;body=B;emails=nope", timeout=20)
    assert bad_address.status_code == 400 and bad_address.json()["responses"][0]["key"] == "to"
    assert smtp_server.messages == []


def test_rate_plan_refusal_is_403(module_smtp, smtp_server, tmp_path):
    config = enswitch_server(make_config(copy_conf(tmp_path), module_smtp.port, tmp_path))
    config["server"]["rate_limits"] = {"caller": "1 per minute"}
    host, server = start(config)
    try:
        assert httpx.get(url(server, EXAMPLE_ME), timeout=20).status_code == 200
        refused = httpx.get(url(server, EXAMPLE_ME), timeout=20)
        assert refused.status_code == 403 and refused.json()["responses"][0]["code"] == "403"
        assert "Retry-After" in refused.headers
    finally:
        server.stop()
        host.close()


def test_not_served_unless_listed(live, client):
    assert client.get("/api/json/emails/send/").status_code == 404


def test_examples_against_emailactions_serve(smtp_server, tmp_path):
    port = free_port()
    extra = f"""apis = ["idm", "enswitch"]
[server.users.user]
password = "{USER_HASH}"
permissions = ["send"]
email = "user@example.com"
senders = ["*@example.com"]
"""
    config = write_config(tmp_path, smtp_server.port, port)
    # The [server] table's own keys go before its sub-tables.
    config.write_text(config.read_text().replace("shutdown_timeout = 20\n", "shutdown_timeout = 20\n" + extra.split("\n", 1)[0] + "\n")
                      + extra.split("\n", 1)[1])  # fmt: skip
    serve = Serve(config, port)
    try:
        for example, count in ((EXAMPLE_ME, 1), (EXAMPLE_EMAILS, 2)):
            response = httpx.get(example.replace("http://enswitch.example.com", serve.url), timeout=20)
            assert response.json() == {**OK, "data": {"count": count}}
        wait_for(lambda: len(smtp_server.messages) == 3, timeout=20)
    finally:
        serve.stop()
