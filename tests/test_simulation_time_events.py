"""Model-exchange time events, on a test-only FMU built here from tests/fmus/toggler.c.

None of the bundled models announces time events, so this small FMI 2.0 FMU does: its rate
flips sign at every multiple of `period`, and an Integer output counts the flips.
"""

from __future__ import annotations

import math
from pathlib import Path

import fmitwin
import numpy as np
import pytest


@pytest.fixture(scope="module")
def toggler(test_fmu) -> Path:
    return test_fmu("toggler", 2)


def _triangle(t: np.ndarray, period: float) -> np.ndarray:
    k = np.floor(t / period + 1e-9)
    s = t - k * period
    return np.where(k % 2 == 0, s, period - s)


@pytest.mark.parametrize("solver", ["rk4", "dopri45"])
def test_time_events_end_steps_exactly(toggler, solver):
    result = fmitwin.simulate(
        toggler, 1.0, 0.1, kind="me", solver=solver, start_values={"period": 0.3}
    )
    period = 0.3
    np.testing.assert_allclose(result["x"], _triangle(result.time, period), rtol=0, atol=1e-12)
    # Outputs at a communication point are the values after an event at that same instant.
    flips = [sum(1 for k in range(1, 5) if k * period < t + 1e-12) for t in result.time]
    np.testing.assert_array_equal(result["n"], flips)
    assert result["n"].dtype == np.int64


def test_time_event_on_a_communication_point_is_handled_before_its_row(toggler):
    # period 0.25: the events at 0.5 and 1.0 fall on output points (0.1 * 5 == 0.5 exactly).
    result = fmitwin.simulate(toggler, 1.0, 0.1, kind="me", solver="dopri45")
    np.testing.assert_allclose(result["x"], _triangle(result.time, 0.25), rtol=0, atol=1e-12)
    assert result["n"][result.time == 0.5][0] == 2  # the event at 0.5 is handled (as CS, FMPy)
    assert result["n"][-1] == 4 and math.isclose(result.time[-1], 1.0)  # 1.0 included
