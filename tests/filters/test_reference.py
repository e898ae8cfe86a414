"""fmitwin's C++ filter against FilterPy and a plain NumPy filter on random stable systems."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import ExtendedKalmanFilter as FilterPyEKF
from filterpy.kalman import KalmanFilter as FilterPyKF
from fmitwin import _core
from scipy.stats import chi2
from support.filter_reference import (
    linear_filter,
    predict,
    random_system,
    relative_error,
    simulate,
    update,
)

STEPS = 200
TOLERANCE = 1e-9


@pytest.mark.parametrize("n", range(1, 31))
def test_matches_filterpy_ekf_and_numpy(n: int) -> None:
    rng = np.random.default_rng(1000 + n)
    m = 1 + n % 4
    s = random_system(rng, n, m)
    _, zs = simulate(rng, s, STEPS)

    ours = linear_filter(s, with_models=True)
    theirs = FilterPyEKF(n, m)
    theirs.x, theirs.P, theirs.F, theirs.Q, theirs.R = s.x0[:, None], s.P0, s.F, s.Q, s.R
    x, P = s.x0, s.P0
    for z in zs:
        ours.predict()
        theirs.predict()
        x, P = predict(x, P, s.F, s.Q)
        result = ours.update(z)
        theirs.update(z[:, None], lambda _x: s.H, lambda x_: s.H @ x_)
        x, P, _ = update(x, P, z, s.H, s.R)
        assert result.accepted
        assert relative_error(result.innovation, theirs.y.ravel()) < TOLERANCE
        assert relative_error(result.S, theirs.S) < TOLERANCE
    assert relative_error(ours.x, theirs.x.ravel()) < TOLERANCE
    assert relative_error(ours.P, theirs.P) < TOLERANCE
    assert relative_error(ours.x, x) < TOLERANCE
    assert relative_error(ours.P, P) < TOLERANCE


@pytest.mark.parametrize("n", [1, 2, 3, 6, 13, 30])
def test_explicit_matrices_match_filterpy_kalman_filter(n: int) -> None:
    """predict(F=, Q=) and update(z, H, R) per call, against FilterPy's KalmanFilter."""
    rng = np.random.default_rng(2000 + n)
    m = min(n, 3)
    s = random_system(rng, n, m)
    _, zs = simulate(rng, s, STEPS)
    ours = linear_filter(s, with_models=False)
    theirs = FilterPyKF(n, m)
    theirs.x, theirs.P = s.x0[:, None].copy(), s.P0.copy()
    for t, z in enumerate(zs):
        Q = s.Q * (1 + 0.5 * np.sin(t))  # time-varying noise, passed per call
        ours.predict(F=s.F, Q=Q)
        theirs.predict(F=s.F, Q=Q)
        ours.update(z, s.H, s.R)
        theirs.update(z[:, None], R=s.R, H=s.H)
    assert relative_error(ours.x, theirs.x.ravel()) < TOLERANCE
    assert relative_error(ours.P, theirs.P) < TOLERANCE


def test_log_likelihood_matches_filterpy() -> None:
    rng = np.random.default_rng(7)
    s = random_system(rng, 4, 2)
    _, zs = simulate(rng, s, 20)
    ours = linear_filter(s, with_models=True)
    theirs = FilterPyKF(4, 2)
    theirs.x, theirs.P, theirs.F, theirs.Q, theirs.H, theirs.R = (
        s.x0[:, None].copy(),
        s.P0.copy(),
        s.F,
        s.Q,
        s.H,
        s.R,
    )
    for z in zs:
        ours.predict()
        theirs.predict()
        result = ours.update(z)
        theirs.update(z[:, None])
        assert result.log_likelihood == pytest.approx(theirs.log_likelihood, rel=1e-10)
        assert result.nis == pytest.approx(theirs.mahalanobis**2, rel=1e-10)


FIXED_SIZES = [(n, m) for n in range(1, 9) for m in range(1, n + 1) if _core.has_fixed_kernel(n, m)]


def test_the_benchmarked_size_has_a_fixed_kernel() -> None:
    assert (6, 3) in FIXED_SIZES
    assert not _core.has_fixed_kernel(7, 3)  # the dynamic kernel is exercised by the other sizes


@pytest.mark.parametrize("n, m", FIXED_SIZES)
def test_fixed_size_kernels_match_numpy(n: int, m: int) -> None:
    """Each compiled-in (n, m) kernel, batch and per step, with missing entries, outliers, R / q
    scaling and chi-square gating, against the NumPy reference."""
    rng = np.random.default_rng(3000 + 10 * n + m)
    s = random_system(rng, n, m)
    _, zs = simulate(rng, s, STEPS)
    zs[rng.random(zs.shape) < 0.1] = np.nan
    zs[rng.random(len(zs)) < 0.05] += 50.0
    quality = rng.choice([1.0, 0.5, 0.0], size=STEPS, p=[0.8, 0.1, 0.1])
    gate = chi2.ppf(0.99, np.arange(m + 1))
    batch = linear_filter(s, gate_probability=0.99).batch_filter(zs, quality=quality)
    stepped = linear_filter(s, gate_probability=0.99)
    x, P = s.x0, s.P0
    for t, (z, q) in enumerate(zip(zs, quality, strict=True)):
        x, P = predict(x, P, s.F, s.Q)
        x, P, info = update(x, P, z, s.H, s.R, quality=q, gate=gate)
        stepped.predict()
        result = stepped.update(z, quality=q)
        assert result.accepted == info["accepted"] == batch.accepted[t]
        for ours in (stepped.x, batch.states[t]):
            assert relative_error(ours, x) < TOLERANCE
        for ours in (stepped.P, batch.covariances[t]):
            assert relative_error(ours, P) < TOLERANCE
            np.testing.assert_array_equal(ours, ours.T)
    assert not batch.accepted.all()  # skips and rejections were exercised
