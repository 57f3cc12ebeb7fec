"""``sendTemplate`` and ``preview``: IDM's documented examples over real SMTP, then every rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import ROOT
from support import wait_for
from emailactions import ActionHost, InvalidParams, RenderError, TemplateDisabled, TemplateError, TemplateNotFound

EXAMPLES = ROOT / "examples" / "conf"
HILDA = {"userName": "hgale815", "givenName": "Hilda", "sn": "Gale", "country": "FR", "created": "2024-03-01"}


@pytest.fixture
def conf(tmp_path) -> Path:
    """A copy of the example IDM conf folder (tests may add templates to it)."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "conf"))


@pytest.fixture
def emailactions_config(conf):
    return {"email": {"from": "IDM <openidm@example.com>", "conf": str(conf)}, "transports": {"default": {"backend": "memory"}}}


def send(host, params, **context):
    return host.action("external/email", "sendTemplate", params, **context)


# -- IDM's documented examples, over a real SMTP server ---------------------------------


@pytest.fixture
def smtp_conf_host(conf, smtp_server):
    host = ActionHost({"email": {"from": "IDM <openidm@example.com>", "conf": str(conf)},
                       "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port, "timeout": 10}}},
                      load_entry_points=False)  # fmt: skip
    yield host
    host.close()


def test_idm_welcome_in_french_over_smtp(smtp_conf_host, smtp_server):
    result = send(smtp_conf_host, {"templateName": "welcome", "to": "hgale815@example.com", "_locale": "fr", "object": HILDA})
    assert result["status"] == "OK" and result["message"] == "Email sent"
    assert result["locale"] == "fr" and result["locales"] == {"subject": "fr", "html": "fr"}
    [received] = smtp_server.messages
    msg = received.message
    assert msg["Subject"] == "Votre compte a été créé"
    assert msg["From"] == "IDM <openidm@example.com>"  # template from "" -> config from
    assert msg.get_content_type() == "text/html"
    assert "Bienvenue sur OpenIDM. Votre nom d'utilisateur est 'hgale815'." in msg.get_content()


def test_idm_welcome_in_english_over_smtp(smtp_conf_host, smtp_server):
    result = send(smtp_conf_host, {"templateName": "welcome", "to": "hgale815@example.com", "object": HILDA})
    assert result["locale"] == "en"
    assert smtp_server.messages[0].message["Subject"] == "Your account has been created"


def test_issue_example_accept_language_and_locale(smtp_conf_host, smtp_server):
    result = send(smtp_conf_host, {"templateName": "hello", "to": "hgale815@example.com", "_locale": "fr", "object": HILDA},
                  accept_language="fr-CA,fr;q=0.9,en;q=0.5")  # fmt: skip
    assert result["locale"] == "fr"
    msg = smtp_server.messages[0].message
    assert msg["Subject"] == "Bonjour Hilda"
    assert msg["From"] == "Assistance Example <noreply@example.com>"  # template from + localized fromName
    assert msg.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in msg.iter_parts())
    assert "Bonjour Hilda Gale" in text and "créé le 1 mars 2024" in text
    assert "<p>Bonjour Hilda Gale,</p>" in html


def test_template_rendering_object_given_name(smtp_conf_host, smtp_server):
    send(smtp_conf_host, {"templateName": "hello", "to": "hgale815@example.com", "object": {"givenName": "Sam"}})
    assert smtp_server.messages[0].message["Subject"] == "Hello Sam"


def test_example_conf_folder_loads_without_contacting_its_server():
    host = ActionHost(EXAMPLES, load_entry_points=False)
    backend, options = host.config.transport_options()
    assert (backend, options["host"], options["port"]) == ("smtp", "localhost", 2525)
    assert sorted(t.id for t in host.templates.store.all()) == ["hello", "welcome"]
    preview = host.action("external/email", "preview", {"templateName": "welcome", "_locale": "fr", "object": HILDA})
    assert preview["subject"] == "Votre compte a été créé" and preview["from"] == '"IDM" <openidm@example.com>'


