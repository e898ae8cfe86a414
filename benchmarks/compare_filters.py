"""Speed of fmitwin's Kalman core against its peers, measured in one run: one table of ratios.

For each state size n (m = n / 2 measurements, a linear model), the same predict + update step is
timed as
  * fmitwin per step from Python (``ekf.predict(); ekf.update(z)``),
  * fmitwin batch (``ekf.batch_filter(z)``: T steps in one call),
  * fmitwin fleet (``FleetKalmanFilter.run``: N filters x T steps, 1 and 2 threads),
  * fmitwin's unscented filter per step and batch (on the same linear models, through its sigma
    points),
against FilterPy's ExtendedKalmanFilter and UnscentedKalmanFilter (Merwe sigma points), a plain
NumPy loop of the same equations, simdkalman's vectorised predict/update over a fleet, and the
floor: the same step as a plain dynamic-size Eigen loop in C++ (benchmarks/floor/ekf_floor.cpp),
compiled here with the package's flags.
A ratio is peer time / fmitwin time: above 1, fmitwin is faster.

usage: python benchmarks/compare_filters.py [--quick] [--sizes 2 6 12]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import fmitwin
import numpy as np
import simdkalman.primitives as simd
from filterpy.kalman import ExtendedKalmanFilter as FilterPyEKF
from filterpy.kalman import MerweScaledSigmaPoints
from filterpy.kalman import UnscentedKalmanFilter as FilterPyUKF
from fmitwin.benchmarking import (
    best_of,
    build_cpp,
    fma_peak_gflops,
    fmitwin_filter,
    linear_system,
    step_flops,
)

HERE = Path(__file__).resolve().parent
FLOOR_SOURCE = HERE / "floor" / "ekf_floor.cpp"
FLOOR_BINARY = HERE / "floor" / "build" / "ekf_floor"
# The package's Release flags (CMakeLists.txt: CMAKE_BUILD_TYPE Release, -O3, EIGEN_NO_DEBUG).
FLOOR_FLAGS = ["-O3", "-DNDEBUG", "-DEIGEN_NO_DEBUG", "-std=c++17"]


def eigen_include() -> Path:
    """Eigen's headers where the package build finds them: the cmeel-eigen wheel or the system."""
    roots = [Path(sysconfig.get_paths()["purelib"]), *map(Path, sys.path)]
    for root in [
        *(r / "cmeel.prefix" / "include" / "eigen3" for r in roots),
        Path("/usr/include/eigen3"),
    ]:
        if (root / "Eigen" / "Dense").exists():
            return root
    raise SystemExit("Eigen not found: pip install cmeel-eigen")


def build_floor() -> Path:
    return build_cpp(FLOOR_SOURCE, FLOOR_BINARY, (*FLOOR_FLAGS, f"-I{eigen_include()}"))


