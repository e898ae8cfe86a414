"""Speed of offline calibration and similarity RUL, measured in one run: one table of ratios.

* Calibration of the bundled pump FMU's wear parameters (rated_life, alpha) on 1,500 h of noisy
  vibration: fmitwin's ``calibrate`` over ``FmuSimulation`` (``fmitwin.simulate``, C++ stepping),
  serially and with the Jacobian's simulations in 2 processes, against the same least squares
  over ``fmpy.simulate_fmu`` runs.
* C-MAPSS FD001: the default RUL model's fit + prediction of the 100 test units (no peer in this
  process; reported as absolute time for scale only).

A ratio is peer time / fmitwin time: above 1, fmitwin is faster. On a loaded 2-core machine the
2-process ratio shows what parallel Jacobians cost or gain for an FMU this cheap.

usage: python benchmarks/compare_calibration.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import fmitwin.models
import fmpy
import numpy as np
from fmitwin.benchmarking import best_of
from fmitwin.calibration import FmuSimulation, calibrate
from fmitwin.datasets import cmapss_histories, load_cmapss
from fmitwin.maintenance.cmapss import make_model, predict_units

TRUTH = {"rated_life": 3000.0, "alpha": 3.0}
GUESS = {"rated_life": 2500.0, "alpha": 2.0}
TIMES = np.arange(0.0, 1500.0 * 3600.0 + 1.0, 6 * 3600.0)
FIXED = {"wear": 0.1}


class FmpySimulation:
    """The peer: the same outputs from ``fmpy.simulate_fmu`` (model exchange, CVode)."""

    def __init__(self, path: str) -> None:
        self.unzipdir = fmpy.extract(path)

    def __call__(self, parameters: dict) -> np.ndarray:
        result = fmpy.simulate_fmu(
            self.unzipdir,
            stop_time=TIMES[-1],
            output_interval=TIMES[1] - TIMES[0],
            start_values={**FIXED, **parameters},
            output=["vibration"],
            fmi_type="ModelExchange",
        )
        return np.interp(TIMES, result["time"], result["vibration"])[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = fmitwin.models.path("centrifugal_pump")
    ours = FmuSimulation(path, ["vibration"], TIMES, fixed=FIXED, kind="me")
    peer = FmpySimulation(str(path))
    rng = np.random.default_rng(0)
    data = ours(TRUTH) + 0.05 * rng.standard_normal((TIMES.size, 1))
    np.testing.assert_allclose(peer(TRUTH), ours(TRUTH), rtol=1e-4)

    # wall time: the two-worker run happens in other processes, which CPU time would not count
    wall = time.perf_counter
    serial = best_of(args.repeat, lambda: calibrate(ours, data, GUESS), wall)
    parallel = best_of(args.repeat, lambda: calibrate(ours, data, GUESS, workers=2), wall)
    fmpy_time = best_of(args.repeat, lambda: calibrate(peer, data, GUESS), wall)
    estimate = calibrate(ours, data, GUESS)
    print(estimate.summary())
    print(f"{'case':<58}{'ratio':>8}")
    print(f"{'fmpy.simulate_fmu least squares / fmitwin serial':<58}{fmpy_time / serial:>8.2f}")
    print(f"{'fmitwin serial / fmitwin 2 processes':<58}{serial / parallel:>8.2f}")
    train, test = cmapss_histories(load_cmapss("train")), cmapss_histories(load_cmapss("test"))
    start = time.perf_counter()
    predict_units(make_model().fit(list(train.values())), test)
    print(f"C-MAPSS FD001 fit + 100 test units: {time.perf_counter() - start:.1f} s (no peer)")


if __name__ == "__main__":
    main()
