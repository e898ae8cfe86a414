"""Rows at event instants, on test-only FMUs: tests/fmus/stair.c (time events on communication
points, a terminating event; model exchange and co-simulation in one FMU) and
tests/fmus/bouncing_ball.c (state events).

Convention: a communication point's row holds the values after every FMU event at that instant,
as a co-simulation FMU gives them at the end of its step and FMPy records them; a terminating
event ends the run with one row. ``record_events=True`` adds both sides of every event.
"""

from __future__ import annotations

import math
from pathlib import Path

import fmitwin
import fmpy
import numpy as np
import pytest

G = 9.81


@pytest.fixture(scope="module")
def stair(test_fmu) -> Path:
    return test_fmu("stair", 2)


@pytest.fixture(scope="module")
def ball(test_fmu) -> Path:
    return test_fmu("bouncing_ball", 2)


@pytest.mark.parametrize("kind", ["me", "cs"])
def test_rows_at_events_and_at_termination_are_fmpys(stair, kind):
    ours = fmitwin.simulate(stair, kind=kind)
    theirs = fmpy.simulate_fmu(str(stair), fmi_type="CoSimulation", output=["counter"])
    assert len(ours) == len(theirs) == 46  # 0, 0.2, ..., 9: one row at the terminating event
    np.testing.assert_allclose(ours.time, theirs["time"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours["counter"], theirs["counter"])
    assert ours.terminated_by_fmu
    # Model exchange in FMPy: the same values at the same points (it records no row at the
    # terminating event itself).
    me = fmpy.simulate_fmu(
        str(stair), fmi_type="ModelExchange", output_interval=0.2, record_events=False
    )
    np.testing.assert_array_equal(ours["counter"][:-1], me["counter"])
    assert ours["counter"][ours.time == 1.0][0] == 2  # the event at t = 1 has happened


def test_record_events_gives_both_sides_of_every_event(stair):
    result = fmitwin.simulate(stair, kind="me", record_events=True)
    at_one = result["counter"][np.isclose(result.time, 1.0)]
    np.testing.assert_array_equal(at_one, [1, 2])  # before, after
    # Events at 1, ..., 9 each add their left limit; no row is repeated.
    assert len(result) == 46 + 9
    rows = zip(result.time.tolist(), result["counter"].tolist(), strict=True)
    assert len(set(rows)) == len(result)
    np.testing.assert_array_equal(result["counter"][-2:], [9, 10])


def test_state_events_match_the_analytic_bounce_and_cvode(ball):
    ours = fmitwin.simulate(ball, 2.0, 0.1, kind="me", tolerance=1e-10, outputs=["h", "v"])
    t1 = math.sqrt(2 / G)  # first impact, then v = e g t1 upwards
    after = (ours.time > t1) & (ours.time < t1 + 2 * 0.7 * t1)
    r = ours.time[after] - t1
    v_up = 0.7 * G * t1
    np.testing.assert_allclose(ours["h"][after], v_up * r - 0.5 * G * r**2, rtol=1e-8, atol=1e-10)
    theirs = fmpy.simulate_fmu(
        str(ball),
        stop_time=2.0,
        output_interval=0.1,
        relative_tolerance=1e-10,
        record_events=False,
        output=["h", "v"],
    )
    np.testing.assert_allclose(ours.time, theirs["time"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["h"], theirs["h"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours["v"], theirs["v"], rtol=0, atol=1e-6)
    both = fmitwin.simulate(ball, 2.0, 0.1, kind="me", record_events=True, outputs=["v"])
    impact = np.flatnonzero(np.diff(both.time) == 0)[0]
    assert both["v"][impact] < 0 < both["v"][impact + 1]  # falling, then rising
    assert both["v"][impact + 1] == pytest.approx(-0.7 * both["v"][impact], rel=1e-12)
