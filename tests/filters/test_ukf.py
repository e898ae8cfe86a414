"""The unscented Kalman filter: FilterPy and NumPy agreement, linear exactness, validation."""

from __future__ import annotations

import math
import threading
import zipfile

import fmitwin
import fmitwin.models
import numpy as np
import pytest
from filterpy.kalman import MerweScaledSigmaPoints
from filterpy.kalman import UnscentedKalmanFilter as FilterPyUKF
from fmitwin.estimation import fmu_models
from scipy.stats import chi2
from support.filter_reference import (
    linear_filter,
    random_spd,
    random_system,
    relative_error,
    simulate,
    ukf_predict,
    ukf_update,
)

# The damped pendulum of fmitwin.DampedPendulumModel, x = (theta, omega, c), integrated by RK4
# with the same substeps, and observed through the bob's position (a nonlinear measurement).
LENGTH, GRAVITY, MAX_STEP = 0.8, 9.80665, 0.01


def pendulum_step(x, u, dt):
    def rhs(s):
        return np.array([s[1], -(GRAVITY / LENGTH) * math.sin(s[0]) - s[2] * s[1] + u[0], 0.0])

    substeps = max(1, math.ceil(dt / MAX_STEP))
    h = dt / substeps
    x = np.array(x, dtype=float)
    for _ in range(substeps):
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * h * k1)
        k3 = rhs(x + 0.5 * h * k2)
        k4 = rhs(x + h * k3)
        x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def bob_position(x):
    return np.array([LENGTH * math.sin(x[0]), -LENGTH * math.cos(x[0])])


DT = 0.05
Q_PENDULUM = np.diag([1e-6, 1e-4, 1e-6])
R_PENDULUM = np.diag([0.02**2, 0.03**2])
X0, P0 = np.array([0.9, 0.0, 0.3]), np.diag([0.1, 0.2, 0.05])


def pendulum_data(steps=100, seed=3):
    """Inputs (T, 1) and noisy bob positions (T, 2) of a pendulum with damping 0.5 1/s."""
    rng = np.random.default_rng(seed)
    u = 0.5 * np.sin(0.3 * np.arange(steps))[:, None]
    x, z = np.array([1.0, 0.2, 0.5]), np.empty((steps, 2))
    for t in range(steps):
        x = pendulum_step(x, u[t], DT)
        z[t] = bob_position(x) + rng.normal(0.0, [0.02, 0.03])
    return u, z


def pendulum_ukf(native: bool, **kwargs) -> fmitwin.UnscentedKalmanFilter:
    process = (
        fmitwin.DampedPendulumModel(length=LENGTH, gravity=GRAVITY, max_step=MAX_STEP)
        if native
        else fmitwin.PythonProcessModel(pendulum_step, dim_x=3, dim_u=1)
    )
    return fmitwin.UnscentedKalmanFilter(
        3,
        2,
        x0=X0,
        P0=P0,
        Q=Q_PENDULUM,
        R=R_PENDULUM,
        process_model=process,
        measurement_model=fmitwin.PythonMeasurementModel(bob_position, dim_x=3, dim_z=2),
        **kwargs,
    )


