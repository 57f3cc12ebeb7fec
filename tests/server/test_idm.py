"""IDM's routes over real HTTP, with a real SMTP server behind: IDM's documented
``curl`` commands run literally, then template config CRUD, headers and roles."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest

from support import wait_for

from support.server import ADMIN, ADMIN_HASH, ADMIN_PASSWORD, FA_AUTH, IDM_AUTH, MAILER_HASH, server_section, start
from support.smtp_server import SMTPServer

# IDM's documentation, verbatim but for the port (docs: "Send mail" / "Email templates").
CURL_SEND = """curl \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--header "Content-Type: application/json" \\
--request POST \\
--data '{
  "from":"openidm@example.com",
  "to":"your_email@example.com",
  "subject":"Test",
  "body":"Test"}' \\
"http://localhost:8080/openidm/external/email?_action=send"
"""
CURL_SUBMIT = CURL_SEND.replace("_action=send", "_action=send&waitForCompletion=false")
CURL_SEND_TEMPLATE = """curl \\
--header "Content-Type: application/json" \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--request POST \\
--data '{
  "templateName": "welcome",
  "to": "example@example.com",
  "cc": "alice@example.com,bjensen@example.com",
  "bcc": "admin@example.com",
  "object": {"userName": "bjensen", "givenName": "Barbara", "sn": "Jensen", "mail": "bjensen@example.com"},
  "_locale": "fr"
}' \\
"http://localhost:8080/openidm/external/email?_action=sendTemplate"
"""


def run_curl(command: str, port: int) -> dict:
    """Run a documented curl command against our port (or the same request with httpx)."""
    command = command.replace("localhost:8080", f"localhost:{port}")
    if shutil.which("curl"):
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    # No curl here: the same method, headers, body and URL through httpx.
    import shlex

    words = shlex.split(command.replace("\\\n", " "))
    headers = dict(h.split(": ", 1) for h in (words[i + 1] for i, w in enumerate(words) if w == "--header"))
    data = words[words.index("--data") + 1]
    return httpx.post(words[-1], headers=headers, content=data.encode(), timeout=30).json()


def test_idm_curl_send(live, smtp_server):
    result = run_curl(CURL_SEND, live.port)
    assert result["status"] == "OK" and result["message"] == "Email sent"
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["your_email@example.com"]
    assert received.message["Subject"] == "Test" and received.message.get_content().strip() == "Test"


def test_idm_curl_send_wait_for_completion_false(live, smtp_server):
    result = run_curl(CURL_SUBMIT, live.port)
    assert result["status"] == "OK" and result["message"] == "Email submitted"
    assert isinstance(result["outboxId"], int)
    wait_for(lambda: smtp_server.messages)
    assert smtp_server.messages[0].message["Subject"] == "Test"


def test_idm_curl_send_template_with_locale(live, smtp_server):
    result = run_curl(CURL_SEND_TEMPLATE, live.port)
    assert result["message"] == "Email sent" and result["locale"] == "fr"
    [received] = smtp_server.messages
    msg = received.message
    assert msg["Subject"] == "Votre compte a été créé"
    assert "Votre nom d'utilisateur est 'bjensen'" in msg.get_content()
    assert msg["Cc"] == "alice@example.com, bjensen@example.com"
    assert msg["Bcc"] is None and "admin@example.com" in received.rcpt_tos  # envelope only


def test_accept_language_header_feeds_locale_resolution(client, smtp_server):
    response = client.post("/openidm/external/email", params={"_action": "sendTemplate"},
                           headers={**IDM_AUTH, "Accept-Language": "fr-CA, en;q=0.5"},
                           json={"templateName": "hello", "to": "h@example.com", "object": {"givenName": "Hilda"}})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["locale"] == "fr"
    assert smtp_server.messages[0].message["Subject"] == "Bonjour Hilda"


def test_content_api_version_header_and_unsupported_version(client):
    ok = client.post("/openidm/external/email?_action=preview", headers=IDM_AUTH, json={"templateName": "welcome"})
    assert ok.status_code == 200 and ok.headers["Content-API-Version"] == "protocol=2.1,resource=1.0"
    assert ok.json()["subject"] == "Your account has been created"
    bad = client.post("/openidm/external/email?_action=send", headers={**IDM_AUTH, "Accept-API-Version": "resource=2.0"}, json={})
    assert bad.status_code == 400
    assert bad.json()["detail"]["param"] == "Accept-API-Version"


def test_idm_errors_have_idm_shape(client, smtp_server):
    bad = client.post("/openidm/external/email?_action=send", headers=IDM_AUTH, json={"to": "not an address", "from": "a@example.com"})
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == 400 and body["reason"] == "Bad Request" and body["message"] == "Bad To: email address"
    missing = client.post("/openidm/external/email?_action=sendTemplate", headers=IDM_AUTH, json={"templateName": "nope", "to": "a@example.com"})
    assert missing.status_code == 404 and missing.json()["reason"] == "Not Found"
    bad_type = client.post("/openidm/external/email?_action=send", headers=IDM_AUTH,
                           json={"to": "a@example.com", "type": "image/png", "body": "x"})  # fmt: skip
    assert bad_type.status_code == 400 and "is not handled" in bad_type.json()["message"]
    unknown = client.post("/openidm/external/email?_action=fly", headers=IDM_AUTH, json={})
    assert unknown.status_code == 400 and unknown.json()["detail"]["kind"] == "unknown_action"
    assert smtp_server.messages == []


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_verbs_on_external_email_are_forbidden(client, method):
    response = client.request(method, "/openidm/external/email", headers=IDM_AUTH)
    assert response.status_code == 403 and response.json()["reason"] == "Forbidden"
    assert client.request(method, "/openidm/external/email").status_code == 401


def test_template_config_crud(client, live):
    conf = live.conf
    template = {"enabled": True, "from": "", "subject": {"en": "Reset", "fr": "Réinitialiser"},
                "message": {"en": "<p>Hi {{object.givenName}}</p>", "fr": "<p>Salut {{object.givenName}}</p>"},
                "mimeType": "text/html", "defaultLocale": "en"}  # fmt: skip
    url = "/openidm/config/emailTemplate/resetPassword"
    created = client.put(url, headers=IDM_AUTH, json=template)
    assert created.status_code == 201, created.text
    assert created.json()["_id"] == "emailTemplate/resetPassword"
    on_disk = json.loads((conf / "emailTemplate-resetPassword.json").read_text())
    assert on_disk["subject"] == template["subject"] and on_disk["mimeType"] == "text/html"  # IDM can read it

    read = client.get(url, headers=IDM_AUTH).json()
    assert read["_id"] == "emailTemplate/resetPassword" and read["message"]["fr"] == "<p>Salut {{object.givenName}}</p>"

    replaced = client.put(url, headers=IDM_AUTH, json={**read, "subject": {"en": "Reset now"}})
    assert replaced.status_code == 200 and replaced.json()["subject"] == {"en": "Reset now"}

    listing = client.get("/openidm/config", headers=IDM_AUTH).json()
    assert {"_id": "emailTemplate/resetPassword", "pid": "emailTemplate.resetPassword", "factoryPid": "emailTemplate"} in listing["configurations"]
    query = client.get("/openidm/config", headers=IDM_AUTH, params={"_queryFilter": '_id sw "emailTemplate"', "_fields": "_id"}).json()
    assert [r["_id"] for r in query["result"]] == ["emailTemplate/hello", "emailTemplate/resetPassword", "emailTemplate/welcome"]
    assert query["resultCount"] == 3
    one = client.get("/openidm/config", headers=IDM_AUTH, params={"_queryFilter": '_id eq "emailTemplate/welcome"'}).json()
    assert [r["_id"] for r in one["result"]] == ["emailTemplate/welcome"] and one["result"][0]["displayName"] == "Welcome"

    deleted = client.delete(url, headers=IDM_AUTH)
    assert deleted.status_code == 200 and deleted.json()["subject"] == {"en": "Reset now"}
    gone = client.get(url, headers=IDM_AUTH)
    assert gone.status_code == 404 and gone.json()["code"] == 404
    assert not (conf / "emailTemplate-resetPassword.json").exists()


def test_template_config_errors(client):
    bad = client.put("/openidm/config/emailTemplate/x", headers=IDM_AUTH, json={"subject": {"en": "{{#if}}"}, "message": {"en": "x"}})
    assert bad.status_code == 400 and bad.json()["detail"]["kind"] == "render_error"
    mismatch = client.put("/openidm/config/emailTemplate/x", headers=IDM_AUTH, json={"_id": "emailTemplate/y", "message": {"en": "x"}})
    assert mismatch.status_code == 400 and mismatch.json()["detail"]["param"] == "_id"
    filter_ = client.get("/openidm/config", headers=IDM_AUTH, params={"_queryFilter": "mimeType pr"})
    assert filter_.status_code == 400 and filter_.json()["detail"]["param"] == "_queryFilter"


@pytest.mark.parametrize(
    "body",
    [{}, {"enabled": True, "subject": {}, "message": {}, "mimeType": "text/html"}, {"subject": {"en": " "}, "message": {"en": ""}}],
)
def test_a_template_without_subject_or_body_is_refused(client, live, body):
    url = "/openidm/config/emailTemplate/empty"
    refused = client.put(url, headers=IDM_AUTH, json=body)
    assert refused.status_code == 400 and refused.json()["detail"]["param"] == "message"
    assert client.get(url, headers=IDM_AUTH).status_code == 404  # nothing stored
    # Nor may one replace a template that has content.
    before = client.get("/openidm/config/emailTemplate/welcome", headers=IDM_AUTH).json()
    assert client.put("/openidm/config/emailTemplate/welcome", headers=IDM_AUTH, json=body).status_code == 400
    assert client.get("/openidm/config/emailTemplate/welcome", headers=IDM_AUTH).json() == before


def test_permissions_401_and_403(client):
    mailer = {"X-OpenIDM-Username": "mailer", "X-OpenIDM-Password": "mailer-pass"}
    send = {"to": "a@example.com", "subject": "s", "body": "b"}
    assert client.post("/openidm/external/email?_action=send", headers=mailer, json=send).status_code == 200
    denied = client.post("/openidm/external/email?_action=sendTemplate", headers=mailer, json={"templateName": "welcome", "to": "a@example.com"})
    assert denied.status_code == 403 and denied.json()["detail"]["permission"] == "sendTemplate"
    assert client.get("/openidm/config/emailTemplate/welcome", headers=mailer).status_code == 403
    assert client.post("/openidm/external/email?_action=send", json=send).status_code == 401
    wrong = client.post("/openidm/external/email?_action=send", headers={**mailer, "X-OpenIDM-Password": "nope"}, json=send)
    assert wrong.status_code == 401 and wrong.json() == {"code": 401, "reason": "Unauthorized", "message": "Access Denied", "detail": {"kind": "unauthorized"}}
    # An API key works on IDM routes too; its permissions decide.
    assert client.post("/openidm/external/email?_action=send", headers=FA_AUTH, json=send).status_code == 403


def test_http_basic_auth(client):
    response = client.get("/openidm/config/emailTemplate/welcome", auth=(ADMIN, "openidm-admin"))
    assert response.status_code == 200
    assert client.get("/openidm/config/emailTemplate/welcome", auth=(ADMIN, "wrong")).status_code == 401


def test_anonymous_is_off_unless_configured_then_limited(server_config, smtp_server):
    anonymous = {"X-OpenIDM-Username": "anonymous", "X-OpenIDM-Password": "anonymous"}
    server_config["server"] = server_section(anonymous=["preview"])
    host, server = start(server_config)
    try:
        with httpx.Client(base_url=server.url) as c:
            preview = c.post("/openidm/external/email?_action=preview", headers=anonymous, json={"templateName": "welcome", "_locale": "fr"})
            assert preview.status_code == 200 and preview.json()["subject"] == "Votre compte a été créé"
            assert c.post("/openidm/external/email?_action=preview", json={"templateName": "welcome"}).status_code == 200
            send = c.post("/openidm/external/email?_action=send", headers=anonymous, json={"to": "a@example.com"})
            assert send.status_code == 401
            assert c.get("/openidm/config", headers=anonymous).status_code == 401
    finally:
        server.stop()
        host.close()
    assert smtp_server.messages == []


def test_ping_is_open(client):
    assert client.get("/openidm/info/ping").json()["state"] == "ACTIVE_READY"


def test_outbox_actions(client, smtp_server):
    submitted = client.post("/openidm/external/email?_action=send&waitForCompletion=false", headers=IDM_AUTH,
                            json={"to": "a@example.com", "subject": "queued", "body": "b"}).json()  # fmt: skip
    wait_for(lambda: smtp_server.messages)
    show = client.post("/openidm/external/email/outbox?_action=show", headers=IDM_AUTH, json={"id": submitted["outboxId"]})
    assert show.status_code == 200 and show.json()["id"] == submitted["outboxId"]
    mailer = {"X-OpenIDM-Username": "mailer", "X-OpenIDM-Password": "mailer-pass"}
    assert client.post("/openidm/external/email/outbox?_action=list", headers=mailer, json={}).status_code == 403


def test_plugin_actions_need_every_permission(client, live):
    # An action a plugin adds to external/email is named by no permission.
    live.host.actions.add("external/email", "wipeEverything", lambda params, context: {"wiped": True}, "test-plugin")
    try:
        mailer = {"X-OpenIDM-Username": "mailer", "X-OpenIDM-Password": "mailer-pass"}
        denied = client.post("/openidm/external/email?_action=wipeEverything", headers=mailer, json={})
        assert denied.status_code == 403 and denied.json()["detail"]["permission"] == "*"
        admin = {"X-OpenIDM-Username": ADMIN, "X-OpenIDM-Password": ADMIN_PASSWORD}
        assert client.post("/openidm/external/email?_action=wipeEverything", headers=admin, json={}).json() == {"wiped": True}
        # An action nobody registered still gets the host's 400 naming the valid ones.
        typo = client.post("/openidm/external/email?_action=sendMail", headers=mailer, json={})
        assert typo.status_code == 400 and "send" in typo.json()["message"]
    finally:
        live.host.actions._services["external/email"].pop("wipeEverything")


@pytest.fixture
def idm_live(tmp_path, smtp_server):
    """A server over a host loaded from an IDM conf folder: its SMTP config is external.email.json."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "external.email.json").write_text(json.dumps({
        "host": "127.0.0.1", "port": smtp_server.port, "from": "openidm@example.com",
        "auth": {"enable": False, "username": "idm", "password": "Clear-Secret-42"}, "timeout": 10000,
    }))
    (conf / "emailactions-server.toml").write_text(f"""
[server.users.openidm-admin]
password = "{ADMIN_HASH}"
permissions = ["*"]
[server.users.mailer]
password = "{MAILER_HASH}"
permissions = ["send", "templates"]
""")
    host, live = start(conf)
    live.conf = conf
    with httpx.Client(base_url=live.url, timeout=20, headers=IDM_AUTH) as client:
        yield live, client
    live.stop()
    host.close()


