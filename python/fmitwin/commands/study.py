"""``fmitwin study study.toml``: run a parameter study described in TOML (schema: fmitwin.study)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Run a parameter sweep or Monte Carlo study described in a TOML file."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="study.toml (schema in `pydoc fmitwin.study`)")
    parser.add_argument("--workers", type=int, default=None, help="override [execution] workers")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import tomllib

    from fmitwin.study import load_study_config, run_study

    try:
        with args.config.open("rb") as f:
            config = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"fmitwin study: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    try:
        call, outputs = load_study_config(config, args.config.parent)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"fmitwin study: {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.workers is not None:
        call["workers"] = args.workers
    call["progress"] = not args.no_progress
    result = run_study(**call)
    table = outputs.get("table")
    if table:
        result.table.to_csv(table, index=False, float_format="%.17g")
        print(f"wrote {table} ({len(result.table)} runs, {result.resumed} resumed)")
    else:
        print(result.table.to_string(index=False))
    statistics = outputs.get("statistics")
    if statistics:
        result.statistics().to_csv(statistics, float_format="%.17g")
        print(f"wrote {statistics}")
    return 0
