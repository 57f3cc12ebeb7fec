"""The studio over plain HTTP: login, sessions and cookies, CSRF, permissions, headers,
and each page's effect on the real host (store, sidecar samples, outbox, SMTP sink)."""

from __future__ import annotations

import json

import httpx
import pytest

from emailactions.server.studio.session import COOKIE
from support.server import ADMIN, ADMIN_PASSWORD
from support.studio import PASSWORD, Studio, csrf_of

DRAFT = {"locale": "fr", "subject": "Bienvenue {{object.userName}}", "from_name": "Équipe", "html": "<p>Salut {{object.userName}}</p>",
         "text": "Salut {{object.userName}}", "sample": '{"userName": "ada"}'}  # fmt: skip


# -- login, sessions, cookies ---------------------------------------------------


def test_pages_need_a_login(studio):
    response = studio.client.get("/studio/templates/welcome")
    assert response.status_code == 303
    assert response.headers["location"] == "/studio/login?next=/studio/templates/welcome"


def test_login_sets_a_strict_httponly_cookie_and_a_fresh_session_id(studio):
    before = studio.client.get("/studio/login")
    planted = before.cookies[COOKIE]
    response = studio.client.post("/studio/login", data={"csrf": csrf_of(before.text), "username": "editor", "password": PASSWORD,
                                                          "next": "/studio/templates/welcome"})  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == "/studio/templates/welcome"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/studio" in cookie and "Secure" not in cookie
    assert response.cookies[COOKIE] != planted  # session fixation: the pre-login id is dropped
    with httpx.Client(base_url=studio.live.url, cookies={COOKIE: planted}) as attacker:
        assert attacker.get("/studio/templates", follow_redirects=False).status_code == 303
    assert studio.client.get("/studio/templates").status_code == 200


def test_cookie_is_secure_over_tls(studio):
    # Served over TLS as a trusted proxy on loopback reports it (the test server believes 127.0.0.1).
    tls = {"X-Forwarded-Proto": "https"}
    page = studio.client.get("/studio/login", headers=tls)
    assert "Secure" in page.headers["set-cookie"]
    data = {"csrf": csrf_of(page.text), "username": "editor", "password": PASSWORD}
    response = httpx.post(studio.live.url + "/studio/login", data=data, headers=tls, cookies={COOKIE: page.cookies[COOKIE]})
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


def test_wrong_password_and_anonymous_are_refused(studio):
    assert studio.login("editor", "nope").status_code == 401
    assert studio.login("anonymous", "anonymous").status_code == 401
    response = studio.login("nobody", PASSWORD)
    assert response.status_code == 401 and "Wrong user name or password" in response.text


def test_logins_are_throttled_like_the_api(studio):
    codes = [studio.login("editor", f"wrong-{i}").status_code for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    # Past the limit even the right password is not checked.
    response = studio.login("editor", PASSWORD)
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_login_redirect_stays_in_the_studio(studio):
    for target in ("https://evil.example/", "//evil.example/studio", "/studio\\@evil", "/openidm/x"):
        studio.client.cookies.clear()
        page = studio.client.get("/studio/login")
        response = studio.client.post("/studio/login", data={"csrf": csrf_of(page.text), "username": "editor", "password": PASSWORD, "next": target})
        assert response.status_code == 303 and response.headers["location"] == "/studio/templates", target


def test_logout_ends_the_session(editor):
    assert editor.post("/studio/logout").status_code == 303
    assert editor.client.get("/studio/templates").status_code == 303


# -- CSRF --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/studio/templates", "/studio/templates/welcome", "/studio/templates/welcome/delete",
                                  "/studio/templates/welcome/preview", "/studio/outbox/purge", "/studio/logout"])  # fmt: skip
def test_a_form_without_its_token_is_refused(admin, path):
    response = admin.post(path, {"id": "x", "state": "sent", **DRAFT, "do": "save"}, csrf=False)
    assert response.status_code == 403 and "CSRF" in response.text
    wrong = admin.client.post(path, data={"csrf": "0" * 43, **DRAFT, "do": "save"})
    assert wrong.status_code == 403
    assert admin.host.templates.store.get("welcome").subject.by_locale["fr"] == "Votre compte a été créé"


def test_the_login_form_needs_its_token(studio):
    studio.client.get("/studio/login")
    response = studio.client.post("/studio/login", data={"username": "editor", "password": PASSWORD})
    assert response.status_code == 403 and COOKIE not in response.cookies


