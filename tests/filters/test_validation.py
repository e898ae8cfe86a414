"""Bad input to the filter and fleet: clear errors naming the argument, and nothing changed."""

from __future__ import annotations

import math
import threading

import fmitwin
import numpy as np
import pytest


def make_filter() -> fmitwin.ExtendedKalmanFilter:
    F = np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.1], [0.0, 0.0, 1.0]])
    H = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    ekf = fmitwin.ExtendedKalmanFilter(
        3,
        2,
        x0=[1.0, 2.0, 3.0],
        P0=np.diag([1.0, 2.0, 3.0]),
        Q=0.01 * np.eye(3),
        R=0.5 * np.eye(2),
        process_model=fmitwin.LinearProcessModel(F),
        measurement_model=fmitwin.LinearMeasurementModel(H),
        gate_probability=0.99,
    )
    ekf.predict()
    ekf.update([1.1, 2.2])
    return ekf


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


NON_SYMMETRIC = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
INDEFINITE = np.diag([1.0, -1.0, 1.0])

BAD_CALLS = [
    # (call, exception, words the message must contain)
    (lambda f: f.predict(-0.1), ValueError, ["dt", "-0.1"]),
    (lambda f: f.predict(math.nan), ValueError, ["dt"]),
    (lambda f: f.predict(F=np.eye(2)), ValueError, ["F", "(3, 3)", "(2, 2)"]),
    (lambda f: f.predict(F=np.full((3, 3), np.inf)), ValueError, ["F", "finite"]),
    (lambda f: f.predict(Q=NON_SYMMETRIC), ValueError, ["Q", "symmetric"]),
    (lambda f: f.predict(Q=INDEFINITE), ValueError, ["Q", "semi-definite"]),
    (lambda f: f.predict(Q=np.eye(3)[:2]), ValueError, ["Q", "(3, 3)", "(2, 3)"]),
    (lambda f: f.predict(u=[1.0]), ValueError, ["u", "(0,)", "(1,)"]),
    (lambda f: f.predict(F=np.eye(3), u=[1.0]), ValueError, ["u", "F"]),
    (lambda f: f.predict(F="abc"), TypeError, ["F"]),
    (lambda f: f.update([1.0, 2.0, 3.0]), ValueError, ["z", "(2,)", "(3,)"]),
    (lambda f: f.update([[1.0], [2.0]]), ValueError, ["z", "(2,)", "(2, 1)"]),
    (lambda f: f.update([1.0, np.inf]), ValueError, ["z", "inf"]),
    (lambda f: f.update(["a", "b"]), TypeError, ["z"]),
    (lambda f: f.update([1.0, 2.0], quality=1.5), ValueError, ["quality", "1.5"]),
    (lambda f: f.update([1.0, 2.0], quality=-0.1), ValueError, ["quality"]),
    (lambda f: f.update([1.0, 2.0], H=np.eye(3)), ValueError, ["H", "(2, 3)", "(3, 3)"]),
    (lambda f: f.update([1.0, 2.0], R=np.diag([1.0, 0.0])), ValueError, ["R", "definite"]),
    (lambda f: f.update([1.0, 2.0], R=[[1.0, 0.2], [0.1, 1.0]]), ValueError, ["R", "symmetric"]),
    (lambda f: f.update([1.0, 2.0], R=[[1.0, np.nan], [np.nan, 1]]), ValueError, ["R", "finite"]),
    (lambda f: setattr(f, "x", [1.0, 2.0]), ValueError, ["x", "(3,)", "(2,)"]),
    (lambda f: setattr(f, "x", [1.0, np.nan, 0.0]), ValueError, ["x", "finite"]),
    (lambda f: setattr(f, "P", INDEFINITE), ValueError, ["P", "positive definite"]),
    (lambda f: setattr(f, "P", NON_SYMMETRIC), ValueError, ["P", "symmetric"]),
    (lambda f: setattr(f, "P", np.eye(4)), ValueError, ["P", "(3, 3)", "(4, 4)"]),
    (lambda f: setattr(f, "Q", INDEFINITE), ValueError, ["Q", "semi-definite"]),
    (lambda f: setattr(f, "R", np.eye(3)), ValueError, ["R", "(2, 2)", "(3, 3)"]),
    (lambda f: setattr(f, "gate_probability", 1.5), ValueError, ["gate_probability"]),
    (
        lambda f: setattr(f, "process_model", fmitwin.LinearProcessModel(np.eye(2))),
        ValueError,
        ["process_model", "dim_x"],
    ),
    (
        lambda f: setattr(f, "measurement_model", fmitwin.LinearMeasurementModel(np.eye(3))),
        ValueError,
        ["measurement_model"],
    ),
    (lambda f: f.set_state({"x": [0.0, 0.0, 0.0]}), ValueError, ["missing"]),
    (lambda f: f.set_state({**f.get_state(), "R": -np.eye(2)}), ValueError, ["R"]),
    (lambda f: f.set_state({**f.get_state(), "gate_probability": 2.0}), ValueError, ["gate"]),
    (lambda f: f.batch_filter(np.zeros((5, 3))), ValueError, ["z", "(T, 2)", "(5, 3)"]),
    (lambda f: f.batch_filter(np.zeros((5, 2)), dt=-1.0), ValueError, ["dt"]),
    (lambda f: f.batch_filter(np.zeros((5, 2)), dt=np.ones(4)), ValueError, ["dt", "(5,)"]),
    (lambda f: f.batch_filter(np.full((5, 2), np.inf)), ValueError, ["z", "inf"]),
    (lambda f: f.batch_filter(np.zeros((5, 2)), quality=np.full(5, 2.0)), ValueError, ["quality"]),
    (lambda f: f.batch_filter(np.zeros((5, 2)), covariances="some"), ValueError, ["covariances"]),
]


