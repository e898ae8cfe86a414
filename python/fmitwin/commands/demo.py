"""``fmitwin demo``: a bundled FMU plant, its twin and its remaining life; a table and a PNG."""

from __future__ import annotations

import argparse
import time
from typing import Any

HELP = (
    "Run the tour: a heated-tank FMU whose insulation wears, a noisy probe with dropouts and "
    "spikes, the FMU-backed EKF tracking temperature and the unmeasured UA, and the remaining "
    "life with its interval; print a table and write a PNG."
)


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give a non-negative integer, e.g. 0")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=["tank", "pendulum"],
        default="tank",
        help="tank: the heated-tank FMU twin (default); pendulum: the EKF on a native C++ "
        "pendulum model, no FMU",
    )
    parser.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--days", type=float, default=14.0, help="tank: days of plant time (default: 14)"
    )
    parser.add_argument(
        "--fmi", type=int, choices=[2, 3], default=2, help="tank: FMI version (default: 2)"
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="pendulum: seconds (default: 20)"
    )
    parser.add_argument(
        "-o", "--output", default="fmitwin-demo.png", help="PNG plot path (default: %(default)s)"
    )
    parser.add_argument("--no-plot", action="store_true", help="print the table only")


def _add_row(table: Any, *cells: str) -> None:
    """A table row taken literally: units in brackets are not rich markup."""
    from rich.markup import escape

    table.add_row(*map(escape, cells))


def _tank(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from fmitwin import demo

    started = time.perf_counter()
    result = demo.run(seed=args.seed, days=args.days, fmi_version=args.fmi)
    elapsed = time.perf_counter() - started
    days = result.days[-1]
    table = Table(
        title=f"fmitwin demo: {result.fmu.name} (FMI {args.fmi}.0), "
        f"{days:g} days of a wearing tank",
        title_justify="left",
        caption=f"UA: heat-loss coefficient, not measured; end of life at UA = "
        f"{demo.UA_LIMIT:.0f} W/K, where the {demo.HEATER_RATING / 1000:g} kW heater can no "
        f"longer hold {demo.SET_POINT - 273.15:.0f} °C. Scores after day "
        f"{demo.SETTLING_TIME / demo.DAY:g}.",
        caption_justify="left",
    )
    table.add_column("")
    table.add_column("plant (truth)", justify="right")
    table.add_column("twin (FMU-backed EKF)", justify="right")
    _add_row(
        table,
        f"UA at day {days:g} [W/K]",
        f"{result.true_ua[-1]:.2f}",
        f"{result.estimates[-1, 1]:.2f} ± {3 * result.std[-1, 1]:.2f} (3σ)",
    )
    _add_row(table, "UA inside its 3σ band", "", f"{100 * result.ua_coverage:.1f} % of the time")
    _add_row(table, "UA RMS error [W/K]", "", f"{result.ua_rms_error:.2f}")
    _add_row(
        table,
        "temperature RMS error [K]",
        f"probe σ {demo.PROBE_SIGMA:g}",
        f"{result.temperature_rms_error:.3f}",
    )
    _add_row(
        table, "probe samples missing", f"{result.missing.sum()}", f"{result.missing.sum()} skipped"
    )
    spikes, gated = result.spikes.sum(), result.gated
    _add_row(
        table,
        "probe spikes (3-10 K)",
        f"{spikes}",
        f"{(gated & result.spikes).sum()} gated, +{(gated & ~result.spikes).sum()} clean",
    )
    low, high = result.rul_interval
    _add_row(
        table,
        "remaining life [days]",
        f"{result.true_rul:.1f}",
        f"{result.rul.median:.1f}, {100 * demo.RUL_LEVEL:.0f} % in [{low:.1f}, {high:.1f}]",
    )
    Console().print(table)
    print(f"FMU: {result.fmu}")
    print(f"simulated, filtered and forecast in {elapsed:.1f} s")
    if not args.no_plot:
        print(f"plot written to {demo.plot(result, args.output)}")


def _pendulum(args: argparse.Namespace) -> None:
    from fmitwin import demo

    result = demo.pendulum_run(duration=args.duration, seed=args.seed)
    print(
        "Extended Kalman filter (C++ core) on a damped pendulum: angle encoder and gyro at 50 Hz,"
        " gyro dropouts and spikes; the damping rate is not measured."
    )
    print(demo.pendulum_table(result))
    rejected = int((~result.accepted).sum())
    print(f"{len(result.times)} steps, {rejected} updates gated or skipped.")
    if not args.no_plot:
        print(f"plot written to {demo.pendulum_plot(result, args.output)}")


def run(args: argparse.Namespace) -> int:
    from fmitwin import demo
    from fmitwin.fmu import FmuError

    try:
        if not args.no_plot:
            demo.check_plot_path(args.output)
        (_pendulum if args.model == "pendulum" else _tank)(args)
    except (ValueError, FileNotFoundError, FmuError) as exc:
        raise SystemExit(f"fmitwin demo: {exc}") from None
    return 0
