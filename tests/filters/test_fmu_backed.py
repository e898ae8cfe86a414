"""FMU-backed EKF models: transition Jacobians, directional vs finite differences, estimation."""

from __future__ import annotations

import gc
import math

import fmitwin
import fmitwin.models
import numpy as np
import pytest
from fmitwin.estimation import fmu_models
from fmitwin.fmu import FmuError

C_TANK, T_AMB = 100.0 * 4186.0, 293.15
VERSIONS = pytest.mark.parametrize("version", [2, 3], ids=["fmi2", "fmi3"])


def _motor(version, jacobian, **kw):
    return fmu_models(
        fmitwin.models.path("dc_motor", version),
        measurements=["w", "tau_motor", "P_electric"],
        parameters=["R", "b"],
        jacobian=jacobian,
        solver="dopri45",
        rtol=1e-11,
        atol=1e-12,
        **kw,
    )


@VERSIONS
def test_directional_and_finite_difference_jacobians_agree(version):
    x = np.array([3.0, 40.0, 1.0, 1.1, 0.002])
    u = np.array([60.0, 0.3])
    directional, differences = _motor(version, "directional"), _motor(version, "finite_difference")
    assert (directional.jacobian, differences.jacobian) == ("directional", "finite_difference")
    assert directional.state_names == ("i", "w", "phi", "R", "b")
    x1, F1 = directional.process.propagate(x, u, 0.02)
    x2, F2 = differences.process.propagate(x, u, 0.02)
    np.testing.assert_allclose(x1, x2, rtol=1e-12)
    np.testing.assert_allclose(F1, F2, rtol=1e-6, atol=1e-8)
    z1, H1 = directional.measurement.measure(x1, u)
    z2, H2 = differences.measurement.measure(x2, u)
    np.testing.assert_allclose(z1, z2, rtol=1e-12)
    np.testing.assert_allclose(H1, H2, rtol=1e-6, atol=1e-8)
    # Exact measurement Jacobian: w is a state; tau_motor = k i; P_electric = V i.
    k, V = 0.7, u[0]
    np.testing.assert_allclose(H1[:, :3], [[0, 1, 0], [k, 0, 0], [V, 0, 0]], atol=1e-8)
    np.testing.assert_allclose(H1[:, 3:], 0.0, atol=1e-8)


def test_transition_jacobian_is_that_of_the_flow_over_dt():
    """F must be d x(t+dt) / d x(t) of the integrated flow, checked by differencing the propagated
    map; over a dt several times the electrical time constant it differs from I + A dt."""
    models = _motor(2, "directional")
    x = np.array([2.0, 30.0, 0.5, 1.2, 0.001])
    u = np.array([50.0, 0.2])
    dt = 0.05
    _, F = models.process.propagate(x, u, dt)
    numeric = np.empty_like(F)
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        plus, _ = models.process.propagate(x + e, u, dt)
        minus, _ = models.process.propagate(x - e, u, dt)
        numeric[:, j] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(F, numeric, rtol=1e-5, atol=1e-7)
    R, L = 1.2, 0.01
    euler_di_di = 1 - R / L * dt  # the (i, i) entry of I + A dt
    assert abs(F[0, 0] - euler_di_di) > 1.0


@VERSIONS
@pytest.mark.parametrize("solver", ["rk4", "dopri45"])
def test_heated_tank_step_matches_exponential_solution(version, solver):
    models = fmu_models(
        fmitwin.models.path("heated_tank", version),
        measurements=["T"],
        parameters=["UA"],
        solver=solver,
        step=60.0,
        rtol=1e-11,
        atol=1e-10,
    )
    T, UA, P, dt = 330.0, 50.0, 1200.0, 600.0
    x_next, F = models.process.propagate(np.array([T, UA]), np.array([P]), dt)
    T_inf = T_AMB + P / UA
    e = math.exp(-UA * dt / C_TANK)
    assert x_next[0] == pytest.approx(T_inf + (T - T_inf) * e, abs=1e-8)
    assert x_next[1] == UA
    dT_dUA = -P / UA**2 * (1 - e) + (T - T_inf) * (-dt / C_TANK) * e
    np.testing.assert_allclose(F, [[e, dT_dUA], [0, 1]], rtol=1e-7)