@pytest.mark.parametrize("call, error, words", BAD_CALLS)
def test_bad_input_is_named_and_changes_nothing(call, error, words) -> None:
    ekf = make_filter()
    before = ekf.get_state()
    with pytest.raises(error) as info:
        call(ekf)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert_same_state(ekf.get_state(), before)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"dim_x": 0, "dim_z": 1}, ["dim_x"]),
        ({"dim_x": 2, "dim_z": 0}, ["dim_z"]),
        ({"dim_x": 2, "dim_z": 1, "x0": [1.0]}, ["x", "(2,)", "(1,)"]),
        ({"dim_x": 2, "dim_z": 1, "P0": np.eye(3)}, ["P", "(2, 2)"]),
        ({"dim_x": 2, "dim_z": 1, "state_names": ["a"]}, ["state_names"]),
        ({"dim_x": 2, "dim_z": 1, "state_names": ["a", "a"]}, ["state_names", "unique"]),
        ({"dim_x": 2, "dim_z": 1, "process_model": "f"}, ["process_model", "str"]),
    ],
)
def test_bad_construction(kwargs, words) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        fmitwin.ExtendedKalmanFilter(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_missing_models_are_explained() -> None:
    ekf = fmitwin.ExtendedKalmanFilter(2, 1)
    with pytest.raises(ValueError, match="F=.*process_model"):
        ekf.predict()
    with pytest.raises(ValueError, match="H=.*measurement_model"):
        ekf.update([1.0])
    with pytest.raises(ValueError, match="process_model"):
        ekf.batch_filter(np.zeros((3, 1)))


def test_failing_python_model_changes_nothing() -> None:
    def f(x, u, dt):
        if x[0] > 0.5:
            raise ArithmeticError("model failed")
        return x + 1.0

    ekf = fmitwin.ExtendedKalmanFilter(
        1,
        1,
        process_model=fmitwin.PythonProcessModel(f, dim_x=1),
        measurement_model=fmitwin.LinearMeasurementModel([[1.0]]),
    )
    ekf.predict()
    before = ekf.get_state()
    with pytest.raises(ArithmeticError):
        ekf.predict()
    assert_same_state(ekf.get_state(), before)
    with pytest.raises(ArithmeticError):
        ekf.batch_filter(np.zeros((4, 1)))  # fails on its first step, in a GIL-free loop
    assert_same_state(ekf.get_state(), before)


def test_python_model_with_wrong_output_shape() -> None:
    model = fmitwin.PythonProcessModel(lambda x, u, dt: np.zeros(3), dim_x=2)
    ekf = fmitwin.ExtendedKalmanFilter(2, 1, process_model=model)
    with pytest.raises(ValueError, match=r"f\(x, u, dt\) must have shape \(2,\), got \(3,\)"):
        ekf.predict()


def test_diverging_batch_changes_nothing() -> None:
    ekf = fmitwin.ExtendedKalmanFilter(
        1,
        1,
        process_model=fmitwin.LinearProcessModel([[1e200]]),
        measurement_model=fmitwin.LinearMeasurementModel([[0.0]]),
    )
    before = ekf.get_state()
    with pytest.raises(RuntimeError, match="non-finite"):
        ekf.batch_filter(np.zeros((10, 1)))
    assert_same_state(ekf.get_state(), before)


def make_fleet(**kwargs) -> fmitwin.FleetKalmanFilter:
    return fmitwin.FleetKalmanFilter(
        4, 2, 1, F=[[1.0, 1.0], [0.0, 1.0]], H=[[1.0, 0.0]], Q=0.1 * np.eye(2), **kwargs
    )


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda f: f.run(np.zeros((3, 4, 2))), ValueError, ["z", "(T, 4, 1)", "(3, 4, 2)"]),
        (lambda f: f.run(np.full((3, 4, 1), np.inf)), ValueError, ["z", "inf"]),
        (
            lambda f: f.run(np.zeros((3, 4, 1)), quality=np.zeros((3, 5))),
            ValueError,
            ["quality", "(3, 4)"],
        ),
        (
            lambda f: f.run(np.zeros((3, 4, 1)), quality=np.full((3, 4), 3.0)),
            ValueError,
            ["quality"],
        ),
        (lambda f: f.step(np.zeros(4)), ValueError, ["z", "(4, 1)"]),
        (lambda f: setattr(f, "x", np.zeros((3, 2))), ValueError, ["x", "(4, 2)", "(3, 2)"]),
        (
            lambda f: setattr(f, "P", np.stack([np.eye(2)] * 3 + [-np.eye(2)])),
            ValueError,
            ["P[3]", "positive definite"],
        ),
        (lambda f: setattr(f, "F", np.eye(3)), ValueError, ["F", "(2, 2)"]),
        (lambda f: setattr(f, "R", [[0.0]]), ValueError, ["R", "definite"]),
        (lambda f: setattr(f, "threads", 0), ValueError, ["threads"]),
    ],
)
def test_fleet_bad_input_changes_nothing(call, error, words) -> None:
    fleet = make_fleet()
    fleet.run(np.ones((2, 4, 1)))
    before = (fleet.x, fleet.P)
    with pytest.raises(error) as info:
        call(fleet)
    for word in words:
        assert word in str(info.value)
    np.testing.assert_array_equal(fleet.x, before[0])
    np.testing.assert_array_equal(fleet.P, before[1])


