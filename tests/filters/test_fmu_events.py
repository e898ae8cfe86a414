"""FMU-backed EKF/UKF across state events, on tests/fmus/bouncing_ball.c.

The ball falls from h = 1 (der(h) = v, der(v) = -g) and bounces: v := -e v when h falls through
0, where the restitution e acts only at the impact. Between impacts the flow is quadratic in
time, so the state after one located impact is known exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import fmitwin
import numpy as np
import pytest
from fmitwin.estimation import fmu_models

G = 9.81


@pytest.fixture(scope="module")
def ball(test_fmu) -> Path:
    return test_fmu("bouncing_ball", 2)


def _after_one_impact(h0: float, e: float, dt: float) -> tuple[float, float]:
    """(h, v) at dt, dropped from rest at h0, one impact on the way."""
    t_impact = math.sqrt(2 * h0 / G)
    v_up = e * G * t_impact
    r = dt - t_impact
    return v_up * r - 0.5 * G * r * r, v_up - G * r


def _jacobian_of_the_map(ball: Path, x: np.ndarray, dt: float, solver: str) -> np.ndarray:
    """d x_next / d x by central differences of whole predicts (fresh models each)."""
    columns = []
    for k in range(x.size):
        delta = np.zeros(x.size)
        delta[k] = 1e-6
        ends = [
            fmu_models(ball, measurements=["h"], parameters=["e"], solver=solver).process.propagate(
                x + sign * delta, None, dt
            )[0]
            for sign in (1, -1)
        ]
        columns.append((ends[0] - ends[1]) / 2e-6)
    return np.array(columns).T


@pytest.mark.parametrize("solver", ["rk4", "dopri45"])
def test_one_predict_across_an_impact_is_the_analytic_post_impact_state(ball, solver):
    models = fmu_models(ball, measurements=["h"], parameters=["e"], solver=solver)
    x = np.array([1.0, 0.0, 0.7])
    x_next, F = models.process.propagate(x, None, 0.5)
    np.testing.assert_allclose(x_next[:2], _after_one_impact(1.0, 0.7, 0.5), rtol=1e-9)
    assert x_next[2] == 0.7
    # F carries the impact (saltation): dv+/de = g t_impact, and matches the map's differences.
    assert F[1, 2] == pytest.approx(G * math.sqrt(2 / G), rel=1e-6)
    np.testing.assert_allclose(F, _jacobian_of_the_map(ball, x, 0.5, solver), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("unscented", [False, True], ids=["ekf", "ukf"])
def test_filters_track_impacts_within_3_sigma_and_recover_the_restitution(ball, unscented):
    dt, e_true = 0.02, 0.8
    truth = fmitwin.simulate(
        ball, 3.0, dt, kind="me", start_values={"e": e_true}, tolerance=1e-10, outputs=["h", "v"]
    )
    z = truth["h"] + np.random.default_rng(3).normal(0.0, 0.01, len(truth))
    models = fmu_models(ball, measurements=["h"], parameters=["e"])
    kalman = models.filter(
        unscented=unscented,
        x0=np.array([1.0, 0.0, 0.6]),
        P0=np.diag([1e-4, 1e-4, 0.04]),
        Q=np.diag([1e-10, 1e-8, 1e-10]),
        R=[[1e-4]],
    )
    inside = []
    for k in range(1, len(truth)):
        kalman.predict(dt)
        kalman.update([z[k]])
        x, P = np.asarray(kalman.x), np.asarray(kalman.P)
        error = np.array([truth["h"][k], truth["v"][k]]) - x[:2]
        inside.append(np.abs(error) <= 3 * np.sqrt(np.diag(P)[:2]))
    assert np.mean(inside) >= 0.95  # over 150 steps and 6 impacts
    e, sigma_e = kalman.x[2], math.sqrt(kalman.P[2, 2])
    assert abs(e - e_true) < 0.01
    assert abs(e - e_true) < 3 * sigma_e


def test_an_fmu_that_cannot_save_its_state_is_refused_at_an_event(test_fmu):
    models = fmu_models(test_fmu("bouncing_ball_stateless", 2), measurements=["h"])
    models.process.propagate(np.array([1.0, 0.0]), None, 0.1)  # no impact: fine
    with pytest.raises(fmitwin.FmuError, match="canGetAndSetFMUstate"):
        models.process.propagate(np.array([1.0, 0.0]), None, 0.5)


def test_a_time_event_at_the_end_of_a_predict_needs_no_saved_state(test_fmu):
    # toggler: der(x) = +1, flipping to -1 at t = 0.25 (a time event); it cannot save its state.
    models = fmu_models(test_fmu("toggler", 2), measurements=["x"])
    x, F = models.process.propagate(np.array([0.0]), None, 0.25)  # the event is at the end
    assert x[0] == pytest.approx(0.25) and F[0, 0] == pytest.approx(1.0)
    x, _ = models.process.propagate(x, None, 0.2)  # after the event: falling
    assert x[0] == pytest.approx(0.05)
    with pytest.raises(fmitwin.FmuError, match="canGetAndSetFMUstate"):
        models.process.propagate(x, None, 0.1)  # the event at 0.5 lies inside