# -- locale rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept_language, locale, expected",
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr", "fr"),  # the issue's example
        ("en", "fr", "en"),  # Accept-Language comes before _locale
        (None, "fr", "fr"),
        (None, "FR-ca", "fr"),  # parent of fr_CA, any spelling
        ("de, it", "fr", "fr"),  # no match in the header: _locale
        ("de", None, "en"),  # then the template's defaultLocale
        ("fr-CA, en, fr", None, "en"),  # fr is ranked below en: the parent rule skips it
        ("fr;q=0, de", "fr", "fr"),  # q=0 is dropped; _locale still counts
    ],
)
def test_locale_resolution(emailactions_host, emailactions_outbox, accept_language, locale, expected):
    params = {"templateName": "welcome", "to": "a@example.com", "object": HILDA}
    if locale:
        params["_locale"] = locale
    result = send(emailactions_host, params, accept_language=accept_language)
    assert result["locale"] == expected
    subjects = {"en": "Your account has been created", "fr": "Votre compte a été créé"}
    assert emailactions_outbox.subjects == [subjects[expected]]


def test_subject_and_body_resolve_separately(emailactions_host):
    emailactions_host.templates.create({"subject": {"en": "Hi"}, "message": {"en": "Hello", "fr": "Bonjour"}, "mimeType": "text/plain"}, "split")
    result = send(emailactions_host, {"templateName": "split", "to": "a@example.com", "_locale": "fr"})
    assert result["locales"] == {"subject": "en", "text": "fr"} and result["locale"] == "fr"


def test_host_default_locale_then_first_present(conf):
    host = ActionHost({"email": {"from": "a@example.com", "conf": str(conf), "default_locale": "fr"},
                       "transports": {"default": {"backend": "memory"}}}, load_entry_points=False)  # fmt: skip
    host.templates.create({"subject": {"de": "Hallo", "fr": "Salut"}, "message": {"de": "x"}}, "nodefault")
    result = send(host, {"templateName": "nodefault", "to": "a@example.com"})
    assert result["locales"] == {"subject": "fr", "text": "de"}  # host default, then the first locale present


def test_default_text_is_used_when_no_locale_matches(emailactions_host, emailactions_outbox):
    emailactions_host.templates.create({"defaultSubject": "Default", "localizedSubjects": {"fr": "Défaut"}, "defaultTextTemplate": "t"}, "fa")
    send(emailactions_host, {"templateName": "fa", "to": "a@example.com"}, accept_language="de")
    send(emailactions_host, {"templateName": "fa", "to": "a@example.com"}, accept_language="fr-BE")
    assert emailactions_outbox.subjects == ["Default", "Défaut"]


@pytest.mark.parametrize("params, context, param", [
    ({"_locale": "french!"}, {}, "_locale"),
    ({}, {"accept_language": "fr;q=7"}, "Accept-Language"),
    ({"_locale": 5}, {}, "_locale"),
])  # fmt: skip
def test_malformed_locales_are_400(emailactions_host, emailactions_outbox, params, context, param):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, {"templateName": "welcome", "to": "a@example.com", **params}, **context)
    assert info.value.param == param and len(emailactions_outbox) == 0


def test_locale_aware_helpers_in_the_chosen_locale(emailactions_host, emailactions_outbox):
    emailactions_host.templates.create({
        "subject": {"en": "Invoice", "de": "Rechnung"},
        "message": {"en": "{{formatCurrency object.total 'EUR'}} due {{formatDate object.due 'long'}}",
                    "de": "{{formatCurrency object.total 'EUR'}} fällig am {{formatDate object.due 'long'}}"},
    }, "invoice")  # fmt: skip
    send(emailactions_host, {"templateName": "invoice", "to": "a@example.com", "object": {"total": 1234.5, "due": "2024-03-01"}},
         accept_language="de-AT")  # fmt: skip
    assert emailactions_outbox.last.get_content().strip() == "1.234,50\xa0€ fällig am 1. März 2024"


# -- senders --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_from, expected",
    [
        (None, "Example Support <noreply@example.com>"),  # template from, with its fromName
        ("ops@example.com", "Example Support <ops@example.com>"),  # request from wins; fromName names it
        ("Ops Team <ops@example.com>", "Ops Team <ops@example.com>"),  # a display name of the request's own wins
    ],
)
def test_sender_precedence(emailactions_host, emailactions_outbox, request_from, expected):
    params = {"templateName": "hello", "to": "a@example.com", "object": HILDA}
    if request_from:
        params["from"] = request_from
    result = send(emailactions_host, params)
    assert emailactions_outbox.last["From"] == expected
    assert result["envelope"]["from"] == expected.split("<")[1].rstrip(">")


