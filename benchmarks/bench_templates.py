"""Compile and render cost of each template engine, as ratios against its raw library.

Run: ``python benchmarks/bench_templates.py [--quick]``

Baselines run in the same process on the same template and data:
pybars3's own ``Compiler().compile`` and render function (unhardened), and a
plain ``jinja2.Environment(autoescape=True)`` (no sandbox; trailing newline kept as ours does). The ratio is what
the hardening costs: validation, safe lookups, budgets, the sandbox's checks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from emailactions.engines.base import plain_data  # noqa: E402
from emailactions.engines.handlebars import HandlebarsEngine  # noqa: E402
from emailactions.engines.jinja import JinjaEngine  # noqa: E402

DATA = {
    "givenName": "Hilda",
    "sn": "Gale",
    "userName": "hgale815",
    "country": "FR",
    "manager": {"givenName": "Sam", "sn": "Carter"},
    "roles": [{"name": f"role-{i}", "description": f"Role number {i} & friends"} for i in range(10)],
    "flag": True,
}

_ROW_HBS = "<tr><td>{{name}}</td><td>{{description}}</td>{{#if @first}}<td>first</td>{{/if}}</tr>\n"
_ROW_J2 = "<tr><td>{{ r.name }}</td><td>{{ r.description }}</td>{% if loop.first %}<td>first</td>{% endif %}</tr>\n"
_HEAD = '<html><head><style>body { font-family: sans-serif; } td { padding: 4px; }</style></head><body>\n'
_PAD = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12 + "</p>\n"

HANDLEBARS = (
    _HEAD
    + "<p>Hello {{object.givenName}} {{object.sn}} ({{object.userName}}),</p>\n"
    + "{{#if object.flag}}<p>Your manager is {{object.manager.givenName}} {{object.manager.sn}}.</p>{{else}}<p>No manager.</p>{{/if}}\n"
    + _PAD
    + "<table>{{#each object.roles}}" + _ROW_HBS + "{{/each}}</table>\n"
    + "{{#with object.manager}}<p>{{givenName}}</p>{{/with}}</body></html>\n"
)
JINJA = (
    _HEAD
    + "<p>Hello {{ object.givenName }} {{ object.sn }} ({{ object.userName }}),</p>\n"
    + "{% if object.flag %}<p>Your manager is {{ object.manager.givenName }} {{ object.manager.sn }}.</p>{% else %}<p>No manager.</p>{% endif %}\n"
    + _PAD
    + "<table>{% for r in object.roles %}" + _ROW_J2 + "{% endfor %}</table>\n"
    + "{% with m = object.manager %}<p>{{ m.givenName }}</p>{% endwith %}</body></html>\n"
)


def best(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """CPU seconds per call: the best of ``repeat`` runs of ``number`` calls
    (CPU time: a shared machine descheduling this process adds none)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            fn()
        times.append((time.process_time() - start) / number)
    return min(times)


def paired(ours: Callable[[], Any], raw: Callable[[], Any], number: int, repeat: int) -> tuple[float, float]:
    """Best seconds per call of each, batches alternating: on a shared machine
    both then see the same moments of load, and the ratio holds still."""
    best_ours = best_raw = float("inf")
    for _ in range(repeat):
        best_ours = min(best_ours, best(ours, number, 1))
        best_raw = min(best_raw, best(raw, number, 1))
    return best_ours, best_raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    scale = 1 if args.quick else 5

    import jinja2
    import pybars

    plain, paths = plain_data(DATA)
    context = {"object": plain}

    hbs = HandlebarsEngine()
    jj = JinjaEngine()
    raw_hbs = pybars.Compiler().compile(HANDLEBARS)
    raw_env = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    raw_jj = raw_env.from_string(JINJA)

    # Same output, or the comparison means nothing.
    ours_h = hbs.render(HANDLEBARS, context, html=True, part="html", locale="en", paths=paths).text
    assert ours_h == raw_hbs(context), "handlebars output differs from pybars3's"
    ours_j = jj.render(JINJA, context, html=True, part="html", locale="en", paths=paths).text
    assert ours_j == raw_jj.render(context), "jinja output differs from jinja2's"

    rows = []
    # Compile: bypass the cache (compile_source) on both sides.
    rows.append(("handlebars", "compile",
                 best(lambda: hbs.compile_source(HANDLEBARS, html=True), 2 * scale, 3),
                 best(lambda: pybars.Compiler().compile(HANDLEBARS), 2 * scale, 3)))  # fmt: skip
    rows.append(("jinja2", "compile",
                 best(lambda: jj.compile_source(JINJA, html=True), 10 * scale, 3),
                 best(lambda: raw_env.from_string(JINJA), 10 * scale, 3)))  # fmt: skip
    # Render: ours goes through render() (cache hit, budget, checks) like sendTemplate does.
    rows.append(("handlebars", "render",
                 *paired(lambda: hbs.render(HANDLEBARS, context, html=True, part="html", locale="en", paths=paths),
                         lambda: raw_hbs(context), 40 * scale, 25)))  # fmt: skip
    rows.append(("jinja2", "render",
                 *paired(lambda: jj.render(JINJA, context, html=True, part="html", locale="en", paths=paths),
                         lambda: raw_jj.render(context), 40 * scale, 25)))  # fmt: skip
    copy = best(lambda: plain_data(DATA), 500 * scale, 5)

    print(f"template: {len(HANDLEBARS)} chars (handlebars), {len(JINJA)} chars (jinja2); python {sys.version.split()[0]}")
    print(f"{'engine':<12}{'step':<9}{'ours':>12}{'raw library':>14}{'ratio':>8}")
    for engine, step, ours, raw in rows:
        print(f"{engine:<12}{step:<9}{ours * 1e3:>9.3f} ms{raw * 1e3:>11.3f} ms{ours / raw:>7.2f}x")
    print(f"plain_data() copy of the object (once per sendTemplate, both engines): {copy * 1e6:.1f} us")
    ratios = [ours / raw for _, _, ours, raw in rows]
    print(f"median ratio {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