def _tank_reference_ekf(x0, P0, Q, R):
    """The same EKF with the analytic tank step (x = [T, UA]) as a Python process model."""

    def f(x, u, dt):
        T, UA = x
        T_inf = T_AMB + u[0] / UA
        return np.array([T_inf + (T - T_inf) * math.exp(-UA * dt / C_TANK), UA])

    def jacobian(x, u, dt):
        T, UA = x
        T_inf = T_AMB + u[0] / UA
        e = math.exp(-UA * dt / C_TANK)
        return np.array([[e, -u[0] / UA**2 * (1 - e) - (T - T_inf) * dt / C_TANK * e], [0, 1]])

    return fmitwin.ExtendedKalmanFilter(
        2,
        1,
        x0=x0,
        P0=P0,
        Q=Q,
        R=R,
        process_model=fmitwin.PythonProcessModel(f, jacobian, dim_x=2, dim_u=1),
        measurement_model=fmitwin.LinearMeasurementModel(np.array([[1.0, 0.0]])),
    )


def test_joint_state_parameter_estimation_of_the_heat_loss():
    """Truth: the tank with UA = 55 W/K simulated by fmitwin.simulate; the filter starts from the
    model's UA = 40 and must find 55 from noisy temperatures, exactly as an EKF on the analytic
    model does."""
    rng = np.random.default_rng(7)
    dt, steps = 300.0, 120
    times = np.arange(steps + 1) * dt
    power = np.where((times // 3600) % 2 == 0, 2500.0, 300.0)
    truth = fmitwin.simulate(
        fmitwin.models.path("heated_tank", 2),
        steps * dt,
        dt,
        kind="cs",
        start_values={"UA": 55.0, "cs_max_step": 1.0},
        inputs={"time": np.repeat(times, 2)[1:], "P_heater": np.repeat(power, 2)[:-1]},
    )
    z = truth["T"] + rng.normal(0.0, 0.05, truth["T"].size)
    models = fmu_models(
        fmitwin.models.path("heated_tank", 2),
        measurements=["T"],
        parameters=["UA"],
        solver="dopri45",
        rtol=1e-11,
        atol=1e-10,
    )
    P0, Q, R = np.diag([1.0, 100.0]), np.diag([1e-6, 1e-6]), np.array([[0.05**2]])
    ekf = models.filter(P0=P0, Q=Q, R=R)
    reference = _tank_reference_ekf(models.x0, P0, Q, R)
    np.testing.assert_allclose(models.x0, [293.15, 40.0])
    for k in range(1, steps + 1):
        u = np.array([power[k - 1]])
        for f in (ekf, reference):
            f.predict(dt, u)
            f.update(np.array([z[k]]))
        np.testing.assert_allclose(ekf.x, reference.x, rtol=1e-8)
        np.testing.assert_allclose(ekf.P, reference.P, rtol=1e-6, atol=1e-12)
    assert ekf.x[1] == pytest.approx(55.0, abs=1.0)
    assert abs(ekf.x[1] - 55.0) < 3 * math.sqrt(ekf.P[1, 1])


def test_bad_arguments_are_reported():
    path = fmitwin.models.path("dc_motor", 2)
    with pytest.raises(KeyError, match="measurements: .*'ww'.*Did you mean: w"):
        fmu_models(path, measurements=["ww"])
    with pytest.raises(ValueError, match="parameters: cs_max_step is a fixed parameter"):
        fmu_models(path, measurements=["w"], parameters=["cs_max_step"])
    with pytest.raises(ValueError, match="inputs: R is a parameter variable, not an input"):
        fmu_models(path, measurements=["w"], inputs=["R"])
    with pytest.raises(ValueError, match="jacobian: expected one of"):
        fmu_models(path, measurements=["w"], jacobian="analytic")
    models = fmu_models(path, measurements=["w"])
    with pytest.raises(ValueError, match=r"x must have shape \(3,\), got \(2,\)"):
        models.process.propagate(np.zeros(2), np.zeros(2), 0.01)
    with pytest.raises(ValueError, match=r"u must have shape \(2,\)"):
        models.process.propagate(np.zeros(3), np.zeros(1), 0.01)
    with pytest.raises(ValueError, match="dt must be a finite number >= 0"):
        models.process.propagate(np.zeros(3), np.zeros(2), -1.0)
    ekf = models.filter(P0=np.eye(3), Q=np.eye(3) * 1e-3, R=np.eye(1))
    before = ekf.x.copy()
    with pytest.raises(ValueError):
        ekf.predict(0.01, np.zeros(5))
    np.testing.assert_array_equal(ekf.x, before)  # a rejected predict leaves the filter unchanged
    assert isinstance(FmuError("x"), RuntimeError)


def test_filter_keeps_its_fmu_models_alive():
    """Only the filter references the models: their FMU instance must outlive a collection."""
    ekf = fmu_models(
        fmitwin.models.path("heated_tank"), measurements=["T"], parameters=["UA"]
    ).filter(P0=np.eye(2), Q=np.eye(2) * 1e-6, R=[[0.01]])
    gc.collect()
    ekf.predict(60.0, [1000.0])
    ekf.update([T_AMB])
    assert ekf.process_model.instance is ekf.measurement_model.instance
