"""Whatever params ``send`` gets, it answers with a result or one of the library's own errors."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emailactions import ActionHost, EmailActionsError
from emailactions.params.attachments import _KEYS as ATTACHMENT_KEYS
from emailactions.params.send import EXTRA_HEADERS, SEND_PARAMS

# Any code point, lone surrogates and controls included, and characters that
# matter to mail syntax, so that generated text often looks like an address,
# an encoded word or a message id.
_chars = st.one_of(st.characters(), st.sampled_from(list('<>@"\\,;:()=?.\r\n\t \u200c\u200d\u202e\ud800\x00é用')))
_text = st.one_of(
    st.text(_chars, max_size=40),
    st.sampled_from([
        "", "a@example.com", "Ann <ann@example.com>", "tó@example.com", "a@ශ්\u200dරී.lk", "a@xn--mgba3gch31f060k.ir",
        "=?utf-8?q?evil.exe?=", "=?utf-8?b?DQpCY2M6IGVAZXZpbC50ZXN0?=", "<a@example.com>\t<b@example.com>",
        "text/html", "text/plain", "true", "billing", "logo@example.com", "aGVsbG8=", "\ud800@example.com",
    ]),
    st.builds(lambda parts: "".join(parts), st.lists(st.sampled_from(["a", "@", "example.com", "<", ">", " ", ",", "\"", "é", "=?", "?="]), max_size=12)),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "😀", "\ud800", " ", "<a@b.c>"]), st.integers(0, 5000)),
)
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), _text,
    st.binary(max_size=64), st.sampled_from([b"\x00\xff", float("inf"), 10**400, object(), Ellipsis]),
)
_any = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(st.one_of(_text, st.integers()), inner, max_size=4),
), max_leaves=12)
_attachment = st.one_of(
    _any,
    st.dictionaries(st.sampled_from(sorted(ATTACHMENT_KEYS) + ["path"]), st.one_of(_any, st.just("aGVsbG8="), st.just(b"\x89PNG")), max_size=6),
)
_headers = st.one_of(_any, st.dictionaries(st.one_of(st.sampled_from(sorted(EXTRA_HEADERS.values()) + ["Bcc", "X-Evil"]), _text), st.one_of(_text, _any), max_size=4))
_param_values = {
    "attachments": st.one_of(_any, st.lists(_attachment, max_size=3)),
    "headers": _headers,
}
_names = sorted({alias for aliases in SEND_PARAMS.values() for alias in aliases} | {"unknown", "_private"})
_params = st.one_of(
    _any,
    st.lists(st.sampled_from(_names), unique=True, max_size=8).flatmap(
        lambda names: st.fixed_dictionaries({name: _param_values.get(name.lstrip("_"), _any) for name in names})
    ),
)


@pytest.fixture(scope="module")
def host():
    host = ActionHost({
        "email": {"from": "openidm@example.com"},
        "groups": {"billing": ["Ann <ann@example.com>", "bob@example.com"]},
        "transports": {"default": {"backend": "memory"}},
        "rate_limits": {"enabled": False},  # thousands of sends to the same few addresses
    }, load_entry_points=False)
    yield host
    host.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(params=_params)
def test_send_raises_nothing_but_the_librarys_own_errors(host, params):
    outbox = host.transport().outbox
    before = len(outbox)
    try:
        result = host.action("external/email", "send", params)
    except EmailActionsError as exc:
        assert exc.code < 500, exc.to_dict()  # a refusal of the params, not an internal failure
        assert len(outbox) == before, "nothing may be sent after a refusal"
        return
    assert result["status"] == "OK"
    for message in outbox[before:]:
        message.parsed()
    del outbox[:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_text, min_size=1, max_size=3), data=st.binary(max_size=32))
def test_any_attachment_name_is_refused_or_read_back_as_sent(host, names, data):
    attachments = [{"filename": name, "data": base64.b64encode(data).decode()} for name in names]
    try:
        host.action("external/email", "send", {"to": "a@example.com", "attachments": attachments})
    except EmailActionsError as exc:
        assert exc.code == 400 and exc.to_dict()["detail"]["param"].startswith("attachments[")
        return
    outbox = host.transport().outbox
    message = outbox.pop()
    del outbox[:]
    from emailactions.params.attachments import safe_filename

    shown = [part.get_filename() for part in message.parsed().iter_attachments()]
    assert shown == [safe_filename(name) for name in names]
