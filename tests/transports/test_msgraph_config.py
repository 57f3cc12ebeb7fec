"""IDM's ``"type": "msgraph"`` in external.email.json, and ``backend = "msgraph"`` in native config."""

from __future__ import annotations

import json

import pytest

from emailactions import ActionHost, ConfigError
from emailactions.config import load_config
from support.graph_server import CLIENT_ID, CLIENT_SECRET, SCOPE, GraphServer


@pytest.fixture(scope="module")
def graph():
    server = GraphServer()
    yield server
    server.stop()


def idm_file(graph, **changes) -> dict:
    data = {
        "type": "msgraph",
        "mailEndpoint": graph.mail_endpoint,
        "from": "noreply@contoso.example",
        "auth": {
            "enable": True, "type": "oauth2", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "tokenEndpoint": graph.token_endpoint, "scope": [SCOPE], "scopeDelimiter": " ", "grantType": "client_credentials",
        },
        "connectiontimeout": 5000, "timeout": 20000, "threadPoolSize": 4,
    }  # fmt: skip
    for key, value in changes.items():
        if key.startswith("auth_"):
            data["auth"][key[5:]] = value
        else:
            data[key] = value
    return {k: v for k, v in data.items() if v is not None}


def write(tmp_path, data):
    (tmp_path / "external.email.json").write_text(json.dumps(data))
    return tmp_path


def test_idm_msgraph_maps_every_key(graph, tmp_path):
    data = idm_file(graph, proxy={"proxyUri": "http://proxy.example:3128", "userName": "me", "password": "p@ss word"})
    backend, options = load_config(write(tmp_path, data)).transport_options()
    assert backend == "msgraph"
    assert options == {
        "mail_endpoint": graph.mail_endpoint, "token_endpoint": graph.token_endpoint, "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "scope": SCOPE, "connect_timeout": 5.0, "timeout": 20.0, "pool_size": 4,
        "proxy": "http://me:p%40ss%20word@proxy.example:3128",
    }  # fmt: skip


def test_a_scope_list_is_joined_with_the_delimiter(graph, tmp_path):
    data = idm_file(graph, auth_scope=["Mail.Send", "offline_access"], auth_scopeDelimiter=",")
    assert load_config(write(tmp_path, data)).transport_options()[1]["scope"] == "Mail.Send,offline_access"


def test_idm_conf_sends_through_graph(graph, tmp_path):
    graph.reset()
    host = ActionHost(write(tmp_path, idm_file(graph)), load_entry_points=False)
    try:
        result = host.action("external/email", "send", {"to": "ann@example.com", "subject": "Hi", "body": "Hello"})
    finally:
        host.close()
    assert result["message"] == "Email sent" and result["transport"] == "default"
    [sent] = graph.state.sent
    assert sent.message["Message-ID"] == result["messageId"] and sent.recipients == ["ann@example.com"]
    assert host.dispatcher.worker_threads() == 4  # threadPoolSize bounds concurrent sends


def test_native_backend_msgraph(graph):
    graph.reset()
    config = {"email": {"from": "noreply@contoso.example"}, "transports": {"graph": graph.options(pool_size=2)}}
    host = ActionHost(config, load_entry_points=False)
    try:
        result = host.action("external/email", "send", {"to": "bob@example.com", "subject": "Native", "body": "x"})
    finally:
        host.close()
    assert result["transport"] == "graph" and len(graph.state.sent) == 1


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"auth": {"enable": True, "username": "u", "password": "p"}}, "auth.type"),  # basic auth, as IDM refuses it
        ({"auth_type": "basic"}, "auth.type"),
        ({"auth_password": "p"}, "auth.password"),
        ({"auth_enable": False}, "auth.enable"),
        ({"auth_clientSecret": None}, "auth.clientSecret"),
        ({"auth_tokenEndpoint": None}, "auth.tokenEndpoint"),
        ({"mailEndpoint": None}, "mailEndpoint"),
        ({"auth_grantType": "authorization_code"}, "auth.grantType"),
        ({"auth_scope": ["ok", 3]}, "auth.scope[1]"),
        ({"auth_tenant": "x"}, "auth.tenant"),
        ({"proxy": {"proxyUri": "http://u:p@proxy:3128"}}, "proxy.proxyUri"),
        ({"threadPoolSize": "many"}, "threadPoolSize"),
    ],
)
def test_bad_msgraph_config_names_the_key(graph, tmp_path, changes, key):
    data = idm_file(graph)
    data["auth"] = {k: v for k, v in data["auth"].items()}
    for name, value in changes.items():
        if name.startswith("auth_"):
            if value is None:
                data["auth"].pop(name[5:])
            else:
                data["auth"][name[5:]] = value
        elif value is None:
            data.pop(name)
        else:
            data[name] = value
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, data))
    assert info.value.key == key
    assert CLIENT_SECRET not in json.dumps(info.value.to_dict())


def test_a_clear_text_endpoint_off_loopback_is_refused_before_any_request(graph, tmp_path):
    graph.reset()
    data = idm_file(graph, mailEndpoint="http://graph.microsoft.com/v1.0/users/x/sendMail")
    host = ActionHost(write(tmp_path, data), load_entry_points=False)
    try:
        with pytest.raises(ConfigError) as info:
            host.action("external/email", "send", {"to": "ann@example.com", "subject": "Hi", "body": "Hello"})
    finally:
        host.close()
    assert "https" in info.value.message and info.value.key.endswith("mail_endpoint")
    assert graph.state.token_requests == 0


def test_smtp_type_refuses_mail_endpoint(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, {"host": "h", "mailEndpoint": "https://graph.microsoft.com/x"}))
    assert info.value.key == "mailEndpoint"


def test_the_client_secret_can_come_from_a_property(graph, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENIDM_EMAIL_CLIENT_SECRET", CLIENT_SECRET)
    data = idm_file(graph, auth_clientSecret="&{openidm.email.client.secret}")
    assert load_config(write(tmp_path, data)).transport_options()[1]["client_secret"] == CLIENT_SECRET


def test_an_encrypted_client_secret_is_refused_with_advice(graph, tmp_path):
    data = idm_file(graph, auth_clientSecret={"$crypto": {"type": "x-simple-encryption", "value": {}}})
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, data))
    assert info.value.key == "auth.clientSecret" and "&{" in info.value.message
