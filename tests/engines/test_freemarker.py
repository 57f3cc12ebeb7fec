"""FreeMarkerEngine: the shared contract, templates in FusionAuth's style, the subset, the sandbox."""

from __future__ import annotations

import time

import pytest

from emailactions.engines.base import RenderLimits, plain_data
from emailactions.engines.freemarker import FreeMarkerEngine
from emailactions.errors import RenderError
from support.engine_contract import EngineContract



class TestFreeMarkerContract(EngineContract):
    engine_cls = FreeMarkerEngine
    snippets = {
        "var": "Hello ${object.name}",
        "raw": "${object.name?no_esc}",
        "missing": "[${object.nope}]",
        "loop_missing": "<#list object.people as p>${p.sn}</#list>",
        "loop": "<#list object.list as x>[${x}]</#list>",
        "if": "<#if object.flag>yes<#else>no</#if>",
        "people": "<#list object.people as p>${p.givenName},</#list>",
        "date": '${object.when?date?string("long")}',
        "currency": '${object.amount?format_currency("EUR")}',
        "number": '${object.amount?string(",##0.00")}',
        "bad_date": "${object.name?date}",
        "syntax_error": "<#if object.flag>never closed",
        "dunder": "${object.name.__class__}${object.list.__class__}${object.items}${object.name['upper']}",
        "loop_bomb": "<#list object.big as a><#list object.big as b><#list object.big as c></#list></#list></#list>",
        "output_bomb": "<#list object.big as a>${object.long}</#list>",
        "open_block": "<#if object.flag>",
        "close_block": "</#if>",
    }


def render(source, data=None, *, html=True, locale="en", limits=None):
    plain, paths = plain_data({"user": {"username": "john"}} if data is None else data)
    return FreeMarkerEngine(limits).render(source, {"object": plain}, html=html, part="html" if html else "text", locale=locale, paths=paths)


# -- templates in the style of FusionAuth's shipped defaults ------------------------------
# FusionAuth's 21 shipped default templates were checked to compile and render when this engine
# was written; they are not copied here. These are our own, in the same constructs.

USER = {"email": "jo+x@example.com", "tenantId": "t-1", "verified": False, "username": "jo"}
DATA = {
    "user": USER, "tenant": {"id": "t-1"}, "application": {"oauthConfiguration": {"clientId": "c-1"}},
    "changePasswordId": "cp-1", "verificationId": "v-1", "code": "123456", "baseUrl": "https://auth.example.com",
    "registration": {"verified": False}, "state": {"redirect_uri": "https://app.example.com/a b", "tenantId": "skip"},
    "method": {"method": "sms", "id": "m-1", "name": "Phone"}, "event": {"type": "UserLoginNewDevice", "info": {"ipAddress": "10.0.0.1"}},
}  # fmt: skip

SIGNATURE = "- The emailactions team"
OWN = {
    "change-password.txt": """[#setting url_escaping_charset="UTF-8"]
Someone asked to change the password of this account. Follow this link to choose a new one.

[#-- the query string carries the application, the tenant and where to go back to --]
[#if state?? && state.redirect_uri??]
${baseUrl}/password/change/${changePasswordId}?client_id=${(application.oauthConfiguration.clientId)!''}&tenantId=${user.tenantId}&redirect_uri=${state.redirect_uri?url}
[#else]
${baseUrl}/password/change/${changePasswordId}?client_id=${(application.oauthConfiguration.clientId)!''}&tenantId=${user.tenantId}
[/#if]

- The emailactions team
""",
    "breached-password.html": """[#setting url_escaping_charset="UTF-8"]
[#assign url = "${baseUrl}/password/forgot?client_id=${(application.oauthConfiguration.clientId)!''}&email=${user.email?url}&tenantId=${user.tenantId}" /]
<p>A password used on this account appears in a public list of breached passwords. Please choose another.</p>
<p><a href="${url?html}">${url?html}</a></p>
<p>- The emailactions team</p>
""",
    "threat-detected.html": """<p>We noticed [#if event.type == "UserLoginNewDevice"]a sign-in from a new device[#else]unusual activity[/#if] on your account.</p>
<p><strong>IP address:</strong> ${(event.info.ipAddress)!'&mdash;'}</p>
<p><strong>City:</strong> ${(event.info.location.city)!'&mdash;'}</p>
<p>- The emailactions team</p>
""",
    "two-factor-removed.html": """<p>Your [#if method.method == "sms"]SMS[#else]${method.method?cap_first}[/#if] two-factor method, ${method.name}, was removed from ${user.email}.</p>
<p>- The emailactions team</p>
""",
    "email-verification.txt": """[#if verificationOneTimeCode??]
Your verification code is ${verificationOneTimeCode}.
[#else]
To verify your email address, click on the following link.
${baseUrl}/email/verify/${verificationId}?tenantId=${user.tenantId}
[/#if]

- The emailactions team
""",
    "registration-verification.html": """<#if registration.verified>
<p>Your registration is already verified.</p>
<#else>
<p>Confirm your registration with code <b>${code}</b> for <#list [user.username, user.email] as who>${who}<#sep>, </#list>.</p>
</#if>
<p>- The emailactions team</p>
""",
}


