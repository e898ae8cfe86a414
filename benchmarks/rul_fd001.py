"""C-MAPSS FD001: the test-like validation protocol for the remaining-life models.

Training engines are held out by fold, cut the way the test engines of test_FD001 are cut (the
``TruncationProfile`` fitted to the test file's lengths and health at the cut; the official truth
is not used) and predicted by a model fitted on the other folds; each seed is one pseudo test set
of 100 engines. Prints, per model, the metrics per seed and their mean and standard deviation.

usage: python benchmarks/rul_fd001.py [--models boosted similarity] [--seeds 0 1 2] [--folds 5]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from fmitwin.datasets import cmapss_histories, load_cmapss
from fmitwin.maintenance.cmapss import MODELS, ModelFactory, cut_profile
from fmitwin.maintenance.validation import summarise, validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--csv", help="write the per-prediction table here")
    args = parser.parse_args()
    training = list(cmapss_histories(load_cmapss("train")).values())
    testing = list(cmapss_histories(load_cmapss("test")).values())
    profile = cut_profile(training, testing)
    print(f"test-like cut: {profile}")
    pd.set_option("display.width", 250, "display.max_columns", 40, "display.precision", 3)
    tables = []
    for name in args.models:
        start = time.perf_counter()
        table = validate(
            ModelFactory(name, profile=profile), training, profile, folds=args.folds,
            seeds=args.seeds,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
        print(f"\n{name}: {len(args.seeds)} seeds x {args.folds} folds in {elapsed:.0f} s")
        print(summarise(table).T.to_string())
        tables.append(table.assign(model=name))
    if args.csv:
        pd.concat(tables).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