def test_a_form_from_another_session_is_refused(editor):
    other = Studio(editor.host, editor.live)
    try:
        assert other.login("viewer").status_code == 303 and other.csrf != editor.csrf
        assert other.client.post("/studio/logout", data={"csrf": editor.csrf}).status_code == 403
        assert other.client.get("/studio/templates").status_code == 200  # still logged in
    finally:
        other.client.close()


def test_only_form_posts_are_read(editor):
    response = editor.client.post("/studio/templates/welcome", content=json.dumps({"csrf": editor.csrf}), headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "Content-Type" in response.text


# -- permissions -------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write_preview_or_send(studio):
    assert studio.login("viewer").status_code == 303
    page = studio.client.get("/studio/templates/welcome?locale=fr")
    assert page.status_code == 200 and 'id="save"' not in page.text and 'id="send"' not in page.text
    assert 'id="preview-subject"' not in page.text  # no preview permission
    assert studio.post("/studio/templates/welcome", {**DRAFT, "do": "save"}).status_code == 403
    assert studio.post("/studio/templates/welcome/delete").status_code == 403
    assert studio.post("/studio/templates", {"id": "new"}).status_code == 403
    assert studio.post("/studio/templates/welcome/preview", DRAFT).status_code == 403
    assert studio.client.get("/studio/outbox").status_code == 403
    assert studio.host.templates.store.get("welcome").subject.by_locale["fr"] == "Votre compte a été créé"


def test_an_operator_sees_the_outbox_only(studio):
    response = studio.login("operator")
    assert response.status_code == 303 and response.headers["location"] == "/studio/outbox"
    assert studio.client.get("/studio").headers["location"] == "/studio/outbox"
    assert studio.client.get("/studio/outbox").status_code == 200
    assert studio.client.get("/studio/templates").status_code == 403
    assert "Templates</a>" not in studio.client.get("/studio/outbox").text


# -- headers -----------------------------------------------------------------------


def test_every_page_carries_the_security_headers(editor):
    for path in ("/studio/login", "/studio/templates", "/studio/templates/welcome", "/studio/static/studio.css", "/studio/nothing-here"):
        response = editor.client.get(path)
        assert response.status_code == {"/studio/nothing-here": 404, "/studio/login": 303}.get(path, 200), path
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_html_preview_is_served_sandboxed(editor):
    panel = editor.post("/studio/templates/welcome/preview", {**DRAFT, "html": "<p>Hi</p><script>alert(1)</script>"})
    assert panel.status_code == 200
    assert 'sandbox=""' in panel.text and "<script>" not in panel.text  # the HTML goes to the iframe only
    url = panel.text.split('iframe src="')[1].split('"')[0]
    preview = editor.client.get(url)
    assert preview.text == "<p>Hi</p><script>alert(1)</script>"
    csp = preview.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "script-src" not in csp and "default-src 'none'" in csp
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    # Previews belong to the session that rendered them.
    other = Studio(editor.host, editor.live)
    try:
        assert other.login(ADMIN, ADMIN_PASSWORD).status_code == 303
        assert other.client.get(url).status_code == 404
    finally:
        other.client.close()


def test_static_files_are_the_shipped_ones(editor):
    assert "livePreview" in editor.client.get("/studio/static/studio.js").text
    assert editor.client.get("/studio/static/..%2Fweb.py").status_code == 404
    assert editor.client.get("/studio/static/web.py").status_code == 404


# -- the template list ---------------------------------------------------------------


def test_list_and_search(editor):
    page = editor.client.get("/studio/templates")
    assert 'data-id="welcome"' in page.text and 'data-id="hello"' in page.text
    found = editor.client.get("/studio/templates", params={"q": "HEL"}).text
    assert 'data-id="hello"' in found and 'data-id="welcome"' not in found
    assert "No template matches" in editor.client.get("/studio/templates", params={"q": "<script>"}).text


def test_create_duplicate_delete(editor):
    created = editor.post("/studio/templates", {"id": "reset", "name": "Password reset", "locale": "fr", "engine": "jinja2"})
    assert created.status_code == 303 and created.headers["location"] == "/studio/templates/reset?locale=fr"
    template = editor.host.templates.store.get("reset")
    assert (template.name, template.engine, template.subject.by_locale, template.default_locale) == ("Password reset", "jinja2", {"fr": "Password reset"}, "fr")
    copy = editor.post("/studio/templates/reset/duplicate", {"new_id": "reset2"})
    assert copy.status_code == 303
    assert editor.host.templates.store.get("reset2").name == "Password reset (copy)"
    assert editor.post("/studio/templates/reset/delete").status_code == 303
    assert {t.id for t in editor.host.templates.store.all()} == {"hello", "welcome", "reset2"}


@pytest.mark.parametrize("form, param", [
    ({"id": "../etc/passwd"}, "id"),
    ({"id": "welcome"}, None),  # exists: 409
    ({"id": "x", "engine": "mustache"}, "engine"),
    ({"id": "x", "locale": "not a locale!"}, "locale"),
    ({"id": "x", "name": "two\r\nlines"}, "name"),
])  # fmt: skip
def test_create_refuses_bad_input_naming_the_field(editor, form, param):
    response = editor.post("/studio/templates", form)
    assert response.status_code in (400, 409)
    if param:
        assert f"<code>{param}</code>" in response.text
    assert {t.id for t in editor.host.templates.store.all()} == {"hello", "welcome"}


# -- the editor ----------------------------------------------------------------------


def test_editor_shows_the_locale_and_its_fallbacks(editor):
    page = editor.client.get("/studio/templates/welcome?locale=fr").text
    assert "Votre compte a été créé" in page
    assert 'id="preview-locale"><b>fr</b>' in page and "fr → en" in page
    assert "Missing <code>object.userName</code> in html, line 1" in page
    # A locale the template lacks falls back to the default one, and says so.
    page = editor.client.get("/studio/templates/welcome?locale=de").text
    assert 'id="preview-locale"><b>en</b>' in page and "de → en" in page


def test_preview_renders_the_draft_with_its_sample(editor):
    panel = editor.post("/studio/templates/welcome/preview", DRAFT).text
    assert 'id="preview-subject">Bienvenue ada<' in panel
    assert 'id="preview-from">&#34;Équipe&#34; &lt;openidm@example.com&gt;<' in panel
    assert "Salut ada" in panel
    assert editor.host.templates.store.get("welcome").subject.by_locale["fr"] == "Votre compte a été créé"  # nothing saved


def test_render_errors_point_at_their_line(editor):
    panel = editor.post("/studio/templates/welcome/preview", {**DRAFT, "html": "<p>ok</p>\n<p>{{object.userName</p>"}).text
    assert "<b>html, line 2</b>" in panel and '<span class="ln">2</span> &lt;p&gt;{{object.userName&lt;/p&gt;' in panel


def test_a_subject_rendering_a_line_break_is_an_error_not_a_header(editor):
    panel = editor.post("/studio/templates/welcome/preview", {**DRAFT, "sample": '{"userName": "x\\r\\nBcc: victim@example.com"}'}).text
    assert "<b>subject</b>" in panel and "line break" in panel


def test_bad_sample_json_names_the_field(editor):
    panel = editor.post("/studio/templates/welcome/preview", {**DRAFT, "sample": "[1, 2"}).text
    assert 'id="preview-error"' in panel and "sample" in panel
    panel = editor.post("/studio/templates/welcome/preview", {**DRAFT, "sample": "[1, 2]"}).text
    assert "must be a JSON object" in panel


def test_save_goes_through_the_checked_store_and_keeps_the_sample(editor, conf):
    response = editor.post("/studio/templates/welcome", {**DRAFT, "do": "save"})
    assert response.status_code == 303 and response.headers["location"] == "/studio/templates/welcome?locale=fr&saved=1"
    template = editor.host.templates.store.get("welcome")
    assert template.subject.by_locale == {"en": "Your account has been created", "fr": "Bienvenue {{object.userName}}"}
    assert template.text.by_locale == {"fr": "Salut {{object.userName}}"} and template.from_name.by_locale == {"fr": "Équipe"}
    saved = json.loads((conf / "emailTemplate-welcome.json").read_text())
    assert saved["subject"]["fr"] == "Bienvenue {{object.userName}}" and saved["displayName"] == "Welcome"  # IDM's keys kept
    assert json.loads((conf / ".emailactions-studio.json").read_text()) == {"welcome": {"userName": "ada"}}
    page = editor.client.get(response.headers["location"]).text
    assert 'id="notice">Saved.' in page and "&#34;userName&#34;: &#34;ada&#34;" in page
    assert 'id="preview-subject">Bienvenue ada<' in page


def test_save_refuses_a_template_that_does_not_compile(editor, conf):
    before = (conf / "emailTemplate-welcome.json").read_bytes()
    response = editor.post("/studio/templates/welcome", {**DRAFT, "html": "{{#if object.x}}never closed", "do": "save"})
    assert response.status_code == 400 and 'id="form-error"' in response.text
    assert "{{#if object.x}}never closed" in response.text  # the draft is kept in the form
    assert (conf / "emailTemplate-welcome.json").read_bytes() == before


def test_save_refuses_an_empty_template(editor):
    only_fr = editor.post("/studio/templates", {"id": "solo", "locale": "fr"})
    assert only_fr.status_code == 303
    response = editor.post("/studio/templates/solo", {"locale": "fr", "subject": "", "html": "", "text": "", "from_name": "", "do": "save"})
    assert response.status_code == 400 and "needs a subject or a body" in response.text


# -- test sends ------------------------------------------------------------------------


def test_test_send_goes_through_the_outbox_marked_as_a_test(editor, smtp_server):
    response = editor.post("/studio/templates/welcome", {**DRAFT, "to": "qa@example.com", "do": "send"})
    assert response.status_code == 200 and "Test mail to qa@example.com submitted as outbox entry 1" in response.text
    editor.host.dispatcher.drain(10)
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ["qa@example.com"]
    message = received.message
    assert message["Subject"] == "[TEST] Bienvenue ada" and message["From"] == "Équipe <openidm@example.com>"
    assert "Salut ada" in message.get_body(("plain",)).get_content()
    outbox = editor.host.action("external/email/outbox", "list", {})
    assert outbox["counts"]["sent"] == 1


def test_test_send_refuses_a_bad_address_or_a_broken_draft(editor, smtp_server):
    response = editor.post("/studio/templates/welcome", {**DRAFT, "to": "qa@example.com\r\nBcc: x@example.com", "do": "send"})
    assert response.status_code == 400 and 'id="form-error"' in response.text
    response = editor.post("/studio/templates/welcome", {**DRAFT, "html": "{{object.x", "to": "qa@example.com", "do": "send"})
    assert response.status_code == 400 and "fix the errors" in response.text
    assert editor.host.action("external/email/outbox", "list", {})["entries"] == []


def test_test_sends_are_rate_limited(editor):
    codes = [editor.post("/studio/templates/welcome", {**DRAFT, "to": f"qa{i}@example.com", "do": "send"}).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]
    assert len(editor.host.action("external/email/outbox", "list", {})["entries"]) == 5


@pytest.fixture
def designer_config(studio_config):
    studio_config["server"]["users"]["designer"] = {**studio_config["server"]["users"]["viewer"], "permissions": ["templates"]}
    return studio_config


def test_test_send_needs_the_send_permission(designer_config, smtp_server):
    from emailactions import ActionHost

    with ActionHost(designer_config, load_entry_points=False) as host:
        studio = Studio(host)
        try:
            assert studio.login("designer").status_code == 303
            page = studio.client.get("/studio/templates/welcome").text
            assert 'id="save"' in page and 'id="send"' not in page
            response = studio.post("/studio/templates/welcome", {**DRAFT, "to": "qa@example.com", "do": "send"})
            assert response.status_code == 403
        finally:
            studio.stop()
    assert smtp_server.messages == []


# -- the outbox ------------------------------------------------------------------------


def test_outbox_view_retry_and_purge(admin, smtp_server):
    smtp_server.handler.rcpt_reply = lambda address: "550 No such user"
    admin.host.action("external/email", "send", {"to": "gone@example.com", "subject": "s", "body": "b"}, wait_for_completion=False)
    admin.host.dispatcher.drain(10)
    page = admin.client.get("/studio/outbox")
    assert page.status_code == 200 and '<meta http-equiv="refresh" content="5">' in page.text
    assert 'data-state="failed">failed <b>1</b>' in page.text and "gone@example.com: 550 No such user" in page.text
    smtp_server.handler.rcpt_reply = lambda address: None
    response = admin.post("/studio/outbox/retry", {"id": "1"})
    assert response.status_code == 303 and response.headers["location"] == "/studio/outbox?retried=1"
    admin.host.dispatcher.drain(10)
    assert len(smtp_server.messages) == 1
    page = admin.client.get(response.headers["location"]).text
    assert 'id="notice">Retried 1 message(s).' in page and 'data-state="sent">sent <b>1</b>' in page
    assert admin.post("/studio/outbox/purge", {"state": "sent"}).headers["location"] == "/studio/outbox?purged=1"
    assert admin.host.action("external/email/outbox", "list", {})["entries"] == []


def test_outbox_refuses_bad_input(admin):
    assert admin.post("/studio/outbox/purge", {"state": "in-flight"}).status_code == 400
    assert admin.post("/studio/outbox/retry", {"id": "x"}).status_code == 400
    assert admin.client.get("/studio/outbox", params={"state": "nope"}).status_code == 400
    # Only counts come back through the URL: a crafted link cannot put words in the page.
    assert "pwned" not in admin.client.get("/studio/outbox", params={"retried": "pwned"}).text