@pytest.mark.parametrize("native", [False, True], ids=["python-model", "native-model"])
@pytest.mark.parametrize("alpha, beta, kappa", [(1.0, 2.0, 0.0), (0.3, 2.0, 1.0)])
def test_matches_filterpy_on_the_pendulum(native, alpha, beta, kappa) -> None:
    u, z = pendulum_data()
    ukf = pendulum_ukf(native, alpha=alpha, beta=beta, kappa=kappa)
    points = MerweScaledSigmaPoints(3, alpha=alpha, beta=beta, kappa=kappa)
    reference = FilterPyUKF(
        dim_x=3,
        dim_z=2,
        dt=DT,
        hx=bob_position,
        fx=lambda x, dt, u: pendulum_step(x, u, dt),
        points=points,
    )
    reference.x, reference.P = X0.copy(), P0.copy()
    reference.Q, reference.R = Q_PENDULUM.copy(), R_PENDULUM.copy()
    np.testing.assert_allclose(ukf.mean_weights, points.Wm, rtol=1e-14)
    np.testing.assert_allclose(ukf.covariance_weights, points.Wc, rtol=1e-14)
    np.testing.assert_allclose(ukf.sigma_points(), points.sigma_points(X0, P0), rtol=1e-14)
    for t in range(len(z)):
        ukf.predict(DT, u[t])
        reference.predict(u=u[t])
        np.testing.assert_allclose(ukf.x, reference.x, rtol=1e-9, atol=1e-12)
        assert relative_error(ukf.P, reference.P) < 1e-9
        ukf.update(z[t])
        # fmitwin redraws the update's sigma points from (x, P); FilterPy reuses the predicted ones
        reference.sigmas_f = points.sigma_points(reference.x, reference.P)
        reference.update(z[t])
        np.testing.assert_allclose(ukf.x, reference.x, rtol=1e-9, atol=1e-12)
        assert relative_error(ukf.P, reference.P) < 1e-9
    assert abs(ukf.x[2] - 0.5) < 3 * math.sqrt(ukf.P[2, 2])  # the damping is found


def test_equals_the_kalman_filter_on_a_linear_system() -> None:
    """The unscented transform is exact for linear models: UKF = EKF, with NaNs, quality, gate."""
    rng = np.random.default_rng(11)
    s = random_system(rng, 5, 3)
    _, z = simulate(rng, s, 80)
    z[rng.random(z.shape) < 0.15] = np.nan
    z[[10, 40]] += 25.0  # outliers for the gate
    quality = rng.uniform(0.2, 1.0, len(z))
    quality[[5, 6]] = 0.0
    ekf = linear_filter(s, gate_probability=0.999)
    ukf = fmitwin.UnscentedKalmanFilter(
        5,
        3,
        x0=s.x0,
        P0=s.P0,
        Q=s.Q,
        R=s.R,
        process_model=fmitwin.LinearProcessModel(s.F),
        measurement_model=fmitwin.LinearMeasurementModel(s.H),
        alpha=0.5,
        kappa=1.0,
        gate_probability=0.999,
    )
    gated = 0
    for t in range(len(z)):
        ekf.predict()
        ukf.predict()
        a = ekf.update(z[t], quality=quality[t])
        b = ukf.update(z[t], quality=quality[t])
        assert (a.accepted, a.gated) == (b.accepted, b.gated)
        np.testing.assert_array_equal(a.used, b.used)
        np.testing.assert_allclose([b.nis, b.log_likelihood], [a.nis, a.log_likelihood], rtol=1e-9)
        np.testing.assert_allclose(b.innovation, a.innovation, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.S, a.S, rtol=1e-9)
        assert relative_error(ukf.x, ekf.x) < 1e-9
        assert relative_error(ukf.P, ekf.P) < 1e-9
        gated += b.gated
    assert gated >= 2


def nonlinear_ukf(gate_probability=None) -> fmitwin.UnscentedKalmanFilter:
    """x = (a, b, c) seen through z = (a b, sin c, a + c^2)."""
    return fmitwin.UnscentedKalmanFilter(
        3,
        3,
        x0=[1.0, 0.5, 0.3],
        P0=random_spd(np.random.default_rng(5), 3),
        Q=0.01 * np.eye(3),
        R=np.diag([0.1, 0.05, 0.2]),
        process_model=fmitwin.PythonProcessModel(process_function, dim_x=3),
        measurement_model=fmitwin.PythonMeasurementModel(measure_function, dim_x=3, dim_z=3),
        alpha=0.7,
        gate_probability=gate_probability,
    )