def floor_seconds_per_step(n: int, m: int, steps: int, repeats: int) -> float:
    out = subprocess.run(
        [str(build_floor()), str(n), str(m), str(steps), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.split()[0]) * 1e-9


def filterpy_ukf(F, Q, H, R) -> FilterPyUKF:
    """FilterPy's unscented filter on the linear model, with fmitwin's default sigma points."""
    n, m = F.shape[0], H.shape[0]
    points = MerweScaledSigmaPoints(n, alpha=1.0, beta=2.0, kappa=0.0)
    ukf = FilterPyUKF(n, m, 1.0, hx=lambda x: H @ x, fx=lambda x, dt: F @ x, points=points)
    ukf.Q, ukf.R = Q, R
    return ukf


def numpy_loop(F, Q, H, R, zs) -> None:
    """The same step in plain NumPy (Joseph form)."""
    n = F.shape[0]
    x, P, eye = np.zeros(n), np.eye(n), np.eye(n)
    for z in zs:
        x = F @ x
        P = F @ P @ F.T + Q
        y = z - H @ x
        PHt = P @ H.T
        S = H @ PHt + R
        K = PHt @ np.linalg.inv(S)
        x = x + K @ y
        I_KH = eye - K @ H
        P = I_KH @ P @ I_KH.T + K @ R @ K.T


def measure(n: int, quick: bool, rng: np.random.Generator) -> dict[str, float]:
    """Seconds per filter-step of every contender at state size n.

    The contenders take turns, round after round, and each keeps its fastest round: on a shared
    machine, load then weighs on all of them alike instead of on whoever ran during a burst.
    """
    m = max(1, n // 2)
    F, Q, H, R = linear_system(n, m, rng)
    rounds = 2 if quick else 3
    per_step_count = max(20, int((1e5 if quick else 3e5) / (n * n + 50)))
    batch_count = max(200, int((2e6 if quick else 1e7) / n**3))
    zs = rng.normal(size=(max(per_step_count, batch_count), m))
    ekf = fmitwin_filter(F, Q, H, R)

    def per_step() -> None:
        for z in zs[:per_step_count]:
            ekf.predict()
            ekf.update(z)

    batch = zs[:batch_count]
    theirs = FilterPyEKF(n, m)
    theirs.F, theirs.Q, theirs.R = F, Q, R
    columns = [z[:, None] for z in zs[:per_step_count]]

    def filterpy_steps() -> None:
        for z in columns:
            theirs.predict()
            theirs.update(z, lambda _x: H, lambda x: H @ x)

    ukf = fmitwin_filter(F, Q, H, R, fmitwin.UnscentedKalmanFilter)

    def ukf_per_step() -> None:
        for z in zs[:per_step_count]:
            ukf.predict()
            ukf.update(z)

    ukf_batch = zs[: max(20, batch_count // (2 * n + 1))]
    their_ukf = filterpy_ukf(F, Q, H, R)
    ukf_count = max(10, per_step_count // (2 * n + 1))

    def filterpy_ukf_steps() -> None:
        for z in zs[:ukf_count]:
            their_ukf.predict()
            their_ukf.update(z)

    # Fleets: 100,000 filters where memory allows (N n^2 <= 3.6 M covariance entries).
    count = min(100_000, 3_600_000 // (n * n))
    if quick:
        count //= 4
    fleet_steps = 3 if quick else 5
    fleet_z = rng.normal(size=(fleet_steps, count, m))
    fleets = {
        threads: fmitwin.FleetKalmanFilter(count, n, m, F=F, H=H, Q=Q, R=R, threads=threads)
        for threads in (1, 2)
    }
    simd_z = fleet_z[..., None]

    def simdkalman_fleet() -> None:
        x, P = np.zeros((count, n, 1)), np.tile(np.eye(n), (count, 1, 1))
        for z in simd_z:
            x, P = simd.predict(x, P, F, Q)
            x, P = simd.update_with_nan_check(x, P, H, R, z)

    fleet_size = count * fleet_steps
    contenders = {
        # name: (run, filter-steps per run, clock)
        "fmitwin per step": (per_step, per_step_count, time.process_time),
        "fmitwin batch": (
            lambda: ekf.batch_filter(batch, covariances="none"),
            batch_count,
            time.process_time,
        ),
        "FilterPy": (filterpy_steps, per_step_count, time.process_time),
        "NumPy loop": (
            lambda: numpy_loop(F, Q, H, R, zs[:per_step_count]),
            per_step_count,
            time.process_time,
        ),
        "fmitwin UKF per step": (ukf_per_step, per_step_count, time.process_time),
        "fmitwin UKF batch": (
            lambda: ukf.batch_filter(ukf_batch, covariances="none"),
            len(ukf_batch),
            time.process_time,
        ),
        "FilterPy UKF": (filterpy_ukf_steps, ukf_count, time.process_time),
        "fleet 1T": (lambda: fleets[1].run(fleet_z), fleet_size, time.perf_counter),
        "fleet 2T": (lambda: fleets[2].run(fleet_z), fleet_size, time.perf_counter),
        "simdkalman": (simdkalman_fleet, fleet_size, time.perf_counter),
    }
    t = dict.fromkeys([*contenders, "C++ floor"], np.inf)
    for _ in range(rounds):
        for name, (run, steps, clock) in contenders.items():
            t[name] = min(t[name], best_of(1, run, clock) / steps)
        t["C++ floor"] = min(t["C++ floor"], floor_seconds_per_step(n, m, batch_count, 1))
    t["fleet count"] = count
    return t


COLUMNS = [
    # (heading, peer, fmitwin contender)
    ("step/FilterPy", "FilterPy", "fmitwin per step"),
    ("step/NumPy", "NumPy loop", "fmitwin per step"),
    ("batch/FilterPy", "FilterPy", "fmitwin batch"),
    ("batch/NumPy", "NumPy loop", "fmitwin batch"),
    ("batch/C++floor", "C++ floor", "fmitwin batch"),
    ("ukf step/FP", "FilterPy UKF", "fmitwin UKF per step"),
    ("ukf batch/FP", "FilterPy UKF", "fmitwin UKF batch"),
    ("fleet1T/simdk", "simdkalman", "fleet 1T"),
    ("fleet2T/simdk", "simdkalman", "fleet 2T"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, n = 2 and 6 only")
    parser.add_argument("--sizes", type=int, nargs="+", help="state sizes n (default 2 6 12 24 48)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ((2, 6) if args.quick else (2, 6, 12, 24, 48))
    rng = np.random.default_rng(0)
    build_floor()
    rows = []
    for n in sizes:
        t = measure(n, args.quick, rng)
        rows.append((n, t))
        print(f"measured n = {n}", file=sys.stderr)

    print("fmitwin speed-up (peer time / fmitwin time; > 1: fmitwin faster), m = n // 2")
    header = (
        f"{'n':>3} {'m':>3} " + " ".join(f"{h:>14}" for h, _, _ in COLUMNS) + f" {'fleet N':>8}"
    )
    print(header)
    for n, t in rows:
        ratios = " ".join(f"{t[peer] / t[ours]:14.1f}" for _, peer, ours in COLUMNS)
        print(f"{n:3d} {max(1, n // 2):3d} {ratios} {int(t['fleet count']):8d}")
    peak, isa = fma_peak_gflops()
    print(f"one core's double-precision FMA peak, measured ({isa}): {peak:.1f} GFLOP/s")
    for n, t in rows:
        gflops = step_flops(n, max(1, n // 2)) / t["fmitwin batch"] / 1e9
        print(f"n = {n:2d}: batch {gflops:6.2f} GFLOP/s = {100 * gflops / peak:5.1f} % of the peak")
    print(
        "step: predict()+update(z) from Python; batch: batch_filter(z) over T steps; fleet: "
        "FleetKalmanFilter.run over N filters on 1 / 2 threads; simdk: simdkalman predict/update "
        "vectorised over the same N filters; ukf: UnscentedKalmanFilter on the same linear "
        "models against FilterPy's UnscentedKalmanFilter (FP)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
