"""Every refusal of ``send``: a 400 naming the param, and nothing sent."""

from __future__ import annotations

import pytest

from emailactions import InvalidParams, TooLarge

BASE = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "body": "b"}


def refused(host, outbox, params, exc=InvalidParams):
    with pytest.raises(exc) as info:
        host.action("external/email", "send", params)
    assert len(outbox) == 0, "nothing may be sent after a refusal"
    body = info.value.to_dict()
    assert body["code"] == exc.code
    return info.value


@pytest.mark.parametrize(
    "params, param",
    [
        ({"from": "a@example.com"}, "to"),
        ({"from": "a@example.com", "to": ""}, "to"),
        ({"from": "a@example.com", "to": " , ;"}, "to"),
        ({"from": "a@example.com", "to": []}, "to"),
    ],
)
def test_missing_recipients(emailactions_host, emailactions_outbox, params, param):
    err = refused(emailactions_host, emailactions_outbox, params)
    assert err.param == param


def test_bcc_alone_is_enough(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", {"bcc": "hidden@example.com"})
    msg = emailactions_outbox.last
    assert msg["To"] == "undisclosed-recipients:;" and msg["Bcc"] is None
    assert emailactions_outbox[0].recipients == ("hidden@example.com",)


@pytest.mark.parametrize("param", ["to", "cc", "bcc", "from"])
@pytest.mark.parametrize(
    "bad",
    [
        "not-an-address",
        "a@b.com <c@d.com>",          # ambiguous: which one?
        '"x" <a@example.com> c@d.com',
        "a@@example.com",
        "a@example.com\r\nBcc: victim@example.com",
        "a@example.com\nX: y",
        "a@exa\x00mple.com",
        "Evil\u2028Name <a@example.com>",
        "\u202eEvil <a@example.com>",  # bidi override spoofs the display
        "a" * 5000 + "@example.com",
        "group: a@example.com;",
    ],
)
def test_bad_addresses(emailactions_host, emailactions_outbox, param, bad):
    params = dict(BASE, **{param: bad})
    err = refused(emailactions_host, emailactions_outbox, params)
    assert err.param == param
    assert err.message == f"Bad {param.capitalize() if param != 'cc' else 'Cc'}: email address" or "control character" in err.message


def test_bad_address_message_is_idms(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, to="nope"))
    assert err.to_dict()["message"] == "Bad To: email address"
    assert err.to_dict()["reason"] == "Bad Request"


def test_missing_from(emailactions_outbox):
    from emailactions import ActionHost

    host = ActionHost({"transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    with pytest.raises(InvalidParams) as info:
        host.action("external/email", "send", {"to": "b@example.com"})
    assert info.value.message == "From: email address is absent" and info.value.param == "from"
    assert host.transport().outbox == []


@pytest.mark.parametrize(
    "subject",
    [
        "hi\r\nBcc: victim@example.com",
        "hi\nthere",
        "hi\rthere",
        "nul\x00",
        "esc\x1b[31m",
        "del\x7f",
        "nel\x85",
        "sep\u2028x",
        "=?utf-8?q?hello=0D=0ABcc:_victim@example.com?=",
        "=?utf-8?b?aGkNCkJjYzogeEB5LmNvbQ==?=",
    ],
)
def test_control_characters_in_subject(emailactions_host, emailactions_outbox, subject):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, subject=subject))
    assert err.param == "subject" and "control character" in err.message


def test_control_characters_in_encoded_display_name(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, to='"=?utf-8?q?x=0Ay?=" <a@example.com>'))
    assert err.param == "to"


def test_unsupported_type(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, type="application/pdf"))
    assert err.message == "Email type: application/pdf is not handled" and err.param == "type"


@pytest.mark.parametrize("mime_type", ["text/plain", "text/html", "text/xml", "TEXT/HTML"])
def test_supported_types(emailactions_host, emailactions_outbox, mime_type):
    emailactions_host.action("external/email", "send", dict(BASE, type=mime_type))
    assert emailactions_outbox.last.get_content_type() == mime_type.lower()


@pytest.mark.parametrize(
    "param, value",
    [("subject", 5), ("body", ["x"]), ("type", None or 3), ("to", 42), ("cc", {"x": 1}), ("from", 1.5), ("_locale", 7),
     ("to", [{"address": 1}]), ("to", [{"address": "a@example.com", "extra": 1}]), ("waitForCompletion", "maybe")],
)
def test_wrong_types(emailactions_host, emailactions_outbox, param, value):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, **{param: value}))
    assert err.param == param


def test_unknown_params_are_listed(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, tO="x", attachment=[]))
    assert err.unknown == ["attachment", "tO"]
    assert "attachment" in err.message and "tO" in err.message


def test_alias_clash(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, _to="other@example.com"))
    assert err.param == "to"


def test_params_must_be_an_object(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, ["to", "x"])
    assert err.param == "params"