def process_function(x, u, dt):
    return np.array([x[0] + dt * x[1], x[1] - dt * math.sin(x[0]), 0.95 * x[2]])


def measure_function(x):
    return np.array([x[0] * x[1], math.sin(x[2]), x[0] + x[2] ** 2])


@pytest.mark.parametrize(
    "z, quality",
    [
        ([0.6, 0.2, 1.2], 1.0),
        ([np.nan, 0.2, 1.2], 1.0),
        ([0.6, np.nan, np.nan], 0.4),
        ([0.6, 0.2, 1.2], 0.25),
        ([np.nan, np.nan, np.nan], 1.0),
        ([0.6, 0.2, 1.2], 0.0),
    ],
)
def test_partial_and_quality_updates_match_numpy(z, quality) -> None:
    ukf = nonlinear_ukf()
    x, P = ukf.x, ukf.P
    z = np.array(z)
    result = ukf.update(z, quality=quality)
    x_ref, P_ref, info = ukf_update(x, P, z, measure_function, ukf.R, quality, alpha=0.7)
    np.testing.assert_array_equal(result.used, info["used"])
    assert result.accepted == info["accepted"]
    np.testing.assert_allclose(ukf.x, x_ref, rtol=1e-12)
    np.testing.assert_allclose(ukf.P, P_ref, rtol=1e-10, atol=1e-14)
    if not info["used"].any():
        assert math.isnan(result.nis) and math.isnan(result.log_likelihood)
        assert np.isnan(result.innovation).all() and np.isnan(result.S).all()
        return
    used = info["used"]
    assert result.nis == pytest.approx(info["nis"], rel=1e-12)
    k = int(used.sum())
    expected_ll = -0.5 * (info["nis"] + np.linalg.slogdet(info["S"])[1] + k * math.log(2 * math.pi))
    assert result.log_likelihood == pytest.approx(expected_ll, rel=1e-12)
    np.testing.assert_allclose(result.innovation[used], info["y"], rtol=1e-12)
    assert np.isnan(result.innovation[~used]).all()
    np.testing.assert_allclose(result.S[np.ix_(used, used)], info["S"], rtol=1e-12)


def test_predict_matches_numpy_with_explicit_q() -> None:
    ukf = nonlinear_ukf()
    x, P = ukf.x, ukf.P
    Q = np.diag([0.2, 0.1, 0.3])
    ukf.predict(0.1, Q=Q)
    x_ref, P_ref = ukf_predict(x, P, lambda s: process_function(s, None, 0.1), Q, alpha=0.7)
    np.testing.assert_allclose(ukf.x, x_ref, rtol=1e-12)
    np.testing.assert_allclose(ukf.P, P_ref, rtol=1e-12)
    np.testing.assert_array_equal(ukf.P, ukf.P.T)


def test_gate_rejects_exactly_above_the_threshold() -> None:
    gates = chi2.ppf(0.95, np.arange(1, 4))
    rng = np.random.default_rng(2)
    rejected = accepted = 0
    for _ in range(40):
        ukf = nonlinear_ukf(gate_probability=0.95)
        before = ukf.get_state()
        z = measure_function(ukf.x) + rng.normal(0.0, 1.5, 3)
        z[rng.random(3) < 0.3] = np.nan
        result = ukf.update(z)
        _, _, info = ukf_update(before["x"], before["P"], z, measure_function, ukf.R, alpha=0.7)
        if not info["used"].any():
            continue
        over = info["nis"] > gates[int(info["used"].sum()) - 1]
        assert result.gated == over and result.accepted == (not over)
        if over:
            rejected += 1
            np.testing.assert_array_equal(ukf.x, before["x"])
            np.testing.assert_array_equal(ukf.P, before["P"])
        else:
            accepted += 1
    assert rejected > 3 and accepted > 3