@pytest.mark.parametrize("name", sorted(OWN))
def test_fusionauth_style_templates_render(name):
    rendered = render(OWN[name], DATA, html=".html" in name)
    assert SIGNATURE in rendered.text
    assert "${" not in rendered.text and "[#" not in rendered.text and "<#" not in rendered.text


def test_fusionauth_style_templates_render_fusionauth_data():
    text = render(OWN["change-password.txt"], DATA, html=False).text
    assert "https://auth.example.com/password/change/cp-1?client_id=c-1&tenantId=t-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fa%20b" in text
    # Lines holding only tags ([#setting], [#--...--], [#if], [#else], [/#if]) are dropped, as FreeMarker does.
    assert text.startswith("Someone asked to change the password of this account. Follow this link to choose a new one.\n\nhttps://")
    html = render(OWN["breached-password.html"], DATA).text
    # ?html escapes once; the auto-escaping of HTML parts does not escape it again.
    assert 'href="https://auth.example.com/password/forgot?client_id=c-1&amp;email=jo%2Bx%40example.com&amp;tenantId=t-1"' in html
    threat = render(OWN["threat-detected.html"], DATA).text
    assert "a sign-in from a new device" in threat and "10.0.0.1" in threat and "<strong>City:</strong> &mdash;" in threat
    removed = render(OWN["two-factor-removed.html"], DATA).text
    assert "Your SMS two-factor method, Phone, was removed from jo+x@example.com" in removed
    code = render(OWN["email-verification.txt"], {**DATA, "verificationOneTimeCode": "XYZ"}, html=False).text
    assert "XYZ" in code and "click on the following link" not in code
    registration = render(OWN["registration-verification.html"], DATA).text
    assert "<b>123456</b> for jo, jo+x@example.com." in registration


def test_the_documented_example_per_locale():
    assert render("<p>Hallo ${user.username}</p>").text == "<p>Hallo john</p>"
    assert render("Hello ${user.username},\nWelcome To FusionAuth!", html=False).text == "Hello john,\nWelcome To FusionAuth!"


# -- the subset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${user['username']}", "john"),
        ('${nope!"anon"} ${(user.nope.deeper)!"x"} ${nope!}|', "anon x |"),
        ("${user.username???c} ${nope???c} ${(user.a.b)???c}", "true false false"),
        ("${user.username?upper_case} ${'ÉCOLE'?lower_case} ${'hi there'?cap_first} ${' x '?trim}|", "JOHN école Hi there x|"),
        ("${'a b&c'?url} ${'say \"hi\"'?js_string} ${'<b>'?html}", "a%20b%26c say \\&#34;hi\\&#34; &lt;b&gt;"),
        ("${''?has_content?c} ${[1,2]?size} ${'abc'?length} ${3?string} ${true?c} ${1234567?c}", "false 2 3 3 true 1234567"),
        ("${'12.5'?number + 1} ${true?string('yes', 'no')}", "13.5 yes"),
        ("<#if user.username == 'john'>a<#elseif 1 gt 0>b<#else>c</#if>", "a"),
        ("[#if user.username != 'john']a[#elseif (1 > 0)]b[#else]c[/#if]", "b"),
        ("<#list ['a','b','c'] as x>${x?index}:${x?counter}:${x}<#sep>, </#list>", "0:1:a, 1:2:b, 2:3:c"),
        ("<#list ['a','b'] as x>${x}<#if x?has_next>+</#if></#list>", "a+b"),
        ("<#list [] as x>${x}<#else>none</#list>", "none"),
        ('<#list {"k": 1} as key, value>${key}=${value}</#list>', "k=1"),
        ("<#assign n = 1><#list [1,2,3] as x><#assign n = n + x></#list>${n}", "7"),
        ('<#assign greeting = "Hi ${user.username}" />${greeting}', "Hi john"),
        ("a<#-- a comment -->b[#-- another --]c", "abc"),
        ("{{ user }} {% x %} {# y #}", "{{ user }} {% x %} {# y #}"),
        ("${1234.5}", "1,234.5"),
        ("<#ftl>${'x'}", "x"),
    ],
)
def test_subset(source, expected):
    assert render(source).text == expected


