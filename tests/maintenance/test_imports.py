"""The maintenance modules import each other by module, never through the package: importing any
of them first (as ``fmitwin.maintenance.fleet`` once did through ``fmitwin.maintenance``) cannot
meet a half-initialised package."""

import ast
import subprocess
import sys
from pathlib import Path

import fmitwin.maintenance

PACKAGE = Path(fmitwin.maintenance.__file__).parent


def test_no_module_imports_its_own_package():
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "fmitwin.maintenance":
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Import) and any(
                alias.name == "fmitwin.maintenance" for alias in node.names
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_fleet_module_imports_first_in_a_fresh_interpreter():
    code = "import fmitwin.maintenance.fleet as m; print(m.FleetRULEstimator.__name__)"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    assert result.stdout.strip() == b"FleetRULEstimator"