def _send(client, subject="after PUT"):
    return client.post("/openidm/external/email?_action=send", json={"to": "bjensen@example.com", "subject": subject, "body": "x"})


def test_smtp_config_read_omits_the_password(idm_live, smtp_server):
    _, client = idm_live
    response = client.get("/openidm/config/external.email")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["_id"] == "external.email" and body["port"] == smtp_server.port
    assert body["auth"] == {"enable": False, "username": "idm"}
    assert "Clear-Secret-42" not in response.text


def test_smtp_config_put_replaces_the_file_and_the_next_send_uses_it(idm_live, smtp_server):
    live, client = idm_live
    other = SMTPServer().start()
    try:
        config = client.get("/openidm/config/external.email").json()
        config["port"] = str(other.port)
        config["auth"]["type"] = "basic"
        response = client.put("/openidm/config/external.email", json=config)
        assert response.status_code == 200, response.text
        assert response.json()["port"] == str(other.port) and "Clear-Secret-42" not in response.text
        written = json.loads((live.conf / "external.email.json").read_text())
        assert written["port"] == str(other.port) and "_id" not in written
        assert written["auth"]["password"] == "Clear-Secret-42"  # kept: the PUT body had none
        assert _send(client).status_code == 200
        assert [m.message["Subject"] for m in other.messages] == ["after PUT"] and smtp_server.messages == []
    finally:
        other.stop()


