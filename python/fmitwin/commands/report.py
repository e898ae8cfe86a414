"""``fmitwin report``: maintenance report per asset (PNG plots) and a summary table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = (
    "Write a maintenance report: per asset PNG plots of the health indicator, fitted degradation "
    "and RUL over time, and a summary table (summary.csv, summary.md) ranked by urgency."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="fmitwin-report", help="output folder")
    source = parser.add_argument_group(
        "recorded indicator (CSV)",
        "assets to report on and a fleet of run-to-failure histories with columns asset, time, "
        "value; time is operating hours or timestamps (then converted to elapsed hours)",
    )
    source.add_argument("--history", help="CSV of the monitored assets' indicator")
    source.add_argument("--fleet", help="CSV of run-to-failure histories (fits the model)")
    source.add_argument("--asset-column", default="asset")
    source.add_argument("--time-column", default="time")
    source.add_argument("--value-column", default="value")
    source.add_argument("--model", choices=["exponential", "linear"], default="exponential")
    source.add_argument("--threshold", type=float, help="failure threshold of the indicator")
    source.add_argument("--failure-mode", default="degradation", help="name of the failure mode")
    cmapss = parser.add_argument_group(
        "C-MAPSS (default when --history is not given)",
        "fit on run-to-failure engines and report on test engines (cycles)",
    )
    cmapss.add_argument("--train", help="C-MAPSS training file (default: shipped FD001)")
    cmapss.add_argument("--test", help="C-MAPSS test file (default: shipped FD001)")
    cmapss.add_argument(
        "--units", type=int, nargs="*", help="engines to plot (default: the 5 most urgent)"
    )
    policy = parser.add_argument_group("urgency thresholds on the RUL interval's lower bound")
    policy.add_argument("--immediate", type=float, help="default 24 h, or 10 cycles (C-MAPSS)")
    policy.add_argument("--soon", type=float, help="default 168 h, or 30 cycles (C-MAPSS)")
    policy.add_argument("--scheduled", type=float, help="default 720 h, or 60 cycles (C-MAPSS)")
    policy.add_argument("--level", type=float, default=0.9, help="interval probability")
    policy.add_argument("--every", type=int, default=5, help="RUL estimate every N samples")


def _policy(args: argparse.Namespace, defaults: tuple[float, float, float]):
    from fmitwin.maintenance.decisions import MaintenancePolicy

    given = (args.immediate, args.soon, args.scheduled)
    chosen = [d if v is None else v for v, d in zip(given, defaults, strict=True)]
    return MaintenancePolicy(*chosen, interval_level=args.level)


def _cmapss(args: argparse.Namespace, output: Path) -> list:
    from fmitwin.datasets import cmapss_histories, load_cmapss, read_cmapss
    from fmitwin.maintenance.cmapss import cut_profile, engine_reports, make_model

    train = cmapss_histories(read_cmapss(args.train) if args.train else load_cmapss("train"))
    test = cmapss_histories(read_cmapss(args.test) if args.test else load_cmapss("test"))
    profile = cut_profile(list(train.values()), list(test.values()))
    model = make_model(profile=profile).fit(list(train.values()))
    print(f"interval calibration ({args.level:.0%}, per predicted-horizon band):")
    print(model.conformal.table(args.level).to_string(index=False, float_format="%.1f"))
    return engine_reports(
        output, model, train, test, policy=_policy(args, (10.0, 30.0, 60.0)), units=args.units,
        every=args.every,
    )  # fmt: skip


def _indicator(args: argparse.Namespace, output: Path) -> list:
    from fmitwin.maintenance.health import read_indicator_csv
    from fmitwin.maintenance.report import indicator_reports

    if not args.fleet:
        raise ValueError("--history needs --fleet: run-to-failure histories to fit the model")
    columns = {
        "asset_column": args.asset_column,
        "time_column": args.time_column,
        "value_column": args.value_column,
    }
    return indicator_reports(
        output, read_indicator_csv(args.fleet, **columns),
        read_indicator_csv(args.history, **columns), model=args.model, threshold=args.threshold,
        failure_mode=args.failure_mode, policy=_policy(args, (24.0, 168.0, 720.0)),
        every=args.every,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from fmitwin.maintenance.report import write_summary

    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
        reports = _indicator(args, output) if args.history else _cmapss(args, output)
    except (OSError, ValueError) as exc:
        print(f"fmitwin report: {exc}", file=sys.stderr)
        return 1
    table = write_summary(output, reports)
    plots = sum(len(r.plots) for r in reports)
    print(f"wrote {plots} plots and summary.csv/summary.md ({len(table)} assets) to {output}")
    print(table[["asset", "rul", "rul_low", "rul_high", "urgency"]].head(10).to_string(index=False))
    return 0