@pytest.mark.parametrize("native", [False, True], ids=["python-model", "native-model"])
def test_batch_equals_steps(native) -> None:
    u, z = pendulum_data(steps=40)
    z[3, 0] = z[7] = np.nan
    quality = np.linspace(0.0, 1.0, len(z))
    dt = np.full(len(z), DT)
    stepped, batched = pendulum_ukf(native), pendulum_ukf(native)
    states, covariances, nis = [], [], []
    for t in range(len(z)):
        stepped.predict(dt[t], u[t])
        result = stepped.update(z[t], quality=quality[t])
        states.append(stepped.x)
        covariances.append(stepped.P)
        nis.append(result.nis)
    out = batched.batch_filter(z, dt, u, quality=quality)
    np.testing.assert_array_equal(out.states, states)
    np.testing.assert_array_equal(out.covariances, covariances)
    np.testing.assert_array_equal(out.nis, nis)
    assert not out.accepted[0] and not out.accepted[7]
    np.testing.assert_array_equal(batched.P, stepped.P)
    diagonal = pendulum_ukf(native).batch_filter(z, DT, u, quality=quality, covariances="diagonal")
    np.testing.assert_array_equal(diagonal.covariances, np.diagonal(out.covariances, 0, 1, 2))


def assert_unchanged(ukf: fmitwin.UnscentedKalmanFilter, before: dict) -> None:
    """The filter's get_state() is exactly `before`."""
    after = ukf.get_state()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


def test_snapshot_restores_everything() -> None:
    ukf = nonlinear_ukf(gate_probability=0.99)
    snapshot = ukf.get_state()
    ukf.predict(0.1)
    ukf.update([0.6, 0.2, 1.2])
    ukf.gate_probability = None
    ukf.set_state(snapshot)
    assert_unchanged(ukf, snapshot)
    assert ukf.gate_thresholds[1] == pytest.approx(chi2.ppf(0.99, 1))


def make_filter() -> fmitwin.UnscentedKalmanFilter:
    ukf = nonlinear_ukf(gate_probability=0.99)
    ukf.predict(0.1)
    ukf.update([0.6, 0.2, 1.2])
    return ukf


NON_SYMMETRIC = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
INDEFINITE = np.diag([1.0, -1.0, 1.0])

BAD_CALLS = [
    # (call, exception, words the message must contain)
    (lambda f: f.predict(-0.1), ValueError, ["dt", "-0.1"]),
    (lambda f: f.predict(math.inf), ValueError, ["dt"]),
    (lambda f: f.predict(Q=NON_SYMMETRIC), ValueError, ["Q", "symmetric"]),
    (lambda f: f.predict(Q=INDEFINITE), ValueError, ["Q", "semi-definite"]),
    (lambda f: f.predict(Q=np.eye(2)), ValueError, ["Q", "(3, 3)", "(2, 2)"]),
    (lambda f: f.predict(u=[1.0]), ValueError, ["u", "(0,)", "(1,)"]),
    (lambda f: f.predict(Q="abc"), TypeError, ["Q"]),
    (lambda f: f.update([1.0, 2.0]), ValueError, ["z", "(3,)", "(2,)"]),
    (lambda f: f.update([1.0, 2.0, np.inf]), ValueError, ["z", "inf"]),
    (lambda f: f.update([1.0, 2.0, 3.0], quality=1.5), ValueError, ["quality", "1.5"]),
    (lambda f: f.update([1.0, 2.0, 3.0], R=np.eye(2)), ValueError, ["R", "(3, 3)", "(2, 2)"]),
    (lambda f: f.update([1.0, 2.0, 3.0], R=INDEFINITE), ValueError, ["R", "definite"]),
    (lambda f: f.update([1.0, 2.0, 3.0], R=NON_SYMMETRIC), ValueError, ["R", "symmetric"]),
    (lambda f: setattr(f, "x", [1.0, 2.0]), ValueError, ["x", "(3,)", "(2,)"]),
    (lambda f: setattr(f, "x", [1.0, np.nan, 0.0]), ValueError, ["x", "finite"]),
    (lambda f: setattr(f, "P", INDEFINITE), ValueError, ["P", "positive definite"]),
    (lambda f: setattr(f, "P", np.eye(4)), ValueError, ["P", "(3, 3)", "(4, 4)"]),
    (lambda f: setattr(f, "Q", INDEFINITE), ValueError, ["Q", "semi-definite"]),
    (lambda f: setattr(f, "R", np.eye(2)), ValueError, ["R", "(3, 3)", "(2, 2)"]),
    (lambda f: setattr(f, "gate_probability", 1.5), ValueError, ["gate_probability"]),
    (
        lambda f: setattr(f, "process_model", fmitwin.LinearProcessModel(np.eye(2))),
        ValueError,
        ["process_model", "dim_x"],
    ),
    (lambda f: f.set_state({"x": [0.0, 0.0, 0.0]}), ValueError, ["missing"]),
    (lambda f: f.set_state({**f.get_state(), "P": -np.eye(3)}), ValueError, ["P"]),
    (lambda f: f.batch_filter(np.zeros((5, 2))), ValueError, ["z", "(T, 3)", "(5, 2)"]),
    (lambda f: f.batch_filter(np.zeros((5, 3)), dt=-1.0), ValueError, ["dt"]),
    (lambda f: f.batch_filter(np.zeros((5, 3)), covariances="some"), ValueError, ["covariances"]),
    (lambda f: f.sigma_points(P=INDEFINITE), RuntimeError, ["positive definite"]),
]


