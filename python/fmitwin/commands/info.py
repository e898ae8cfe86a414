"""``fmitwin info model.fmu``: a readable summary of an FMU (interfaces, experiment, variables),
or of a system's SSP file (components, connections, parameter values, inputs and outputs)."""

from __future__ import annotations

import argparse
import sys

HELP = (
    "Describe an FMU (FMI version, interfaces, capabilities, default experiment, variables) "
    "or an SSP system (components, connections, parameters, inputs, outputs)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "fmu", help="path to the .fmu file (or an extracted FMU directory), or a .ssp / .ssd file"
    )


def run(args: argparse.Namespace) -> int:
    from fmitwin.fmu import FmuError, load_fmu

    try:
        if args.fmu.lower().endswith((".ssp", ".ssd")):
            from fmitwin.ssp import read_ssp

            model = read_ssp(args.fmu)
        else:
            model = load_fmu(args.fmu, require_binary=False)
    except (FmuError, FileNotFoundError, ValueError) as exc:
        print(f"fmitwin info: {exc}", file=sys.stderr)
        return 1
    print(model.summary())
    return 0
