"""pytest-benchmark cases for the Kalman core (n = 6 states, m = 3 measurements).

    python -m pytest benchmarks/bench_filters.py --benchmark-only

Each case times one call; compare the fmitwin cases with the FilterPy / NumPy / simdkalman ones
of the same run (ratios, not absolute times, are what carry over between machines).
"""

from __future__ import annotations

import fmitwin
import numpy as np
import pytest
import simdkalman.primitives as simd
from compare_filters import filterpy_ukf, fmitwin_filter, linear_system, numpy_loop
from filterpy.kalman import ExtendedKalmanFilter as FilterPyEKF

N, M, STEPS, FLEET = 6, 3, 1000, 100_000


@pytest.fixture(scope="module")
def system():
    rng = np.random.default_rng(0)
    F, Q, H, R = linear_system(N, M, rng)
    return F, Q, H, R, rng.normal(size=(STEPS, M))


def test_fmitwin_per_step(benchmark, system) -> None:
    F, Q, H, R, zs = system
    ekf = fmitwin_filter(F, Q, H, R)

    def step() -> None:
        ekf.predict()
        ekf.update(zs[0])

    benchmark(step)


def test_filterpy_per_step(benchmark, system) -> None:
    F, Q, H, R, zs = system
    ekf = FilterPyEKF(N, M)
    ekf.F, ekf.Q, ekf.R = F, Q, R
    z = zs[0][:, None]

    def step() -> None:
        ekf.predict()
        ekf.update(z, lambda _x: H, lambda x: H @ x)

    benchmark(step)


@pytest.mark.parametrize(
    "make",
    [lambda *model: fmitwin_filter(*model, fmitwin.UnscentedKalmanFilter), filterpy_ukf],
    ids=["fmitwin", "filterpy"],
)
def test_ukf_per_step(benchmark, system, make) -> None:
    """One predict + update of the unscented filter, fmitwin's and FilterPy's."""
    F, Q, H, R, zs = system
    ukf = make(F, Q, H, R)
    benchmark(lambda: (ukf.predict(), ukf.update(zs[0])))


def test_fmitwin_batch_1000_steps(benchmark, system) -> None:
    F, Q, H, R, zs = system
    ekf = fmitwin_filter(F, Q, H, R)
    benchmark(ekf.batch_filter, zs, covariances="none")


def test_numpy_loop_1000_steps(benchmark, system) -> None:
    F, Q, H, R, zs = system
    benchmark.pedantic(numpy_loop, args=(F, Q, H, R, zs), rounds=3)


@pytest.mark.parametrize("threads", [1, 2])
def test_fmitwin_fleet_step(benchmark, system, threads: int) -> None:
    F, Q, H, R, _ = system
    fleet = fmitwin.FleetKalmanFilter(FLEET, N, M, F=F, H=H, Q=Q, R=R, threads=threads)
    z = np.random.default_rng(1).normal(size=(1, FLEET, M))
    benchmark.pedantic(fleet.run, args=(z,), rounds=5)


def test_simdkalman_fleet_step(benchmark, system) -> None:
    F, Q, H, R, _ = system
    x, P = np.zeros((FLEET, N, 1)), np.tile(np.eye(N), (FLEET, 1, 1))
    z = np.random.default_rng(1).normal(size=(FLEET, M, 1))

    def step() -> None:
        prior = simd.predict(x, P, F, Q)
        simd.update_with_nan_check(*prior, H, R, z)

    benchmark.pedantic(step, rounds=5)