@pytest.mark.parametrize("call, error, words", BAD_CALLS)
def test_bad_input_is_named_and_changes_nothing(call, error, words) -> None:
    ukf = make_filter()
    before = ukf.get_state()
    with pytest.raises(error) as info:
        call(ukf)
    assert all(word in str(info.value) for word in words), (words, str(info.value))
    assert_unchanged(ukf, before)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"alpha": 0.0}, ["alpha", "> 0"]),
        ({"alpha": math.nan}, ["alpha"]),
        ({"beta": math.inf}, ["beta"]),
        ({"kappa": -3.0}, ["kappa", "n + lambda", "dim_x = 3"]),
        ({"kappa": -5.0}, ["kappa", "-dim_x"]),
        ({"x0": [1.0]}, ["x", "(3,)", "(1,)"]),
        ({"process_model": "f"}, ["process_model", "str"]),
    ],
)
def test_bad_construction(kwargs, words) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        fmitwin.UnscentedKalmanFilter(3, 1, **kwargs)
    for word in words:
        assert word in str(info.value), f"{word!r} not in {info.value}"


def test_missing_models_are_explained() -> None:
    ukf = fmitwin.UnscentedKalmanFilter(2, 1)
    with pytest.raises(ValueError, match="process_model"):
        ukf.predict()
    with pytest.raises(ValueError, match="measurement_model"):
        ukf.update([1.0])
    with pytest.raises(ValueError, match="process_model"):
        ukf.batch_filter(np.zeros((3, 1)))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_model_output_changes_nothing(bad) -> None:
    def h(x):
        return np.array([bad if x[0] > 0.5 else x[0]])

    ukf = fmitwin.UnscentedKalmanFilter(
        1,
        1,
        process_model=fmitwin.PythonProcessModel(lambda x, u, dt: x + 1.0, dim_x=1),
        measurement_model=fmitwin.PythonMeasurementModel(h, dim_x=1, dim_z=1),
    )
    before = ukf.get_state()
    with pytest.raises(RuntimeError, match="non-finite h"):
        ukf.update([0.0])
    ukf.process_model = fmitwin.PythonProcessModel(lambda x, u, dt: x + bad, dim_x=1)
    with pytest.raises(RuntimeError, match="non-finite state"):
        ukf.predict()
    with pytest.raises(RuntimeError, match="non-finite"):
        ukf.batch_filter(np.zeros((3, 1)))
    assert_unchanged(ukf, before)


