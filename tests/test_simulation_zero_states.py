"""Model exchange of an FMU without continuous states (block FMUs such as OpenModelica's Gain).

tests/fmus/gain.c returns fmi2Error when asked for derivatives or states it does not have, as
those FMUs do: a run must never ask.
"""

from __future__ import annotations

from pathlib import Path

import fmitwin
import fmpy
import numpy as np
import pytest


@pytest.fixture(scope="module")
def gain(test_fmu) -> Path:
    return test_fmu("gain", 2)


def _ramp() -> np.ndarray:
    return np.array([(0.0, 0.0), (1.0, 3.0)], dtype=[("time", float), ("u", float)])


@pytest.mark.parametrize("solver", ["dopri45", "rk4"])
def test_a_stateless_fmu_runs_and_matches_fmpy(gain, solver):
    ours = fmitwin.simulate(gain, 1.0, 0.1, kind="me", solver=solver, inputs=_ramp())
    theirs = fmpy.simulate_fmu(str(gain), output_interval=0.1, input=_ramp(), output=["y"])
    np.testing.assert_allclose(ours.time, theirs["time"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["y"], theirs["y"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["y"], 2.0 * 3.0 * ours.time, rtol=0, atol=1e-12)


def test_a_stateless_fmu_in_a_system(gain):
    system = fmitwin.System()
    system.add("g", gain, kind="me", start_values={"k": 4.0})
    system.add_input("u", "g.u")
    result = system.simulate(1.0, 0.25, inputs={"u": 0.5})
    np.testing.assert_array_equal(result["g.y"], 2.0)


def test_an_fmu_that_claims_undeclared_states_is_named_inconsistent(gain):
    with pytest.raises(fmitwin.FmuError, match="declares no continuous states"):
        fmitwin.simulate(gain, 1.0, 0.1, kind="me", start_values={"claim_states": 1})
