"""The library stands on its own: it imports no CLI module, and its modules import each other
in one direction (no cycles), checked by running each import in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fmitwin

PACKAGE = Path(fmitwin.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every fmitwin module ``path`` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fmitwin"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("fmitwin"))
    return names


def _module(path: Path) -> str:
    return ".".join(("fmitwin", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    )


def test_the_library_imports_no_cli_module():
    library = [p for p in PACKAGE.rglob("*.py") if "commands" not in p.parts]
    offenders = {
        _module(p): sorted(
            m for m in _imports(p) if m.startswith(("fmitwin.commands", "fmitwin.cli"))
        )
        for p in library
        if p.name not in ("cli.py", "__main__.py")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_system_and_ssp_import_in_one_direction():
    assert "fmitwin.ssp" not in _imports(PACKAGE / "system.py")
    assert "fmitwin.system" in _imports(PACKAGE / "ssp.py")


def test_fmu_summary_works_without_loading_the_cli(tank):
    code = (
        "import sys, fmitwin, fmitwin.models\n"
        f"m = fmitwin.load_fmu(fmitwin.models.path('heated_tank', {tank.fmi_major}))\n"
        "text = m.summary()\n"
        "assert 'States (1): T [K]' in text, text\n"
        "assert not [n for n in sys.modules if n.startswith('fmitwin.commands')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