def test_no_sender_anywhere_is_400(conf):
    host = ActionHost({"email": {"conf": str(conf)}, "transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    with pytest.raises(InvalidParams) as info:
        send(host, {"templateName": "welcome", "to": "a@example.com"})
    assert info.value.message == "From: email address is absent"


# -- refusals: nothing is sent ---------------------------------------------------------------


def test_unknown_template_is_404(emailactions_host, emailactions_outbox):
    with pytest.raises(TemplateNotFound) as info:
        send(emailactions_host, {"templateName": "nope", "to": "a@example.com"})
    assert info.value.code == 404 and info.value.to_dict()["reason"] == "Not Found"


def test_disabled_template_is_400(emailactions_host, emailactions_outbox):
    emailactions_host.templates.update("welcome", {"enabled": False}, merge=True)
    with pytest.raises(TemplateDisabled) as info:
        send(emailactions_host, {"templateName": "welcome", "to": "a@example.com"})
    assert info.value.code == 400 and len(emailactions_outbox) == 0


@pytest.mark.parametrize("params, param", [
    ({"to": "a@example.com"}, "templateName"),
    ({"templateName": "../../etc/passwd", "to": "a@example.com"}, "templateName"),
    ({"templateName": "welcome"}, "to"),
    ({"templateName": "welcome", "to": "a@example.com", "object": "Hilda"}, "object"),
    ({"templateName": "welcome", "to": "a@example.com", "object": {"x": object()}}, "object"),
    ({"templateName": "welcome", "to": "a@example.com", "subject": "x"}, "subject"),
    ({"templateName": "welcome", "to": "not an address"}, "to"),
])  # fmt: skip
def test_bad_params_are_400_naming_the_param(emailactions_host, emailactions_outbox, params, param):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, params)
    assert info.value.param == param and len(emailactions_outbox) == 0


def test_render_failure_is_400_naming_the_part(emailactions_host, emailactions_outbox):
    emailactions_host.templates.store.create({"subject": {"en": "ok"}, "message": {"en": "{{formatDate object.when}}"}}, "broken")
    with pytest.raises(RenderError) as info:
        send(emailactions_host, {"templateName": "broken", "to": "a@example.com", "object": {"when": "not a date"}})
    assert info.value.code == 400 and info.value.part == "text" and "formatDate" in info.value.message
    assert len(emailactions_outbox) == 0


@pytest.mark.parametrize("engine, subject", [("handlebars", "Hi {{object.name}}"), ("jinja2", "Hi {{ object.name }}")])
def test_a_value_cannot_put_a_newline_into_the_subject(emailactions_host, emailactions_outbox, engine, subject):
    emailactions_host.templates.create({"engine": engine, "subject": {"en": subject}, "message": {"en": "b"}}, "inject")
    for evil in ("x\r\nBcc: victim@example.com", "x\nBcc: v@example.com", "=?utf-8?q?x=0D=0ABcc:_v@example.com?="):
        with pytest.raises(RenderError) as info:
            send(emailactions_host, {"templateName": "inject", "to": "a@example.com", "object": {"name": evil}})
        assert info.value.part == "subject"
    assert len(emailactions_outbox) == 0


def test_object_values_are_escaped_in_html_not_in_text(emailactions_host, emailactions_outbox):
    emailactions_host.templates.create({"subject": {"en": "{{object.v}}"}, "message": {"en": "<p>{{object.v}}</p>"}, "mimeType": "text/html",
                                        "emailactions": {"localizedTextTemplates": {"en": "{{object.v}}"}}}, "esc")  # fmt: skip
    send(emailactions_host, {"templateName": "esc", "to": "a@example.com", "object": {"v": "<script>&"}})
    msg = emailactions_outbox.last
    text, html = (p.get_content() for p in msg.iter_parts())
    assert msg["Subject"] == "<script>&" and text.strip() == "<script>&" and html.strip() == "<p>&lt;script&gt;&amp;</p>"


def test_jinja_template_and_wait_for_completion_false(emailactions_host, emailactions_outbox):
    emailactions_host.templates.create({"engine": "jinja2", "defaultSubject": "Hi {{ object.givenName }}",
                                        "defaultTextTemplate": "{% for g in object.groups %}{{ g }};{% endfor %}"}, "jj")  # fmt: skip
    result = send(emailactions_host, {"templateName": "jj", "to": "a@example.com", "object": {"givenName": "Hilda", "groups": ["a", "b"]}},
                  wait_for_completion=False)  # fmt: skip
    assert result["message"] == "Email submitted"
    wait_for(lambda: len(emailactions_outbox))  # a worker thread delivers submitted mail
    assert emailactions_outbox.last["Subject"] == "Hi Hilda" and emailactions_outbox.last.get_content().strip() == "a;b;"


def test_unknown_engine_is_refused(emailactions_host):
    with pytest.raises(TemplateError) as info:
        emailactions_host.templates.create({"engine": "mustache", "subject": {"en": "x"}}, "m")
    assert info.value.engine == "mustache"


def test_templates_that_do_not_compile_are_not_stored(emailactions_host):
    with pytest.raises(RenderError) as info:
        emailactions_host.templates.create({"subject": {"en": "{{#if x}}"}}, "bad")
    assert info.value.part == "subject"
    with pytest.raises(TemplateNotFound):
        emailactions_host.templates.store.get("bad")
    with pytest.raises(RenderError):
        emailactions_host.templates.update("welcome", {"subject": {"en": "{{[a'b]}}"}}, merge=True)
    assert emailactions_host.templates.store.get("welcome").subject.by_locale["en"] == "Your account has been created"


# -- preview -------------------------------------------------------------------------------------


def preview(host, params, **context):
    return host.action("external/email", "preview", params, **context)


def test_preview_shows_a_missing_variable(emailactions_host, emailactions_outbox):
    result = preview(emailactions_host, {"templateName": "hello", "object": {"givenName": "Hilda"}}, accept_language="fr")
    assert result["missing"] == ["object.sn", "object.created"]
    assert result["subject"] == "Bonjour Hilda" and result["from"] == '"Assistance Example" <noreply@example.com>'
    assert "Bonjour Hilda ," in result["text"] and result["html"].startswith("<html>")
    assert result["errors"] == {} and result["locale"] == "fr"
    assert len(emailactions_outbox) == 0


def test_preview_reports_errors_per_part(emailactions_host):
    inline = {"engine": "jinja2", "subject": {"en": "{{ object.x }}"}, "message": {"en": "{% for %}"}, "mimeType": "text/html",
              "emailactions": {"localizedTextTemplates": {"en": "fine {{ object.y }}"}}}  # fmt: skip
    result = preview(emailactions_host, {"template": inline, "object": {"x": "a\nb"}})
    assert set(result["errors"]) == {"subject", "html"}
    assert "line break" in result["errors"]["subject"]["message"] and result["errors"]["html"]["line"] == 1
    assert result["text"] == "fine " and result["missing"] == ["object.y"] and result["html"] is None


def test_preview_of_a_disabled_template_works(emailactions_host):
    emailactions_host.templates.update("welcome", {"enabled": False}, merge=True)
    result = preview(emailactions_host, {"templateName": "welcome", "_locale": "fr"})
    assert result["enabled"] is False and result["subject"] == "Votre compte a été créé"
    assert result["missing"] == ["object.userName"]


@pytest.mark.parametrize("params", [{}, {"templateName": "welcome", "template": {"subject": {"en": "x"}}}, {"template": "x"}])
def test_preview_needs_exactly_one_template(emailactions_host, params):
    with pytest.raises(InvalidParams):
        preview(emailactions_host, params)


# -- One message per recipient, each rendered for them (issue 7) ---------------------------


def test_per_recipient_object_and_locale_over_smtp(conf, smtp_server):
    host = ActionHost({"email": {"from": "IDM <openidm@example.com>", "conf": str(conf)}, "rate_limits": {"enabled": False},
                       "transports": {"default": {"backend": "smtp", "host": "127.0.0.1", "port": smtp_server.port}}},
                      load_entry_points=False)  # fmt: skip
    result = send(host, {"templateName": "welcome", "object": {"userName": "shared"}, "to": [
        {"address": "hilda@example.com", "display": "Hilda Gale", "object": {"userName": "hgale815"}, "locale": "fr"},
        {"address": "bob@example.com", "object": {"userName": "bjensen"}},
        "carol@example.com",
    ]})
    host.close()
    assert result["count"] == 3 and result["sent"] == 3 and result["templateName"] == "welcome"
    assert [(r["address"], r["locale"]) for r in result["results"]] == [
        ("hilda@example.com", "fr"), ("bob@example.com", "en"), ("carol@example.com", "en")]
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    assert "Votre compte" in by_rcpt["hilda@example.com"]["Subject"]
    assert "hgale815" in by_rcpt["hilda@example.com"].get_content()
    assert "bjensen" in by_rcpt["bob@example.com"].get_content()
    assert "shared" in by_rcpt["carol@example.com"].get_content()
    assert [a.addr_spec for a in by_rcpt["bob@example.com"]["To"].addresses] == ["bob@example.com"]


def test_one_render_error_does_not_stop_the_others(emailactions_host, emailactions_outbox):
    emailactions_host.templates.store.create({"subject": {"en": "Hi"}, "message": {"en": "{{formatDate object.when}}"}}, "dated")
    result = send(emailactions_host, {"templateName": "dated", "sendSeparately": True, "object": {"when": "2024-03-01"},
                                      "to": ["a@example.com", {"address": "b@example.com", "object": {"when": "not a date"}}, "c@example.com"]})
    assert result["sent"] == 2 and result["failed"] == 1
    failed = result["results"][1]
    assert failed["address"] == "b@example.com" and failed["error"]["detail"]["kind"] == "render_error"
    assert failed["error"]["detail"]["part"] == "text"
    assert [m.recipients for m in emailactions_outbox] == [("a@example.com",), ("c@example.com",)]


@pytest.mark.parametrize(
    "to, param",
    [
        ([{"address": "a@example.com", "object": "x"}], "to[0].object"),
        ([{"address": "a@example.com", "locale": "no such locale!"}], "to[0].locale"),
        ([{"address": "a@example.com", "locale": 3}], "to[0].locale"),
        ([{"address": "bad", "object": {}}], "to"),
    ],
)
def test_per_recipient_refusals(emailactions_host, emailactions_outbox, to, param):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, {"templateName": "welcome", "to": to})
    assert info.value.param == param and len(emailactions_outbox) == 0


