"""Process and measurement models (native, linear, Python-callable) and filter consistency."""

from __future__ import annotations

import fmitwin
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.stats import chi2
from support.filter_reference import linear_filter, random_system, simulate


def pendulum_rhs(length, gravity, u):
    def rhs(_t, x):
        return [x[1], -(gravity / length) * np.sin(x[0]) - x[2] * x[1] + u, 0.0]

    return rhs


def numeric_jacobian(fun, x, step=1e-6):
    columns = []
    for i in range(len(x)):
        dx = np.zeros(len(x))
        dx[i] = step
        columns.append((fun(x + dx) - fun(x - dx)) / (2 * step))
    return np.array(columns).T


@pytest.mark.parametrize("x0, u", [([0.3, 0.0, 0.1], 0.0), ([2.5, -1.0, 0.4], 0.7)])
def test_pendulum_matches_solve_ivp(x0, u) -> None:
    model = fmitwin.DampedPendulumModel(length=0.8, max_step=1e-3)
    x_next, _ = model.propagate(x0, [u], 0.5)
    ref = solve_ivp(
        pendulum_rhs(0.8, 9.80665, u), (0, 0.5), x0, method="DOP853", rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(x_next, ref.y[:, -1], rtol=1e-9, atol=1e-10)


def test_pendulum_jacobians_analytic_and_finite_difference_agree() -> None:
    x, u, dt = np.array([1.2, 0.5, 0.3]), np.array([0.2]), 0.1
    analytic = fmitwin.DampedPendulumModel(length=1.0)
    numeric = fmitwin.DampedPendulumModel(length=1.0, analytic_jacobian=False)
    _, F_analytic = analytic.propagate(x, u, dt)
    x_fd, F_numeric = numeric.propagate(x, u, dt)
    F_reference = numeric_jacobian(lambda xs: analytic.propagate(xs, u, dt)[0], x)
    np.testing.assert_allclose(F_analytic, F_reference, atol=1e-8)
    np.testing.assert_allclose(F_numeric, F_reference, atol=1e-8)
    np.testing.assert_array_equal(x_fd, analytic.propagate(x, u, dt)[0])
    assert analytic.state_dim == 3 and analytic.input_dim == 1


def test_linear_models_with_input() -> None:
    F = np.array([[1.0, 0.1], [0.0, 1.0]])
    B = np.array([[0.005], [0.1]])
    model = fmitwin.LinearProcessModel(F, B)
    x_next, F_out = model.propagate([1.0, 2.0], [3.0], 0.1)
    np.testing.assert_allclose(x_next, F @ [1.0, 2.0] + B @ [3.0])
    np.testing.assert_array_equal(F_out, F)
    np.testing.assert_array_equal(model.B, B)
    H = np.array([[1.0, 0.0]])
    z, H_out = fmitwin.LinearMeasurementModel(H).measure([1.0, 2.0])
    np.testing.assert_array_equal(z, [1.0])
    np.testing.assert_array_equal(H_out, H)
    ekf = fmitwin.ExtendedKalmanFilter(2, 1, process_model=model, x0=[1.0, 2.0])
    ekf.predict(0.1, [3.0])
    np.testing.assert_allclose(ekf.x, x_next)
    np.testing.assert_array_equal(ekf.u, [3.0])


def test_python_models_with_and_without_jacobians() -> None:
    def f(x, u, dt):
        return np.array([x[0] + dt * np.sin(x[1]), x[1] + dt * u[0]])

    def f_jacobian(x, u, dt):
        return np.array([[1.0, dt * np.cos(x[1])], [0.0, 1.0]])

    def h(x):
        return np.array([x[0] ** 2])

    def h_jacobian(x):
        return np.array([[2 * x[0], 0.0]])

    kwargs = dict(x0=[1.0, 0.5], P0=np.eye(2), Q=0.01 * np.eye(2), R=[[0.1]])
    exact = fmitwin.ExtendedKalmanFilter(
        2,
        1,
        process_model=fmitwin.PythonProcessModel(f, f_jacobian, dim_x=2, dim_u=1),
        measurement_model=fmitwin.PythonMeasurementModel(h, h_jacobian, dim_x=2, dim_z=1),
        **kwargs,
    )
    numeric = fmitwin.ExtendedKalmanFilter(
        2,
        1,
        process_model=fmitwin.PythonProcessModel(f, dim_x=2, dim_u=1),
        measurement_model=fmitwin.PythonMeasurementModel(h, dim_x=2, dim_z=1),
        **kwargs,
    )
    for ekf in (exact, numeric):
        for z in (1.2, 1.5, 1.1):
            ekf.predict(0.1, [0.3])
            ekf.update([z])
    np.testing.assert_allclose(numeric.x, exact.x, rtol=1e-8)
    np.testing.assert_allclose(numeric.P, exact.P, rtol=1e-7)


def test_named_states_and_measurements() -> None:
    ekf = fmitwin.ExtendedKalmanFilter(
        2, 2, x0=[1.0, 2.0], state_names=["angle", "rate"], measurement_names=["enc", "gyro"]
    )
    assert ekf.named_state() == {"angle": 1.0, "rate": 2.0}
    np.testing.assert_array_equal(ekf.measurement_vector({"gyro": 3.0}), [np.nan, 3.0])
    with pytest.raises(ValueError, match="unknown measurement names"):
        ekf.measurement_vector({"speed": 1.0})
    np.testing.assert_array_equal(ekf.std, [1.0, 1.0])


def test_snapshot_restores_everything() -> None:
    ekf = fmitwin.ExtendedKalmanFilter(
        1, 1, process_model=fmitwin.LinearProcessModel([[1.0]], [[1.0]]), gate_probability=0.9
    )
    snapshot = ekf.get_state()
    ekf.predict(u=[2.0])
    ekf.update([5.0], H=[[1.0]])
    ekf.gate_probability = None
    ekf.set_state(snapshot)
    for key, value in ekf.get_state().items():
        np.testing.assert_array_equal(value, snapshot[key], err_msg=key)
    assert ekf.gate_thresholds[1] == pytest.approx(chi2.ppf(0.9, 1))


def test_filter_is_consistent_nees_and_nis() -> None:
    """Average NEES and NIS of a filter that knows the true noise lie in their 95% bounds."""
    rng = np.random.default_rng(42)
    n, m, steps = 4, 2, 1000
    s = random_system(rng, n, m)
    truth, zs = simulate(rng, s, steps)
    out = linear_filter(s).batch_filter(zs)
    errors = truth - out.states
    nees = np.einsum("ti,tij,tj->t", errors, np.linalg.inv(out.covariances), errors)
    for average, dof in ((nees.mean(), n), (out.nis.mean(), m)):
        low, high = chi2.ppf([0.025, 0.975], dof * steps) / steps
        assert low <= average <= high, (average, low, high)