def test_smtp_config_never_shows_a_graph_client_secret_or_proxy_password(idm_live):
    """msgraph's ``auth.clientSecret`` and the proxy's password are secrets like ``auth.password``."""
    live, client = idm_live
    graph = {
        "type": "msgraph", "from": "openidm@example.com",
        "auth": {"type": "oauth2", "clientId": "app", "clientSecret": "Graph-Secret-77",
                 "tokenEndpoint": "https://login.example.com/t/oauth2/v2.0/token", "scope": ["https://graph.microsoft.com/.default"],
                 "grantType": "client_credentials"},
        "mailEndpoint": "https://graph.example.com/v1.0/users/openidm@example.com/sendMail",
        "proxy": {"proxyUri": "http://proxy.example.com:3128", "userName": "p", "password": "Proxy-Secret-88"},
    }
    response = client.put("/openidm/config/external.email", json=graph)
    assert response.status_code == 200, response.text
    shown = client.get("/openidm/config/external.email")
    for answer in (response, shown):
        assert "Graph-Secret-77" not in answer.text and "Proxy-Secret-88" not in answer.text
    assert shown.json()["auth"]["clientId"] == "app" and shown.json()["proxy"]["userName"] == "p"
    edited = {**shown.json(), "timeout": 5000}
    assert client.put("/openidm/config/external.email", json=edited).status_code == 200
    written = json.loads((live.conf / "external.email.json").read_text())
    assert written["auth"]["clientSecret"] == "Graph-Secret-77" and written["proxy"]["password"] == "Proxy-Secret-88"


