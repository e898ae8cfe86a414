"""Batch mode equals per-step calls; a fleet equals N separate filters."""

from __future__ import annotations

import fmitwin
import numpy as np
import pytest
from support.filter_reference import linear_filter, random_system, relative_error, simulate


def with_gaps(rng, zs):
    """Missing entries, outliers and a spread of qualities (including skips)."""
    zs = zs.copy()
    zs[rng.random(zs.shape) < 0.1] = np.nan
    zs[rng.random(len(zs)) < 0.05] += 50.0
    quality = rng.choice([1.0, 0.5, 0.1, 0.0], size=len(zs), p=[0.7, 0.1, 0.1, 0.1])
    return zs, quality


@pytest.mark.parametrize("n, m", [(1, 1), (2, 1), (3, 2), (4, 2), (6, 3), (5, 3), (12, 4)])
def test_batch_equals_per_step(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 10 + m)
    s = random_system(rng, n, m)
    _, zs = simulate(rng, s, 100)
    zs, quality = with_gaps(rng, zs)
    stepped = linear_filter(s, gate_probability=0.99)
    results = []
    states, covariances = [], []
    for z, q in zip(zs, quality, strict=True):
        stepped.predict()
        results.append(stepped.update(z, quality=q))
        states.append(stepped.x)
        covariances.append(stepped.P)
    batched = linear_filter(s, gate_probability=0.99)
    out = batched.batch_filter(zs, quality=quality)
    assert relative_error(out.states, np.array(states)) < 1e-12
    assert relative_error(out.covariances, np.array(covariances)) < 1e-12
    np.testing.assert_array_equal(out.accepted, [r.accepted for r in results])
    np.testing.assert_allclose(out.nis, [r.nis for r in results], rtol=1e-12)
    np.testing.assert_allclose(out.log_likelihood, [r.log_likelihood for r in results], rtol=1e-12)
    np.testing.assert_allclose(
        out.innovations, [r.innovation for r in results], rtol=1e-12, atol=1e-12
    )
    assert relative_error(batched.x, stepped.x) < 1e-12
    assert not out.accepted.all()  # the gaps exercised skips and rejections

    diagonal = linear_filter(s, gate_probability=0.99).batch_filter(
        zs, quality=quality, covariances="diagonal", states=False
    )
    assert diagonal.states is None
    np.testing.assert_array_equal(diagonal.covariances, np.diagonal(out.covariances, 0, 1, 2))
    assert linear_filter(s).batch_filter(zs, covariances="none").covariances is None


def test_batch_with_nonlinear_and_python_models_equals_per_step() -> None:
    rng = np.random.default_rng(3)
    model = fmitwin.DampedPendulumModel(length=1.0)
    H = np.array([[1.0, 0.0, 0.0]])
    h = fmitwin.PythonMeasurementModel(lambda x: H @ x, dim_x=3, dim_z=1)
    kwargs = dict(x0=[0.5, 0.0, 0.2], P0=np.diag([0.1, 0.1, 0.1]), Q=1e-4 * np.eye(3), R=[[1e-3]])
    stepped = fmitwin.ExtendedKalmanFilter(3, 1, process_model=model, measurement_model=h, **kwargs)
    dts = rng.uniform(0.01, 0.05, size=50)
    us = rng.normal(size=(50, 1))
    zs = rng.normal(scale=0.3, size=(50, 1))
    for z, dt, u in zip(zs, dts, us, strict=True):
        stepped.predict(dt, u)
        stepped.update(z)
    batched = fmitwin.ExtendedKalmanFilter(3, 1, process_model=model, measurement_model=h, **kwargs)
    out = batched.batch_filter(zs, dt=dts, u=us)
    np.testing.assert_array_equal(out.states[-1], stepped.x)
    np.testing.assert_array_equal(batched.P, stepped.P)
    np.testing.assert_array_equal(batched.u, us[-1])


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n, m", [(2, 1), (6, 3), (7, 2)])
def test_fleet_equals_separate_filters(n: int, m: int, threads: int) -> None:
    rng = np.random.default_rng(n + m)
    count, steps = 7, 40
    s = random_system(rng, n, m)
    x0 = rng.normal(size=(count, n))
    P0 = np.stack([s.P0 * (1 + i) for i in range(count)])
    zs = rng.normal(size=(steps, count, m))
    zs, _ = with_gaps(rng, zs)
    quality = rng.choice([1.0, 0.3, 0.0], size=(steps, count))
    fleet = fmitwin.FleetKalmanFilter(
        count,
        n,
        m,
        F=s.F,
        H=s.H,
        Q=s.Q,
        R=s.R,
        x0=x0,
        P0=P0,
        gate_probability=0.95,
        threads=threads,
    )
    first = fleet.run(zs[:30], quality=quality[:30])
    last = [fleet.step(zs[t], quality=quality[t]) for t in range(30, steps)]
    nis = np.concatenate([first.nis, [r.nis for r in last]])
    accepted = np.concatenate([first.accepted, [r.accepted for r in last]])
    for i in range(count):
        single = linear_filter(s, gate_probability=0.95)
        single.x, single.P = x0[i], P0[i]
        out = single.batch_filter(zs[:, i], quality=quality[:, i])
        np.testing.assert_array_equal(fleet.x[i], single.x)
        np.testing.assert_array_equal(fleet.P[i], single.P)
        np.testing.assert_array_equal(nis[:, i], out.nis)
        np.testing.assert_array_equal(accepted[:, i], out.accepted)


def test_fleet_broadcasts_initial_state() -> None:
    fleet = fmitwin.FleetKalmanFilter(
        3, 2, 1, F=np.eye(2), H=[[1.0, 0.0]], x0=[1.0, 2.0], P0=2 * np.eye(2)
    )
    np.testing.assert_array_equal(fleet.x, [[1.0, 2.0]] * 3)
    np.testing.assert_array_equal(fleet.P, [2 * np.eye(2)] * 3)
    assert relative_error(fleet.F, np.eye(2)) == 0.0
