"""Subcommands of the ``fmitwin`` command line (see fmitwin.cli)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_extra(module: str, command: str, extra: str) -> ModuleType | None:
    """``module``, or None after telling the user which extra installs what it lacks."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        print(
            f"fmitwin {command}: {exc.name} is not installed; pip install 'fmitwin[{extra}]'",
            file=sys.stderr,
        )
        return None
