"""Property tests of the filter against the NumPy reference: covariance stays symmetric positive
definite, gating rejects exactly the updates over the gate, NaN entries are left out, quality
scales R."""

from __future__ import annotations

import fmitwin
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2
from support.filter_reference import linear_filter, predict, random_system, relative_error, update

SETTINGS = settings(max_examples=100, deadline=None)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
dims = st.tuples(st.integers(1, 8), st.integers(1, 4))


@SETTINGS
@given(seed=seeds, dims=dims, scale=st.floats(1e-6, 1e6))
def test_covariance_stays_symmetric_positive_definite(seed, dims, scale) -> None:
    rng = np.random.default_rng(seed)
    s = random_system(rng, *dims)
    s.R *= scale  # from near-perfect to near-useless sensors
    ekf = linear_filter(s)
    for _ in range(30):
        ekf.predict()
        ekf.update(rng.normal(size=dims[1]) * np.sqrt(scale))
        P = ekf.P
        np.testing.assert_array_equal(P, P.T)
        assert np.all(np.linalg.eigvalsh(P) > 0)


@SETTINGS
@given(seed=seeds, dims=dims, p=st.floats(0.5, 0.999), spread=st.floats(0.1, 10.0))
def test_gate_rejects_exactly_the_updates_over_it(seed, dims, p, spread) -> None:
    rng = np.random.default_rng(seed)
    n, m = dims
    s = random_system(rng, n, m)
    ekf = linear_filter(s, gate_probability=p)
    gate = [np.inf, *chi2.ppf(p, np.arange(1, m + 1))]
    np.testing.assert_allclose(ekf.gate_thresholds, gate, rtol=1e-12)
    x, P = s.x0, s.P0
    for _ in range(20):
        z = rng.normal(size=m) * spread
        z[rng.random(m) < 0.2] = np.nan
        ekf.predict()
        x, P = predict(x, P, s.F, s.Q)
        before = (ekf.x, ekf.P)
        result = ekf.update(z)
        x, P, info = update(x, P, z, s.H, s.R, gate=gate)
        k = int(info["used"].sum())
        if k:
            assert result.accepted == (info["nis"] <= gate[k])
            assert result.gated == (info["nis"] > gate[k])
            assert relative_error(result.nis, info["nis"]) < 1e-9
        if not result.accepted:
            np.testing.assert_array_equal(ekf.x, before[0])
            np.testing.assert_array_equal(ekf.P, before[1])
        assert relative_error(ekf.x, x) < 1e-9
        assert relative_error(ekf.P, P) < 1e-9


@SETTINGS
@given(seed=seeds, dims=st.tuples(st.integers(1, 8), st.integers(2, 5)))
def test_nan_entries_are_left_out(seed, dims) -> None:
    rng = np.random.default_rng(seed)
    n, m = dims
    s = random_system(rng, n, m)
    z = rng.normal(size=m)
    missing = rng.random(m) < 0.5
    z[missing] = np.nan
    ekf = linear_filter(s)
    result = ekf.update(z)
    np.testing.assert_array_equal(result.used, ~missing)
    assert np.all(np.isnan(result.innovation[missing]))
    assert np.all(np.isnan(result.S[missing]))
    assert np.all(np.isnan(result.S[:, missing]))
    if missing.all():
        assert not result.accepted and np.isnan(result.nis)
        np.testing.assert_array_equal(ekf.x, s.x0)
        return
    # The same as a filter that only ever had the present sensors.
    present = ~missing
    reduced = fmitwin.ExtendedKalmanFilter(n, int(present.sum()), x0=s.x0, P0=s.P0)
    expected = reduced.update(z[present], s.H[present], s.R[np.ix_(present, present)])
    assert relative_error(ekf.x, reduced.x) < 1e-12
    assert relative_error(ekf.P, reduced.P) < 1e-12
    assert result.nis == expected.nis
    np.testing.assert_array_equal(result.innovation[present], expected.innovation)


@SETTINGS
@given(seed=seeds, dims=dims, q=st.floats(1e-3, 1.0))
def test_quality_scales_r(seed, dims, q) -> None:
    rng = np.random.default_rng(seed)
    s = random_system(rng, *dims)
    z = rng.normal(size=dims[1])
    scaled = linear_filter(s)
    result = scaled.update(z, quality=q)
    plain = linear_filter(s)
    expected = plain.update(z, R=s.R / q)
    assert relative_error(scaled.x, plain.x) < 1e-12
    assert relative_error(scaled.P, plain.P) < 1e-12
    assert relative_error(result.S, expected.S) < 1e-12

    skipped = linear_filter(s)
    result = skipped.update(z, quality=0.0)
    assert not result.accepted and not result.gated and np.isnan(result.nis)
    assert not result.used.any()
    np.testing.assert_array_equal(skipped.x, s.x0)
    np.testing.assert_array_equal(skipped.P, linear_filter(s).P)
