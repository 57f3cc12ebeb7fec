"""FreeMarker vs Jinja2 on the same template: render time per message (target <= 1.5x).

The FreeMarker engine translates to Jinja source and runs in the same sandbox,
so the ratio is the cost of its built-ins and output conversion.

    python benchmarks/bench_freemarker.py
"""

from __future__ import annotations

import time

from emailactions.engines.base import plain_data
from emailactions.engines.freemarker import FreeMarkerEngine
from emailactions.engines.jinja import JinjaEngine

FREEMARKER = """<p>Hello ${user.firstName!"there"},</p>
[#if user.verified]<p>Your account is verified.</p>[#else]<p>Please verify ${user.email?html}.</p>[/#if]
<ul>
[#list requestData.items as item]
  <li>${item.name}: ${item.quantity} x ${item.price}</li>
[/#list]
</ul>
<a href="https://example.com/change/${changePasswordId}?client_id=${(application.clientId)!''}">Change</a>
"""
JINJA = """<p>Hello {{ object.user.firstName or "there" }},</p>
{% if object.user.verified %}<p>Your account is verified.</p>{% else %}<p>Please verify {{ object.user.email }}.</p>{% endif %}
<ul>
{% for item in object.requestData['items'] %}
  <li>{{ item.name }}: {{ item.quantity }} x {{ item.price }}</li>
{% endfor %}
</ul>
<a href="https://example.com/change/{{ object.changePasswordId }}?client_id={{ object.application.clientId or '' }}">Change</a>
"""
DATA = {
    "user": {"firstName": "Hilda", "email": "hilda@example.com", "verified": False},
    "requestData": {"items": [{"name": f"item {i}", "quantity": i, "price": f"{i}.50"} for i in range(10)]},
    "changePasswordId": "abc123",
    "application": {"clientId": "client-1"},
}


def bench(engine, source, rounds=3000):
    plain, paths = plain_data(DATA)
    context = {"object": plain}
    engine.render(source, context, html=True, part="html", locale="en", paths=paths)  # compile once
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            engine.render(source, context, html=True, part="html", locale="en", paths=paths)
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def main() -> None:
    jinja = bench(JinjaEngine(), JINJA)
    freemarker = bench(FreeMarkerEngine(), FREEMARKER)
    print(f"jinja2     {jinja * 1e6:8.1f} us per render")
    print(f"freemarker {freemarker * 1e6:8.1f} us per render")
    print(f"ratio      {freemarker / jinja:8.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
