"""``fmitwin rul``: fit on run-to-failure units, write the RUL of every test unit to CSV."""

from __future__ import annotations

import argparse
import sys

HELP = (
    "Estimate remaining useful life: fit on C-MAPSS-format run-to-failure units, predict each "
    "test unit at its last cycle, write CSV unit,rul,rul_low,rul_high."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--train", help="run-to-failure training file (default: the shipped C-MAPSS FD001)"
    )
    parser.add_argument("--test", help="test file (default: the shipped C-MAPSS FD001 test set)")
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        help="CSV to write (default rul.csv; with --validate alone, none: nothing is overwritten)",
    )
    parser.add_argument(
        "--rul-cap", type=float, default=125.0, help="piecewise-linear RUL cap (default 125)"
    )
    parser.add_argument(
        "--level", type=float, default=0.9, help="interval probability (default 0.9)"
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="also report RMSE, PHM08 score and coverage on held-out truncated training units",
    )


def run(args: argparse.Namespace) -> int:
    from fmitwin.datasets import load_cmapss, read_cmapss
    from fmitwin.maintenance.fleet import FleetRULEstimator, holdout_validation

    try:
        train = read_cmapss(args.train) if args.train else load_cmapss("train")
        test = read_cmapss(args.test) if args.test else load_cmapss("test")
        options = {"rul_cap": args.rul_cap, "interval_level": args.level}
        table = FleetRULEstimator(**options).fit(train).predict(test)
    except (OSError, ValueError) as exc:
        print(f"fmitwin rul: {exc}", file=sys.stderr)
        return 1
    output = args.output or (None if args.validate else "rul.csv")
    if output is not None:
        table.to_csv(output, index=False, float_format="%.2f")
        print(f"wrote RUL of {len(table)} units to {output}")
    if args.validate:
        _, summary = holdout_validation(train, **options)
        print(
            "held-out truncated training units ({predictions:.0f} predictions, truth capped at "
            "{cap:g}): RMSE {rmse:.2f}, PHM08 score {phm08_score_mean:.2f} per prediction, "
            "{interval_level:.0%} interval coverage {coverage:.1%}, within +/-20 % of the truth "
            "{alpha_accuracy:.1%}".format(cap=args.rul_cap, **summary)
        )
    return 0