def square_filter(R) -> fmitwin.UnscentedKalmanFilter:
    """f(x) = h(x) = x^2 around x = 0 with beta = -1: Wc_0 = -99.01 outweighs the outer points."""
    return fmitwin.UnscentedKalmanFilter(
        1,
        1,
        Q=[[0.0]],
        R=R,
        process_model=fmitwin.PythonProcessModel(lambda x, u, dt: x**2, dim_x=1),
        measurement_model=fmitwin.PythonMeasurementModel(lambda x: x**2, dim_x=1, dim_z=1),
        alpha=0.1,
        beta=-1.0,
    )


def test_covariances_that_lose_definiteness_are_refused() -> None:
    ukf = square_filter(R=[[0.5]])
    Wc = ukf.covariance_weights
    assert Wc[0] == pytest.approx(-99.01)
    before = ukf.get_state()
    with pytest.raises(RuntimeError, match="predict.*not positive definite.*unchanged"):
        ukf.predict()  # P = sum Wc (chi - x)^2 = -1
    with pytest.raises(RuntimeError, match="innovation covariance S is not positive definite"):
        ukf.update([1.0])  # S = -1 + 0.5
    ukf.measurement_model = fmitwin.PythonMeasurementModel(lambda x: x + x**2, dim_x=1, dim_z=1)
    with pytest.raises(RuntimeError, match="update.*not positive definite.*unchanged"):
        ukf.update([1.0])  # S = 0 + 0.5, Pxz = 1: P - Pxz S^-1 Pxz' = -1
    assert_unchanged(ukf, before)


def test_failing_model_in_a_batch_changes_nothing() -> None:
    calls = []

    def h(x):
        calls.append(x[0])
        if len(calls) > 6:  # 3 sigma points per update: the third update fails
            raise ArithmeticError("model failed")
        return x

    ukf = fmitwin.UnscentedKalmanFilter(
        1,
        1,
        process_model=fmitwin.LinearProcessModel([[0.9]]),
        measurement_model=fmitwin.PythonMeasurementModel(h, dim_x=1, dim_z=1),
    )
    before = ukf.get_state()
    with pytest.raises(ArithmeticError, match="model failed"):
        ukf.batch_filter(np.ones((5, 1)))  # in a GIL-free loop, after two applied steps
    assert len(calls) == 7
    assert_unchanged(ukf, before)


def test_concurrent_use_during_a_gil_free_predict_is_rejected() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(x, u, dt):
        entered.set()
        release.wait(10)
        return x

    ukf = fmitwin.UnscentedKalmanFilter(
        1, 1, process_model=fmitwin.PythonProcessModel(slow, dim_x=1)
    )
    worker = threading.Thread(target=ukf.predict)
    worker.start()
    assert entered.wait(10)
    try:
        with pytest.raises(RuntimeError, match="another thread"):
            ukf.predict()
        with pytest.raises(RuntimeError, match="another thread"):
            _ = ukf.P
    finally:
        release.set()
        worker.join()


C_TANK, T_AMB = 100.0 * 4186.0, 293.15


def tank_step(x, u, dt):
    """The heated tank's exact step, x = (T, UA), u = (P_heater,)."""
    T, UA = x
    T_inf = T_AMB + u[0] / UA
    return np.array([T_inf + (T - T_inf) * math.exp(-UA * dt / C_TANK), UA])


