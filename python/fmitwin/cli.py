"""The ``fmitwin`` command line: one subcommand per module in ``fmitwin.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from fmitwin import __version__
from fmitwin.commands import missing_extra_message

# subcommand -> module in fmitwin.commands; each module defines
#   HELP: str, configure(parser: argparse.ArgumentParser) -> None, run(args) -> int
_COMMANDS: dict[str, str] = {
    "demo": "demo",
    "info": "info",
    "simulate": "simulate",
    "study": "study",
    "plant": "plant",
    "run": "run",
    "certs": "certs",
    "passwd": "passwd",
    "rul": "rul",
    "report": "report",
    "init": "init",
    "fleet": "fleet",
    "serve": "serve",
    "aas": "aas",
    "bench": "bench",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmitwin",
        description="Digital twins of real machines: FMU physics, Kalman estimation, "
        "co-simulation, live plant coupling and predictive maintenance.",
    )
    parser.add_argument("--version", action="version", version=f"fmitwin {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _COMMANDS.items():
        module = importlib.import_module(f"fmitwin.commands.{module_name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        # An optional extra the command needs is not installed: say which, not a traceback.
        message = missing_extra_message(args.command, exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`fmitwin info x.fmu | head`): silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