def test_recipient_limit(emailactions_host, emailactions_outbox):
    to = ", ".join(f"u{i}@example.com" for i in range(101))
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, to=to))
    assert err.param == "to" and "101" in err.message


def test_subject_limit(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, subject="x" * 999))
    assert err.param == "subject"


def test_body_limit(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, body="é" * (6 * 1024 * 1024)), TooLarge)
    assert err.param == "body" and err.code == 413


def test_limits_are_configurable(emailactions_outbox):
    from emailactions import ActionHost

    host = ActionHost({"email": {"from": "a@example.com", "limits": {"max_recipients": 2}},
                       "transports": {"default": {"backend": "memory"}}}, load_entry_points=False)
    with pytest.raises(InvalidParams):
        host.action("external/email", "send", {"to": "a@example.com, b@example.com, c@example.com"})
    host.action("external/email", "send", {"to": "a@example.com, b@example.com"})


def test_quoted_commas_do_not_split(emailactions_host, emailactions_outbox):
    emailactions_host.action("external/email", "send", dict(BASE, to='"Carter, Sam" <s@example.com>; "a\\"b" <t@example.com>'))
    to = emailactions_outbox.last["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [("Carter, Sam", "s@example.com"), ('a"b', "t@example.com")]


def test_display_name_limit(emailactions_host, emailactions_outbox):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, to=f'"{"x" * 151}" <a@example.com>'))
    assert err.param == "to" and "display name" in err.problem


@pytest.mark.parametrize("display", ["Evil\r\nBcc: v@example.com", "a\nb", "x\x00", "x\u2028y", "\u202eEvil", "x\ud800"])
def test_control_characters_in_address_objects(emailactions_host, emailactions_outbox, display):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, to=[{"address": "a@example.com", "display": display}]))
    assert err.param == "to"


@pytest.mark.parametrize("param, value", [("subject", "x\ud800"), ("body", "x\udcff"), ("fromName", "Bank\u202egnp.exe")])
def test_lone_surrogates_and_bidi_are_refused(emailactions_host, emailactions_outbox, param, value):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, **{param: value}))
    assert err.param == param


def test_config_repr_has_no_secrets():
    from emailactions import ActionHost

    host = ActionHost({"transports": {"default": {"backend": "smtp", "username": "u", "password": "S3cr3t-PW"}},
                       "rate_limits": {"storage": "redis://:R3disPW@localhost:6379"}}, load_entry_points=False)
    assert "S3cr3t-PW" not in repr(host.config) and "R3disPW" not in repr(host.config)


@pytest.mark.parametrize("name", ["References", "In-Reply-To"])
@pytest.mark.parametrize(
    "given",
    [
        "<a@example.com>\t<b.c@example.org>",      # a tab turned the list into one encoded word
        "<a@example.com>  <b.c@example.org>",      # so did a double space
        "  <a@example.com>\t \t<b.c@example.org> ",
        "<a@example.com><b.c@example.org>",         # RFC 5322 needs no space between ids
    ],
)
def test_message_id_lists_are_normalised_never_encoded(emailactions_host, emailactions_outbox, name, given):
    emailactions_host.action("external/email", "send", dict(BASE, headers={name: given}))
    raw = emailactions_outbox[0].data
    assert f"{name}: <a@example.com> <b.c@example.org>\r\n".encode() in raw
    assert b"=?" not in raw.split(b"\r\n\r\n")[0]
    assert emailactions_outbox.last[name] == "<a@example.com> <b.c@example.org>"


def test_long_references_fold_between_ids(emailactions_host, emailactions_outbox):
    ids = [f"<{i:04d}.thread.message@mail.example.com>" for i in range(20)]
    emailactions_host.action("external/email", "send", dict(BASE, headers={"References": " ".join(ids)}))
    head = emailactions_outbox[0].data.split(b"\r\n\r\n")[0].decode()
    folded = head[head.index("References:"):].split("\r\nMessage-ID:")[0]
    lines = folded.split("\r\n")
    assert len(lines) > 1 and all(len(line) <= 78 for line in lines)
    # Every break is between two ids, and unfolding gives the list back.
    assert all(line.removeprefix("References: ").strip().startswith("<") and line.endswith(">") for line in lines)
    assert emailactions_outbox.last["References"] == " ".join(ids)


@pytest.mark.parametrize("name", ["References", "In-Reply-To"])
@pytest.mark.parametrize(
    "given",
    [
        "",
        "not a message id",
        "a@example.com",                          # no angle brackets
        "<no-at-sign>",
        "<a@example.com> trailing",
        "<a b@example.com>",
        "=?utf-8?q?=3Ca@example.com=3E?=",
        "<é@example.com>",
    ],
)
def test_values_that_are_not_message_id_lists_are_refused(emailactions_host, emailactions_outbox, name, given):
    err = refused(emailactions_host, emailactions_outbox, dict(BASE, headers={name: given}))
    assert err.param == f"headers.{name}"
    assert "message ids" in err.message