@pytest.mark.parametrize("version", [2, 3], ids=["fmi2", "fmi3"])
def test_fmu_backed_models(version) -> None:
    """The UKF on the heated tank FMU's models equals the UKF on the tank's exact solution."""
    models = fmu_models(
        fmitwin.models.path("heated_tank", version),
        measurements=["T"],
        parameters=["UA"],
        solver="dopri45",
        rtol=1e-11,
        atol=1e-10,
    )
    settings = {
        "x0": models.x0,
        "P0": np.diag([1.0, 100.0]),
        "Q": np.diag([1e-6, 1e-6]),
        "R": np.array([[0.05**2]]),
        "alpha": 0.5,
    }
    ukf = fmitwin.UnscentedKalmanFilter(
        2,
        1,
        process_model=models.process,
        measurement_model=models.measurement,
        state_names=models.state_names,
        **settings,
    )
    reference = fmitwin.UnscentedKalmanFilter(
        2,
        1,
        process_model=fmitwin.PythonProcessModel(tank_step, dim_x=2, dim_u=1),
        measurement_model=fmitwin.LinearMeasurementModel([[1.0, 0.0]]),
        **settings,
    )
    rng = np.random.default_rng(4)
    dt, truth = 300.0, np.array([293.15, 55.0])
    power = np.where(np.arange(40) % 24 < 12, 2500.0, 300.0)[:, None]
    for t in range(len(power)):
        truth = tank_step(truth, power[t], dt)
        z = truth[:1] + rng.normal(0.0, 0.05, 1)
        for f in (ukf, reference):
            f.predict(dt, power[t])
            f.update(z)
        np.testing.assert_allclose(ukf.x, reference.x, rtol=1e-8)
        np.testing.assert_allclose(ukf.P, reference.P, rtol=1e-6, atol=1e-12)
    out = fmitwin.UnscentedKalmanFilter(
        2, 1, process_model=models.process, measurement_model=models.measurement, **settings
    ).batch_filter(np.full((3, 1), 300.0), dt, power[:3])
    assert out.accepted.all()
    assert ukf.named_state()["UA"] == pytest.approx(55.0, abs=3 * math.sqrt(ukf.P[1, 1]))


def test_fmu_clock_advances_once_per_step_whatever_the_sigma_points() -> None:
    """The FMU-backed process model runs every sigma point from the step's start time."""
    models = fmu_models(fmitwin.models.path("heated_tank", 2), measurements=["T"])
    ukf = models.filter(unscented=True, P0=[[1.0]], Q=[[1e-4]], R=[[0.01]])
    assert isinstance(ukf, fmitwin.UnscentedKalmanFilter)
    simulator = models.process.instance.simulator
    for step in range(1, 4):
        ukf.predict(60.0, [1000.0])
        assert simulator.time == pytest.approx(60.0 * step)
        ukf.update([ukf.x[0]])
    ekf = models.filter(P0=[[1.0]], Q=[[1e-4]], R=[[0.01]])
    assert isinstance(ekf, fmitwin.ExtendedKalmanFilter)


def test_fmu_that_cannot_save_its_state_is_refused_clearly(tmp_path) -> None:
    """An FMU whose model description says it cannot get and set its state cannot rewind between
    sigma points: the UKF's predict says so and leaves the filter as it was; the EKF still runs."""
    directory = tmp_path / "heated_tank"
    with zipfile.ZipFile(fmitwin.models.path("heated_tank", 2)) as archive:
        archive.extractall(directory)
    description = directory / "modelDescription.xml"
    description.write_text(
        description.read_text().replace(
            'canGetAndSetFMUstate="true"', 'canGetAndSetFMUstate="false"'
        )
    )
    models = fmu_models(directory, measurements=["T"])
    ukf = models.filter(unscented=True, P0=[[1.0]], Q=[[1e-4]], R=[[0.01]])
    before = ukf.get_state()
    with pytest.raises(fmitwin.FmuError, match="canGetAndSetFMUstate.*ExtendedKalmanFilter"):
        ukf.predict(60.0, [1000.0])
    assert_unchanged(ukf, before)
    assert models.process.instance.simulator.time == 0.0
    ekf = models.filter(P0=[[1.0]], Q=[[1e-4]], R=[[0.01]])
    ekf.predict(60.0, [1000.0])
    assert ekf.x[0] > before["x"][0]
