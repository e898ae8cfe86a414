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


def _cmapss_reports(args: argparse.Namespace, output: Path) -> list:
    from fmitwin.datasets import load_cmapss, read_cmapss
    from fmitwin.maintenance.decisions import predict_maintenance
    from fmitwin.maintenance.fleet import FleetRULEstimator
    from fmitwin.maintenance.report import AssetReport, track_rul, write_asset_report

    train = read_cmapss(args.train) if args.train else load_cmapss("train")
    test = read_cmapss(args.test) if args.test else load_cmapss("test")
    policy = _policy(args, (10.0, 30.0, 60.0))
    estimator = FleetRULEstimator(interval_level=args.level).fit(train)
    latest = estimator.predict_distributions(test)
    mode = "HPC degradation"
    predictions = {
        unit: predict_maintenance(
            rul,
            asset=f"engine {unit}",
            time=float(test[test.unit == unit].cycle.max()),
            failure_mode=mode,
            policy=policy,
        )  # fmt: skip
        for unit, rul in latest.items()
    }
    units = args.units
    if units is None:
        units = sorted(latest, key=lambda u: latest[u].median)[:5]
    unknown = [u for u in units if u not in latest]
    if unknown:
        raise ValueError(f"--units {unknown} are not in the test file")
    reports = {u: AssetReport(p, ()) for u, p in predictions.items()}
    histories = {unit: (times, hi) for unit, times, hi in estimator.histories(test)}
    for unit in units:
        times, hi = histories[unit]
        track = track_rul(
            times,
            lambda n, t=times, h=hi: estimator.similarity.predict(t[:n], h[:n]),
            level=args.level, every=args.every, first=min(10, times.size),
        )  # fmt: skip
        reports[unit] = write_asset_report(
            output, f"engine {unit}", times, hi, track, failure_mode=mode, policy=policy,
            fitted=_smooth(times, hi), threshold=estimator.failure_level_, time_unit="cycles",
            indicator_name="health index", fitted_name="quadratic trend",
        )  # fmt: skip
    return list(reports.values())


def _smooth(times, values):
    import numpy as np

    degree = min(2, times.size - 1)
    return np.polyval(np.polyfit(times - times[0], values, degree), times - times[0])


def _read_indicator(path: str, args: argparse.Namespace) -> dict:
    """{asset: (operating hours, values)} from a CSV of asset, time, value columns."""
    import numpy as np
    import pandas as pd

    from fmitwin.maintenance.health import operating_hours

    table = pd.read_csv(path)
    needed = [args.asset_column, args.time_column, args.value_column]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; name them with --*-column options")
    if table.empty:
        raise ValueError(f"{path} has no rows: give at least one sample per asset")
    series = {}
    for asset, group in table.groupby(args.asset_column, sort=True):
        stamps = group[args.time_column]
        if pd.api.types.is_numeric_dtype(stamps):
            hours = stamps.to_numpy(dtype=float)
        else:
            parsed = pd.to_datetime(stamps, errors="raise").to_numpy(dtype="datetime64[s]")
            hours = operating_hours(parsed)
        series[str(asset)] = (hours, group[args.value_column].to_numpy(dtype=float))
    if any(np.isnan(v).any() for _, v in series.values()):
        raise ValueError(f"{path}: column {args.value_column!r} has empty/NaN values")
    return series


def _indicator_reports(args: argparse.Namespace, output: Path) -> list:
    from fmitwin.maintenance.degradation import (
        ExponentialDegradationModel,
        LinearDegradationModel,
    )
    from fmitwin.maintenance.report import track_rul, write_asset_report

    if not args.fleet:
        raise ValueError("--history needs --fleet: run-to-failure histories to fit the model")
    fleet = list(_read_indicator(args.fleet, args).values())
    model_class = {"exponential": ExponentialDegradationModel, "linear": LinearDegradationModel}
    model = model_class[args.model].fit(fleet, threshold=args.threshold)
    policy = _policy(args, (24.0, 168.0, 720.0))
    reports = []
    for asset, (hours, values) in _read_indicator(args.history, args).items():

        def estimate(n: int, hours=hours, values=values):
            model.reset()
            model.update(hours[:n], values[:n])
            return model.rul()

        track = track_rul(hours, estimate, level=args.level, every=args.every, first=1)
        reports.append(
            write_asset_report(
                output,
                asset,
                hours,
                values,
                track,
                failure_mode=args.failure_mode,
                policy=policy,
                fitted=model.predict(hours),
                threshold=model.threshold,
            )  # fmt: skip
        )
    return reports


def run(args: argparse.Namespace) -> int:
    from fmitwin.maintenance.report import write_summary

    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
        if args.history:
            reports = _indicator_reports(args, output)
        else:
            reports = _cmapss_reports(args, output)
    except (OSError, ValueError) as exc:
        print(f"fmitwin report: {exc}", file=sys.stderr)
        return 1
    table = write_summary(output, reports)
    plots = sum(len(r.plots) for r in reports)
    print(f"wrote {plots} plots and summary.csv/summary.md ({len(table)} assets) to {output}")
    print(table[["asset", "rul", "rul_low", "rul_high", "urgency"]].head(10).to_string(index=False))
    return 0