def test_per_recipient_data_needs_separate_messages(emailactions_host, emailactions_outbox):
    with pytest.raises(InvalidParams) as info:
        send(emailactions_host, {"templateName": "welcome", "sendSeparately": False, "to": [{"address": "a@example.com", "object": {}}]})
    assert info.value.param == "sendSeparately"


def test_template_to_a_group(conf):
    host = ActionHost({"email": {"from": "a@example.com", "conf": str(conf)}, "transports": {"default": {"backend": "memory"}},
                       "groups": {"new-hires": ["x@example.com", "y@example.com"]}}, load_entry_points=False)
    result = send(host, {"templateName": "welcome", "destination": "new-hires", "object": {"userName": "team"}})
    assert result["count"] == 2 and len(host.transport().outbox) == 2


def test_sent_separately_a_template_that_does_not_compile_is_refused_before_anything_is_sent(emailactions_host, emailactions_outbox, conf):
    # Written behind the store's back (IDM's admin UI may): the write path would have refused it.
    (conf / "emailTemplate-broken.json").write_text('{"subject": {"en": "{{#if x}}"}, "message": {"en": "b"}}', encoding="utf-8")
    with pytest.raises(RenderError) as info:
        send(emailactions_host, {"templateName": "broken", "sendSeparately": True, "to": ["a@example.com", "b@example.com"]})
    assert info.value.code == 400 and info.value.part == "subject" and len(emailactions_outbox) == 0


def test_sent_separately_with_cc_each_recipient_is_addressed_once(emailactions_host, emailactions_outbox):
    # What FusionAuth's send route asks of the one template send: Cc and Bcc on every message.
    from emailactions.params.addresses import Address
    from emailactions.params.template import TemplateRequest
    from emailactions.services.email import EmailService

    a, b, audit = Address("a@example.com"), Address("b@example.com"), Address("audit@example.com")
    request = TemplateRequest("welcome", to=(a, b), cc=(a, audit), bcc=(b,), data={"userName": "x"}, separately=True)
    result = EmailService(emailactions_host).deliver_template(request, None, True)
    assert result["sent"] == 2 and result["templateName"] == "welcome"
    assert [m.recipients for m in emailactions_outbox] == [
        ("a@example.com", "audit@example.com", "b@example.com"), ("b@example.com", "a@example.com", "audit@example.com")]
