"""Subcommands of the ``fmitwin`` command line (see fmitwin.cli)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

# The top-level module each optional dependency installs -> the extra that brings it
# (pyproject.toml's [project.optional-dependencies]; tests/test_cli.py keeps the two in step).
EXTRA_OF_MODULE: dict[str, str] = {
    "asyncua": "live",
    "aiomqtt": "live",
    "cryptography": "live",
    "argon2": "live",
    "pint": "live",
    "dask": "dask",
    "distributed": "dask",
    "fastapi": "fleet",
    "uvicorn": "fleet",
    "prometheus_client": "fleet",
    "plotly": "fleet",
    "basyx": "fleet",
    "mkdocs": "docs",
    "material": "docs",
    "mkdocstrings": "docs",
    "mkdocstrings_handlers": "docs",
    "pyarrow": "study",
}


def install_hint(command: str, module: str, extra: str) -> str:
    """The one-line message for a subcommand that needs ``module`` from ``extra``."""
    return f"fmitwin {command}: {module} is not installed; pip install 'fmitwin[{extra}]'"


def missing_extra_message(command: str, exc: ImportError) -> str | None:
    """What to install when ``exc`` is an optional dependency that is not installed, else None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if not isinstance(exc, ModuleNotFoundError) or extra is None:
        return None
    return install_hint(command, top, extra)


def import_extra(module: str, command: str, extra: str) -> ModuleType | None:
    """``module``, or None after telling the user which extra installs what it lacks."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        print(install_hint(command, str(exc.name), extra), file=sys.stderr)
        return None
