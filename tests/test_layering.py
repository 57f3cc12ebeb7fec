"""The core never imports the CLI or the server: an embedded host loads neither click nor Starlette."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import emailactions

PACKAGE = Path(emailactions.__file__).resolve().parent
#: What only the doors (cli/, server/) may import.
OUTER = ("emailactions.cli", "emailactions.server", "emailactions.frontdoor", "click", "starlette", "uvicorn", "aiosmtpd")
#: ``python -m emailactions`` is the CLI's door, not core code.
DOORS = {"cli", "server", "frontdoor", "__main__.py"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too), relative ones resolved."""
    package = ["emailactions", *path.relative_to(PACKAGE).parent.parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _is_outer(module: str) -> bool:
    return any(module == outer or module.startswith(outer + ".") for outer in OUTER)


def test_core_modules_never_import_the_cli_or_the_server():
    core = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in DOORS]
    assert len(core) > 40  # the walk found the package
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in _imports(path) if _is_outer(m))
        for path in core
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path):
    sample = PACKAGE / "cli" / "common.py"  # a door: it does import click
    assert "click" in _imports(sample)
    nested = ast.parse("def f():\n    from .root import cli\n")
    assert any(isinstance(n, ast.ImportFrom) and n.level == 1 for n in ast.walk(nested))


def test_building_a_host_and_sending_imports_neither_click_nor_starlette():
    code = (
        "import sys, emailactions; "
        "emailactions.ActionHost(None, load_entry_points=False).action('external/email', 'send', "
        "{'from': 'a@example.com', 'to': 'b@example.com', 'subject': 's', 'body': 'b'}); "
        "assert not {'click', 'starlette'} & set(sys.modules), sorted({'click', 'starlette'} & set(sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Subject: s" in proc.stdout  # it did send, on the console transport
