"""``fmitwin info model.fmu``: a readable summary of an FMU (interfaces, experiment, variables)."""

from __future__ import annotations

import argparse
import sys

HELP = "Describe an FMU: FMI version, interfaces, capabilities, default experiment and variables."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fmu", help="path to the .fmu file (or an extracted FMU directory)")


def run(args: argparse.Namespace) -> int:
    from fmitwin.fmu import FmuError, load_fmu

    try:
        model = load_fmu(args.fmu, require_binary=False)
    except (FmuError, FileNotFoundError) as exc:
        print(f"fmitwin info: {exc}", file=sys.stderr)
        return 1
    print(model.summary())
    return 0