def test_fleet_divergence_changes_no_filter() -> None:
    fleet = fmitwin.FleetKalmanFilter(3, 1, 1, F=[[1e200]], H=[[0.0]], threads=2)
    before = (fleet.x, fleet.P)
    with pytest.raises(RuntimeError, match="non-finite"):
        fleet.run(np.zeros((5, 3, 1)))
    np.testing.assert_array_equal(fleet.x, before[0])
    np.testing.assert_array_equal(fleet.P, before[1])


@pytest.mark.parametrize(
    "call",
    [
        lambda ekf: ekf.batch_filter(np.zeros((1, 1))),
        lambda ekf: ekf.predict(),  # a nonlinear model's step runs without the GIL too
    ],
)
def test_concurrent_use_during_a_gil_free_call_is_rejected(call) -> None:
    gate = threading.Event()
    release = threading.Event()

    def slow(x, u, dt):
        gate.set()
        release.wait(10)
        return x

    ekf = fmitwin.ExtendedKalmanFilter(
        1,
        1,
        process_model=fmitwin.PythonProcessModel(slow, dim_x=1),
        measurement_model=fmitwin.LinearMeasurementModel([[1.0]]),
    )
    worker = threading.Thread(target=call, args=(ekf,))
    worker.start()
    assert gate.wait(10)
    try:
        with pytest.raises(RuntimeError, match="another thread"):
            ekf.predict()
        with pytest.raises(RuntimeError, match="another thread"):
            _ = ekf.x
    finally:
        release.set()
        worker.join(10)
    assert ekf.x.shape == (1,)
