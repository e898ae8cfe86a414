"""``fmitwin rul``: fit on run-to-failure units, write the RUL of every test unit to CSV."""

from __future__ import annotations

import argparse
import pickle
import sys

HELP = (
    "Estimate remaining useful life: fit on C-MAPSS-format run-to-failure units, predict each "
    "test unit at its last cycle, write CSV unit,rul,rul_low,rul_high."
)


def configure(parser: argparse.ArgumentParser) -> None:
    from fmitwin.maintenance.cmapss import MODELS

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
        "--model", choices=MODELS, default="boosted", help="RUL model (default boosted)"
    )
    parser.add_argument(
        "--rul-cap", type=float, default=125.0, help="piecewise-linear RUL cap (default 125)"
    )
    parser.add_argument(
        "--level", type=float, default=0.9, help="interval probability (default 0.9)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of fit and calibration")
    parser.add_argument(
        "--save", metavar="PATH", help="also pickle the fitted model there (pickle.load reads it)"
    )
    parser.add_argument(
        "--validate",
        type=int,
        nargs="?",
        const=3,
        metavar="SEEDS",
        help="also run the test-like validation protocol (5 folds x SEEDS seeds, default 3; "
        "minutes) and print its table with the spread over seeds",
    )


def run(args: argparse.Namespace) -> int:
    from fmitwin.datasets import cmapss_histories, load_cmapss, read_cmapss
    from fmitwin.maintenance.cmapss import ModelFactory, cut_profile, predict_units
    from fmitwin.maintenance.validation import summarise, validate

    if not 0.0 < args.level < 1.0:
        print(f"fmitwin rul: --level {args.level} must lie in (0, 1), e.g. 0.9", file=sys.stderr)
        return 1
    try:
        train = cmapss_histories(read_cmapss(args.train) if args.train else load_cmapss("train"))
        test = cmapss_histories(read_cmapss(args.test) if args.test else load_cmapss("test"))
        profile = cut_profile(list(train.values()), list(test.values()))
        factory = ModelFactory(args.model, args.rul_cap, profile, args.seed)
        model = factory().fit(list(train.values()))
        table = predict_units(model, test, level=args.level)
    except (OSError, ValueError) as exc:
        print(f"fmitwin rul: {exc}", file=sys.stderr)
        return 1
    output = args.output or (None if args.validate else "rul.csv")
    if output is not None:
        table.to_csv(output, index=False, float_format="%.2f")
        print(f"wrote RUL of {len(table)} units to {output} ({args.model} model)")
    if args.save:
        try:
            with open(args.save, "wb") as stream:
                pickle.dump(model, stream)
        except OSError as exc:
            print(f"fmitwin rul: cannot save the model: {exc}", file=sys.stderr)
            return 1
        print(f"saved the fitted model to {args.save}")
    if args.validate:
        result = validate(
            factory, list(train.values()), profile, seeds=range(args.validate),
            level=args.level, rul_cap=args.rul_cap,
        )  # fmt: skip
        print(
            f"test-like validation: training engines held out (5 folds) and cut like the test "
            f"file ({profile}), {args.validate} seeds of {len(train)} engines; truth capped at "
            f"{args.rul_cap:g} for rmse_capped, raw otherwise; score summed per seed"
        )
        print(summarise(result).T.to_string(float_format=lambda v: f"{v:.3g}"))
    return 0