def test_smtp_config_read_shows_a_property_reference(idm_live, monkeypatch):
    live, client = idm_live
    monkeypatch.setenv("OPENIDM_SMTP_PASSWORD", "from-the-environment")
    config = {**json.loads((live.conf / "external.email.json").read_text()), "auth": {"enable": False, "username": "idm", "password": "&{openidm.smtp.password}"}}
    assert client.put("/openidm/config/external.email", json=config).status_code == 200
    assert client.get("/openidm/config/external.email").json()["auth"]["password"] == "&{openidm.smtp.password}"


@pytest.mark.parametrize(
    "change, param, words",
    [
        ({"port": "twenty"}, "port", "port"),
        ({"hots": "x"}, "hots", "hots"),
        ({"host": "&{no.such.smtp.host}"}, "no.such.smtp.host", "NO_SUCH_SMTP_HOST"),
        ({"auth": {"enable": True, "username": "u", "password": {"$crypto": {"type": "x-simple-encryption", "value": {}}}}},
         "auth.password", "environment variable"),
        ({"_id": "external.other"}, "_id", "_id"),
    ],
)
def test_smtp_config_put_validates_as_loading_does(idm_live, change, param, words):
    live, client = idm_live
    before = (live.conf / "external.email.json").read_text()
    config = {**json.loads(before), **change}
    response = client.put("/openidm/config/external.email", json=config)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]["param"] == param and words in response.json()["message"]
    assert (live.conf / "external.email.json").read_text() == before