def test_date_builtins_use_the_resolved_locale():
    data = {"when": "2024-03-01", "at": 1709294400000}
    assert render("${when?date?string('long')}", data, locale="de").text == "1. März 2024"
    assert render("${when?date}", data, locale="fr").text == "1 mars 2024"
    assert "2024" in render("${at?datetime}", data, locale="en").text
    assert render("${'01/03/2024'?date('dd/MM/yyyy')?string('yyyy-MM-dd')}", data).text == "2024-03-01"


def test_escaping_follows_the_part():
    data = {"name": "<b>&"}
    assert render("${name}", data).text == "&lt;b&gt;&amp;"
    assert render("${name}", data, html=False).text == "<b>&"
    assert render("${name?html}", data).text == "&lt;b&gt;&amp;"  # not escaped twice
    assert render("${name?no_esc}", data).text == "<b>&"


def test_tag_only_lines_are_stripped():
    source = "a\n  <#if true>\nb\n  </#if>\nc\n"
    assert render(source).text == "a\nb\nc\n"


def test_missing_values_render_empty_and_defaults_are_not_missing():
    rendered = render("${user.firstName}|${(application.name)!'App'}|${tenant???c}", {"user": {}})
    assert rendered.text == "|App|false"
    assert rendered.missing == ["object.user.firstName"]


def test_compile_errors_name_the_construct_and_line():
    for source, words in [
        ("a\n<#macro m></#macro>", ("<#macro>", "line 2")),
        ("a\nb\n${x?eval}", ("?eval", "line 3")),
        ("<@my.directive />", ("<@...>",)),
        ("${x.y()}", ("method calls",)),
        ("${x?frobnicate}", ("?frobnicate",)),
        ("<#if x>a</#list>", ("</#list>",)),
        ("#{x}", ("#{",)),
        ("<#setting locale='de'>", ("setting locale",)),
        ("${1..3}", ("ranges",)),
    ]:
        with pytest.raises(RenderError) as info:
            render(source)
        for word in words:
            assert word in info.value.message, (source, info.value.message)


def test_booleans_and_hashes_are_not_printed_silently():
    with pytest.raises(RenderError, match="boolean"):
        render("${true}")
    with pytest.raises(RenderError, match="hash"):
        render("${user}")


# -- hostile templates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        '${"freemarker.template.utility.Execute"?new()("id")}',
        "${user?api.getClass()}",
        '${"1+1"?eval}',
        '${"${1}"?interpret}',
        '<#include "/etc/passwd">',
        '<#import "lib.ftl" as lib>',
        "${user.username.getClass()}",
        "${object.__class__.__mro__}",
        "<#macro m>${m}</#macro>",
        "<#visit x>",
    ],
)
def test_no_way_out_of_the_sandbox(source):
    try:
        text = render(source).text
    except RenderError:
        return
    assert "class" not in text and "0x" not in text and text.strip() == ""


@pytest.mark.parametrize(
    "source",
    [
        "<#assign s = 'ab'><#list 1..60 as i><#assign s = s + s></#list>",
        "<#assign s = 'ab'><#list object.big as i><#assign s = s + s></#list>${s}",
        "<#assign v = ['x']><#list object.big as i><#assign v = [v, v]></#list>${v?size}",
        "${'x'?left_pad(1000000000)}",
        "${'a' * 1000000000}",
        "${'aaaa'?replace('a', object.long)?replace('a', object.long)?replace('x', object.long)}",
        "<#list object.big as a><#list object.big as b><#list object.big as c>${c}</#list></#list></#list>",
        "<#assign n = 3><#list object.big as i><#assign n = n * n></#list>",
    ],
)
def test_amplifiers_fail_fast_with_a_render_error(source):
    start = time.monotonic()
    with pytest.raises(RenderError) as info:
        render(source, {"big": list(range(300)), "long": "a" * 1000}, limits=RenderLimits(max_work=500_000))
    assert info.value.code == 400
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(
    "source",
    ["${" + "(" * 200 + "1" + ")" * 200 + "}", "${" + "!" * 500 + "true}", "${x" + "?trim" * 3000 + "}", "<#if x>" * 100],
)
def test_deep_or_long_sources_are_a_render_error(source):
    with pytest.raises(RenderError):
        render(source)


def test_data_keys_named_like_methods_are_data():
    assert render("${d.items} ${d.keys} ${s.upper!'-'}", {"d": {"items": "i", "keys": "k"}, "s": "x"}).text == "i k -"
