"""FMI 3.0 arrays on a 3-state StateSpace FMU of our own (der(x) = A x + B u, y = C x):
listed with their dimensions, simulated and recorded as flattened columns, checked against FMPy
and the analytic solution x(t) = expm(A t) x0; array start values of the right shape; the
structural parameter n set before initialisation."""

from __future__ import annotations

import fmitwin
import numpy as np
import pytest
from fmpy import simulate_fmu
from scipy.linalg import expm

A = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-6.0, -11.0, -6.0]])
X0 = np.array([1.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def state_space(test_fmu):
    return fmitwin.load_fmu(test_fmu("state_space", 3))


def analytic(a: np.ndarray, x0: np.ndarray, times: np.ndarray) -> np.ndarray:
    return np.array([expm(a * t) @ x0 for t in times])


def test_arrays_are_listed_with_their_dimensions(state_space):
    x, a = state_space.variables["x"], state_space.variables["A"]
    assert (x.dimensions, x.shape, a.dimensions, a.shape) == (("n",), (3,), ("n", "n"), (3, 3))
    np.testing.assert_array_equal(a.start, A)
    assert state_space.shapes({"n": 2}) == {
        "A": (2, 2),
        "B": (2,),
        "C": (2,),
        "x": (2,),
        "der(x)": (2,),
    }
    text = state_space.summary()
    assert "States (3): x[3]" in text
    assert (
        "A       2   parameter            fixed        Float64[n,n]  0 1 0 0 0 1 -6 -11 -6" in text
    )


def test_cosimulation_records_flattened_columns_identical_to_fmpy(state_space):
    result = fmitwin.simulate(state_space)
    assert result.names == ["x[1]", "x[2]", "x[3]", "y"]
    reference = simulate_fmu(str(state_space.path), output=["x", "y"], step_size=0.1)
    np.testing.assert_array_equal(result.time, reference["time"])
    for i in range(3):
        np.testing.assert_array_equal(result[f"x[{i + 1}]"], reference["x"][:, i])
    np.testing.assert_array_equal(result["y"], reference["y"])
    exact = analytic(A, X0, result.time)
    np.testing.assert_allclose(
        np.column_stack([result[f"x[{i}]"] for i in (1, 2, 3)]), exact, atol=1e-10
    )


def test_model_exchange_integrates_all_array_states(state_space):
    result = fmitwin.simulate(state_space, kind="me", rtol=1e-10, atol=1e-12)
    exact = analytic(A, X0, result.time)
    states = np.column_stack([result[f"x[{i}]"] for i in (1, 2, 3)])
    np.testing.assert_allclose(states, exact, atol=1e-8)
    np.testing.assert_allclose(result["y"], exact[:, 0], atol=1e-8)


def test_array_start_values_of_the_right_shape(state_space):
    a = np.diag([-1.0, -2.0, -4.0])
    x0 = [1.0, 2.0, 3.0]
    nested = fmitwin.simulate(state_space, start_values={"A": a.tolist(), "x": x0})
    flat = fmitwin.simulate(state_space, start_values={"A": a.ravel(), "x": np.array(x0)})
    np.testing.assert_array_equal(nested.data, flat.data)
    np.testing.assert_allclose(nested["x[3]"], 3.0 * np.exp(-4.0 * nested.time), rtol=1e-9)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (
            np.eye(2),
            ValueError,
            r"A is a Float64 array of shape \(3, 3\) \(9 values\), got shape \(2, 2\)",
        ),
        ([1.0, 2.0], ValueError, r"got shape \(2,\)"),
        ("identity", TypeError, "A is a Float64 array of shape \\(3, 3\\) and needs numbers"),
        (2.0, TypeError, "needs numbers of that shape, got float 2.0"),
    ],
)
def test_array_start_values_of_the_wrong_shape_or_type_are_named(
    state_space, value, error, message
):
    with pytest.raises(error, match=message):
        fmitwin.simulate(state_space, start_values={"A": value})


def test_the_structural_parameter_sets_the_array_sizes_before_initialisation(state_space):
    a = np.array([[0.0, 1.0], [-2.0, -3.0]])  # eigenvalues -1, -2
    values = {"n": 2, "A": a, "B": [0.0, 1.0], "C": [1.0, 0.0], "x": [1.0, 0.0]}
    for kind in ("cs", "me"):
        result = fmitwin.simulate(
            state_space, kind=kind, start_values=values, rtol=1e-10 if kind == "me" else None
        )
        assert result.names == ["x[1]", "x[2]", "y"]
        exact = analytic(a, np.array([1.0, 0.0]), result.time)
        np.testing.assert_allclose(
            np.column_stack([result["x[1]"], result["x[2]"]]), exact, atol=1e-8
        )
    with pytest.raises(
        ValueError, match=r"A is a Float64 array of shape \(2, 2\).*got shape \(3, 3\)"
    ):
        fmitwin.simulate(state_space, start_values={"n": 2, "A": A})


def test_an_input_table_cannot_drive_an_array(state_space):
    with pytest.raises(TypeError, match="inputs: x is an array; input tables drive scalar"):
        fmitwin.simulate(state_space, inputs={"time": [0.0], "x": [1.0]})


def test_a_system_instance_takes_the_structural_parameter_too(state_space):
    system = fmitwin.System()
    system.add(
        "s",
        state_space,
        kind="me",
        start_values={"n": 1, "A": [[-2.0]], "B": [0.0], "C": [1.0], "x": [1.0]},
    )
    result = system.simulate(2.0, 0.1, outputs=["s.y"], solver_rtol=1e-10, solver_atol=1e-12)
    np.testing.assert_allclose(result["s.y"], np.exp(-2.0 * result.time), rtol=1e-7)