def test_smtp_config_needs_every_permission(idm_live):
    _, client = idm_live
    mailer = {"X-OpenIDM-Username": "mailer", "X-OpenIDM-Password": "mailer-pass"}
    assert client.get("/openidm/config/external.email", headers=mailer).status_code == 403
    assert client.put("/openidm/config/external.email", headers=mailer, json={"host": "evil.example"}).status_code == 403
    anonymous = {"X-OpenIDM-Username": "anonymous", "X-OpenIDM-Password": "anonymous"}
    assert client.get("/openidm/config/external.email", headers=anonymous).status_code == 401


def test_smtp_config_without_an_idm_conf_folder_is_refused(client):
    for response in (client.get("/openidm/config/external.email", headers=IDM_AUTH),
                     client.put("/openidm/config/external.email", headers=IDM_AUTH, json={"host": "h"})):  # fmt: skip
        assert response.status_code == 403 and "IDM conf folder" in response.json()["message"]


def test_starttls_fallback_is_explicit_over_rest(idm_live, smtp_server):
    """``starttls.enable`` against a server without STARTTLS: refused, unless
    ``mail.smtp.starttls.required=false`` asks for IDM's clear-text fallback."""
    live, client = idm_live
    config = json.loads((live.conf / "external.email.json").read_text())
    assert client.put("/openidm/config/external.email", json={**config, "starttls": {"enable": True}}).status_code == 200
    refused = _send(client, "refused")
    assert refused.status_code == 502 and "STARTTLS" in refused.json()["message"]
    fallback = {**config, "starttls": {"enable": True}, "smtpProperties": ["mail.smtp.starttls.required=false"]}
    assert client.put("/openidm/config/external.email", json=fallback).status_code == 200
    assert _send(client, "in clear").status_code == 200
    assert [m.message["Subject"] for m in smtp_server.messages] == ["in clear"]
