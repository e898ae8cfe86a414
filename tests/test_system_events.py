"""System runs that an FMU ends (tests/fmus/stair.c asks to terminate at t = 9), and what the
recorded rows satisfy under Jacobi and Gauss-Seidel (the bundled heated tank)."""

from __future__ import annotations

from pathlib import Path

import fmitwin
import fmitwin.models
import fmpy
import numpy as np
import pytest
from fmitwin.system import System


@pytest.fixture(scope="module")
def stair(test_fmu) -> Path:
    return test_fmu("stair", 2)


def test_an_fmu_ending_the_run_ends_the_system_cleanly_there(stair):
    system = System()
    system.add("s", stair)
    result = system.simulate(10.0, 0.2)
    theirs = fmpy.simulate_fmu(str(stair), output=["counter"])  # as simulate and FMPy
    np.testing.assert_allclose(result.time, theirs["time"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result["s.counter"], theirs["counter"])
    assert result.terminated_by_fmu
    with system.start(0.2, stop_time=10.0) as run:
        assert run.advance_to(10.0) == pytest.approx(9.0)
        assert run.termination == ("s", pytest.approx(9.0))
        assert run.advance_to(10.0) == pytest.approx(9.0)  # no further


def test_a_termination_inside_a_step_ends_at_the_last_common_point(stair):
    system = System()
    system.add("s", stair)
    result = system.simulate(10.0, 0.4)  # 8.8 -> 9.2: the FMU stops at 9
    assert result.time[-1] == pytest.approx(8.8) and result.terminated_by_fmu


def test_core_failures_are_fmu_errors(stair):
    motor = fmitwin.load_fmu(fmitwin.models.path("dc_motor"))
    system = System()
    system.add("m1", motor)
    system.add("m2", motor)
    system.connect("m1.P_electric", "m2.V", offset=5.0)
    system.connect("m2.P_electric", "m1.V", offset=5.0)
    with pytest.raises(fmitwin.FmuError, match="did not converge"):
        system.simulate(0.2, 1e-3)
    frozen = System()
    frozen.add("s", stair)
    with pytest.raises(fmitwin.FmuError, match="canGetAndSetFMUstate"):
        frozen.simulate(1.0, 0.1, method="variable")


@pytest.mark.parametrize(
    ("method", "order"), [("jacobi", None), ("gauss_seidel", None), ("gauss_seidel", ["b", "a"])]
)
def test_recorded_rows_satisfy_the_connection_equations(tank, method, order):
    system = System()
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank)
    system.connect("a.Q_loss", "b.P_heater", factor=0.5)
    system.connect("b.Q_loss", "a.P_heater")  # feedback: against the order for one of them
    result = system.simulate(
        600.0,
        60.0,
        method=method,
        order=order,
        outputs=["a.Q_loss", "b.P_heater", "b.Q_loss", "a.P_heater"],
    )
    np.testing.assert_array_equal(result["b.P_heater"], 0.5 * result["a.Q_loss"])
    np.testing.assert_array_equal(result["a.P_heater"], result["b.Q_loss"])
