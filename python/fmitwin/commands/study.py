"""``fmitwin study study.toml``: run a parameter study described in TOML (schema: fmitwin.study)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Run a parameter sweep or Monte Carlo study described in a TOML file."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="study.toml (schema in `pydoc fmitwin.study`)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="CSV",
        help="write the table here (overrides [output] table; default: print it)",
    )
    parser.add_argument("--workers", type=int, default=None, help="override [execution] workers")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on this Dask scheduler (tcp://host:8786); overrides [execution] scheduler",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PNG",
        help="write a plot of the quantiles over time of every output (overrides [output] plot)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from fmitwin.config_file import ConfigError, locate_keys
    from fmitwin.fmu import FmuError
    from fmitwin.placement import PlacementError
    from fmitwin.study import REQUIREMENT_KEYS, StudyInterrupted, load_study_config, run_study

    try:
        call, outputs = load_study_config(args.config)
    except ConfigError as exc:
        print(f"fmitwin study: {exc}", file=sys.stderr)
        return 2
    if args.workers is not None:
        if args.workers < 0:
            print("fmitwin study: --workers: give 0 (this process) or a pool size", file=sys.stderr)
            return 2
        call["workers"] = args.workers
    if args.scheduler is not None:
        call["scheduler"] = args.scheduler
    if args.plot is not None:
        outputs["plot"] = args.plot
    if args.output is not None:
        outputs["table"] = args.output
    if "plot" in outputs or "save" in outputs or "statistics" in outputs:
        call.setdefault("keep_trajectories", True)
    call["progress"] = not args.no_progress

    def located(key: tuple[str, ...], message: str) -> str:
        line = locate_keys(args.config.read_text(encoding="utf-8")).get(key)
        return str(ConfigError(str(args.config), line, ".".join(key), message))

    if call.get("scheduler") is None and ("requirements" in call or "retries" in call):
        lines = locate_keys(args.config.read_text(encoding="utf-8"))
        key = next(k for k in (*REQUIREMENT_KEYS, "retries") if ("execution", k) in lines)
        message = (
            "placement and retries apply to Dask tasks; set [execution] scheduler or pass "
            "--scheduler, or leave them out to run on the local process pool"
        )
        print(f"fmitwin study: {located(('execution', key), message)}", file=sys.stderr)
        return 2
    try:
        result = run_study(**call)
    except StudyInterrupted as stopped:
        print(f"fmitwin study: {stopped}", file=sys.stderr)
        return 130
    except PlacementError as exc:
        message = str(exc).removeprefix("requirements: ")
        print(f"fmitwin study: {located(('execution',), message)}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        where = ("execution", "scheduler") if args.scheduler is None else None
        message = str(exc).removeprefix("scheduler: ")
        print(
            f"fmitwin study: {located(where, message) if where else 'scheduler: ' + message}",
            file=sys.stderr,
        )
        return 2
    except (FmuError, OSError, KeyError, TypeError, ValueError) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        if message.startswith("results_file: "):
            message = located(("output", "results"), message.removeprefix("results_file: "))
        else:
            message = f"{args.config}: {message}"
        print(f"fmitwin study: {message}", file=sys.stderr)
        return 1
    table = outputs.get("table")
    failed = len(result.failed)
    if table:
        result.table.to_csv(table, index=False, float_format="%.17g")
        print(f"wrote {table} ({len(result.table)} runs, {result.resumed} resumed)")
    else:
        print(result.table.to_string(index=False))
    if failed:
        print(
            f"{failed} of {len(result.table)} runs failed (see the error column); first: "
            f"run {result.failed['run'].iloc[0]}: {result.failed['error'].iloc[0]}",
            file=sys.stderr,
        )
        if failed == len(result.table):
            return 1
    try:
        if "statistics" in outputs:
            result.statistics().to_csv(outputs["statistics"], float_format="%.17g")
            print(f"wrote {outputs['statistics']}")
        if "save" in outputs:
            print(f"wrote {result.save(outputs['save'])} (Parquet)")
        if "plot" in outputs:
            result.plot(outputs["plot"])
            print(f"wrote {outputs['plot']}")
    except (ImportError, OSError, ValueError) as exc:
        print(f"fmitwin study: {exc}", file=sys.stderr)
        return 1
    return 0
