"""Pump fleet: coverage of the twin's 90 % RUL intervals across seeds, on fleets large enough to
measure it.

The pumps, the twin (FMU-backed EKF with the unknown rated life in the state) and the RUL
(``state_rul`` through the FMU's failure-time law) are those of tests/maintenance/test_pump.py.
There 18 pumps x 3 life fractions give 54 correlated predictions per seed, so their coverage
swings 83-98 % by sampling alone. Here each seed runs ``--pumps`` pumps at 5 life fractions and
prints the coverage, and the standardised errors (truth - median) / (interval width / 3.29),
whose standard deviation is 1 when the intervals are calibrated.

usage: python benchmarks/pump_rul_coverage.py [--pumps 60] [--seeds 11 12 13 14 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import fmitwin
import fmitwin.models
import numpy as np
from fmitwin.maintenance import state_rul

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "maintenance"))
import test_pump  # noqa: E402  (the fleet and twin of the run-to-failure test)

FRACTIONS = (0.3, 0.45, 0.6, 0.75, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pumps", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15])
    args = parser.parse_args()
    model = fmitwin.load_fmu(fmitwin.models.path("centrifugal_pump"))
    nominal = {name: model.variable(name).start for name in ("rated_life", "wear_limit")}
    print(f"{'seed':>4} {'predictions':>11} {'coverage':>9} {'z mean':>7} {'z std':>6}")
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        inside, z = [], []
        for _ in range(args.pumps):
            unit = test_pump.run_to_failure(model, nominal, rng)
            test_pump.run_twin(model, unit, nominal)
            for fraction in FRACTIONS:
                n = int(fraction * unit["hours"].size)
                rul = state_rul(unit["x"][n - 1], unit["P"][n - 1], unit["time_to_failure"])
                truth = unit["failure"] - unit["hours"][n - 1]
                low, high = rul.interval(0.9)
                inside.append(low <= truth <= high)
                z.append((truth - rul.median) / ((high - low) / 3.29))
        print(
            f"{seed:>4} {len(inside):>11} {np.mean(inside):>9.1%} {np.mean(z):>7.2f} "
            f"{np.std(z):>6.2f}"
        )


if __name__ == "__main__":
    main()
