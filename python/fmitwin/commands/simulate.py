"""``fmitwin simulate model.fmu --stop 10 --step 1e-3 -o out.csv``: simulate one FMU to CSV.

The same command co-simulates a system from an SSP file (``system.ssp`` or ``.ssd``): ``--set``
takes "instance.variable=value" or "input=value" (a system input held constant), ``--input``
columns name system inputs, ``--record`` names system outputs or "instance.variable", and the
defaults come from the SSP's default experiment, with the system inputs it stores (constants
and signals over time; ``--input`` and ``--set`` override them input by input).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

HELP = "Simulate an FMU in the compiled core and write the results as CSV."

# Runs with more communication steps than this show a progress bar (on a terminal).
_PROGRESS_STEPS = 20_000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fmu", help="path to the .fmu file, or a system's .ssp / .ssd file")
    parser.add_argument("--start", type=float, default=None, help="start time (default: FMU's)")
    parser.add_argument("--stop", type=float, default=None, help="stop time (default: FMU's)")
    parser.add_argument("--step", type=float, default=None, help="communication/output step")
    parser.add_argument(
        "--kind", choices=("cs", "me"), default=None, help="co-simulation or model exchange"
    )
    parser.add_argument("--solver", choices=("dopri45", "rk4"), default="dopri45")
    parser.add_argument(
        "--tolerance",
        "--rtol",
        dest="tolerance",
        type=float,
        default=None,
        help="relative tolerance, passed to the FMU (co-simulation) and used by the native "
        "solver (model exchange); default: the FMU's DefaultExperiment tolerance",
    )
    # -o/--output is the file written, as in every fmitwin command; the variables to record
    # keep the attribute name `output` (the library's `outputs=`)
    parser.add_argument(
        "--record",
        "-r",
        dest="output",
        action="append",
        default=None,
        metavar="NAME",
        help="variable to record (repeatable; default: the FMU's outputs)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="start value (repeatable), e.g. --set k=0.5 (an SSP: also an input held constant)",
    )
    parser.add_argument(
        "--input", default=None, metavar="CSV", help="input signals as CSV with a 'time' column"
    )
    parser.add_argument(
        "-o",
        "--output",
        "--out",
        dest="out",
        default=None,
        help="CSV file to write (default: stdout)",
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail when a recorded output is NaN (default: warn and write it)",
    )
    parser.add_argument(
        "--log", action="store_true", help="turn the FMUs' logging on and print it to stderr"
    )
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="run the FMUs in a worker process: a crash becomes an error message",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="with --isolate: stop after S s"
    )


def run(args: argparse.Namespace) -> int:
    from fmitwin.fmu import FmuError
    from fmitwin.run_checks import check_output_file

    if args.log:
        _print_fmu_log()
    try:
        if args.out:
            check_output_file(args.out, inputs=(Path(args.fmu),), argument="-o")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            if args.fmu.lower().endswith((".ssp", ".ssd")):
                result = _simulate_system(args)
            else:
                result = _simulate_fmu(args)
        for warning in caught:
            print(f"fmitwin simulate: warning: {warning.message}", file=sys.stderr)
    except (FmuError, KeyError, ValueError, TypeError, OSError, RuntimeError, MemoryError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"fmitwin simulate: {message}", file=sys.stderr)
        return 1
    frame = result.to_dataframe()
    if args.out:
        frame.to_csv(args.out, float_format="%.17g")
        print(
            f"wrote {len(frame)} rows x {len(frame.columns)} variables to {args.out}",
            file=sys.stderr,
        )
    else:
        frame.to_csv(sys.stdout, float_format="%.17g")
    if result.terminated_by_fmu:
        print(f"note: the FMU ended the simulation at t = {result.time[-1]:g}", file=sys.stderr)
    return 0


def _print_fmu_log() -> None:
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("fmu log: %(message)s"))
    logger = logging.getLogger("fmitwin.fmu")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _show_progress(args: argparse.Namespace, t0: float, t1: float, step: float) -> bool:
    return not args.no_progress and sys.stderr.isatty() and (t1 - t0) / step > _PROGRESS_STEPS


def _simulate_fmu(args: argparse.Namespace):
    import pandas as pd

    from fmitwin.fmi_types import parse_assignments
    from fmitwin.fmu import load_fmu
    from fmitwin.run_checks import experiment_times
    from fmitwin.simulation import simulate

    model = load_fmu(args.fmu)
    t0, t1, step = experiment_times(args.start, args.stop, args.step, **model.experiment_defaults())
    return simulate(
        model,
        t1,
        step,
        start_time=t0,
        inputs=pd.read_csv(args.input) if args.input else None,
        outputs=args.output,
        start_values=parse_assignments(args.set, lambda n: model.variable(n, argument="--set")),
        kind=args.kind,
        solver=args.solver,
        tolerance=args.tolerance,
        strict=args.strict,
        progress=_show_progress(args, t0, t1, step),
        logging=args.log,
        isolate=args.isolate,
        timeout=args.timeout,
    )


def _simulate_system(args: argparse.Namespace):
    import pandas as pd

    from fmitwin.fmi_types import parse_assignments
    from fmitwin.run_checks import experiment_times
    from fmitwin.signals import read_signals
    from fmitwin.simulation import run_tolerance
    from fmitwin.ssp import read_ssp

    if args.kind is not None:
        raise ValueError("--kind: an SSP file names each component's kind; leave --kind out")
    system = read_ssp(args.fmu)
    for instance in system.instances.values():
        instance.logging = args.log
    exp = system.experiment
    t0, t1, step = experiment_times(
        args.start,
        args.stop,
        args.step,
        default_start=exp.get("start_time"),
        default_stop=exp.get("stop_time"),
        default_step=exp.get("step"),
    )
    if args.tolerance is not None:
        for instance in system.instances.values():
            if instance.tolerance is None:
                instance.tolerance = run_tolerance(instance.model, instance.kind, args.tolerance)
    # --set NAME=value on a system input holds that input constant; other names are start values
    given = read_signals(pd.read_csv(args.input) if args.input else None, "--input")
    held = [pair for pair in args.set if pair.partition("=")[0] in system.inputs]
    constants = parse_assignments(held, lambda n: system.variable(system.inputs[n][0]))
    twice = sorted(constants.keys() & given.keys())
    if twice:
        raise ValueError(f"--set {twice[0]}: the --input file gives {twice[0]} too; give it once")
    # the SSP's stored inputs, under --input and --set
    inputs = {**exp.get("inputs", {}), **given, **constants}
    return system.simulate(
        t1,
        step,
        start_time=t0,
        method=exp.get("method", "jacobi"),
        inputs=inputs or None,
        outputs=args.output,
        start_values=parse_assignments(
            [pair for pair in args.set if pair not in held],
            lambda n: _system_variable(system, args.fmu, n),
        ),
        solver=args.solver,
        solver_rtol=args.tolerance if args.tolerance is not None else 1e-6,
        strict=args.strict,
        progress=_show_progress(args, t0, t1, step),
        isolate=args.isolate,
        timeout=args.timeout,
    )


def _system_variable(system, path: str, name: str):
    """The variable "instance.variable" that ``--set name=...`` sets; an unknown name is a
    one-line KeyError listing what can be set: the system inputs and the parameters."""
    import difflib

    try:
        return system.variable(name, argument="--set")
    except (KeyError, ValueError):
        pass
    parameters = [
        f"{inst.name}.{v.name}" for inst in system.instances.values() for v in inst.model.parameters
    ]
    names = {n.lower(): n for n in [*system.inputs, *parameters]}
    close = [names[n] for n in difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.75)]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise KeyError(
        f"--set {name}: {Path(path).name} has no input or variable {name!r}{hint}; "
        f"system inputs: {', '.join(system.inputs) or 'none'}; "
        f"parameters: {', '.join(parameters) or 'none'} (`fmitwin info {path}` lists all)"
    )
