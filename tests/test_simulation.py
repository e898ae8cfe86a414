"""fmitwin.simulate: co-simulation bit-identical to FMPy, model exchange against exact solutions."""

from __future__ import annotations

import gc
import math

import fmitwin
import fmitwin.models
import fmpy
import numpy as np
import pandas as pd
import pytest
from fmitwin.cli import main
from fmitwin.fmu import FmuInstance, FmuModel

VERSIONS = pytest.mark.parametrize("version", [2, 3], ids=["fmi2", "fmi3"])


def _motor_inputs():
    # Ramps plus a step change at t = 0.4 (a repeated time), as FMPy's structured input.
    return np.array(
        [(0.0, 0.0, 0.0), (0.2, 60.0, 0.2), (0.4, 80.0, 0.5), (0.4, 120.0, 1.0), (1.0, 90.0, 1.5)],
        dtype=[("time", float), ("V", float), ("tau_load", float)],
    )


@VERSIONS
@pytest.mark.parametrize("name", ["heated_tank", "dc_motor"])
def test_cosimulation_is_bit_identical_to_fmpy(name, version):
    path = fmitwin.models.path(name, version)
    if name == "dc_motor":
        inputs, stop, step = _motor_inputs(), 1.0, 1e-3
    else:
        inputs = np.array(
            [(0.0, 0.0), (3000.0, 2000.0)], dtype=[("time", float), ("P_heater", float)]
        )
        stop, step = 7200.0, 60.0
    ours = fmitwin.simulate(
        path,
        stop,
        step,
        kind="cs",
        inputs=inputs,
        start_values={"UA": 35.0} if name == "heated_tank" else {"R": 1.5},
    )
    reference = fmpy.simulate_fmu(
        str(path),
        fmi_type="CoSimulation",
        stop_time=stop,
        output_interval=step,
        input=inputs,
        start_values={"UA": 35.0} if name == "heated_tank" else {"R": 1.5},
    )
    assert len(ours) == len(reference)
    assert ours.names == list(reference.dtype.names[1:])
    np.testing.assert_array_equal(ours.time, reference["time"])
    for column in ours.names:
        np.testing.assert_array_equal(ours[column], reference[column])


@VERSIONS
@pytest.mark.parametrize("solver", ["dopri45", "rk4"])
def test_model_exchange_heated_tank_matches_analytic_solution(version, solver):
    P, UA, C, T_amb, T0 = 1500.0, 40.0, 100.0 * 4186.0, 293.15, 293.15
    result = fmitwin.simulate(
        fmitwin.models.path("heated_tank", version),
        36000.0,
        600.0,
        kind="me",
        solver=solver,
        solver_step=60.0 if solver == "rk4" else None,
        rtol=1e-10,
        inputs={"time": [0.0], "P_heater": [P]},
    )
    T_inf = T_amb + P / UA
    exact = T_inf + (T0 - T_inf) * np.exp(-UA * result.time / C)
    np.testing.assert_allclose(result["T"], exact, rtol=0, atol=1e-7)
    np.testing.assert_allclose(result["Q_loss"], UA * (exact - T_amb), rtol=0, atol=1e-5)


@VERSIONS
def test_model_exchange_locates_the_pump_failure_state_event(version):
    """The bearing fails (state event) when wear reaches its limit; the closed-form wear
    D(t) = (exp(alpha r t) - 1) / alpha (constant inputs, new bearing) gives the failure time
    t_f = ln(1 + alpha D_limit) / (alpha r). Operating hours stop at the event, so
    hours(end) * 3600 measures where the solver put it."""
    path = fmitwin.models.path("centrifugal_pump", version)
    result = fmitwin.simulate(
        path,
        1.2e7,
        3600.0,
        kind="me",
        rtol=1e-10,
        atol=1e-12,
        outputs=["wear", "der(wear)", "operating_hours", "failed"],
    )
    r = result["der(wear)"][0]
    alpha, limit = 3.0, 1.0
    t_fail = math.log(1 + alpha * limit) / (alpha * r)
    assert 1e6 < t_fail < 1.1e7  # the event happens inside the run
    assert result["operating_hours"][-1] * 3600.0 == pytest.approx(t_fail, rel=1e-8)
    before = result.time < t_fail
    exact = (np.exp(alpha * r * result.time[before]) - 1) / alpha
    np.testing.assert_allclose(result["wear"][before], exact, rtol=1e-7, atol=1e-12)
    assert np.all(result["failed"][before] == 0) and np.all(result["failed"][~before] == 1)
    # RK4 with a fixed step lands on the same event time (within its truncation error).
    rk4 = fmitwin.simulate(
        path,
        1.2e7,
        3600.0,
        kind="me",
        solver="rk4",
        solver_step=600.0,
        outputs=["operating_hours"],
    )
    assert rk4["operating_hours"][-1] * 3600.0 == pytest.approx(t_fail, rel=1e-6)


def test_model_exchange_against_solve_ivp_with_inputs():
    """DC motor under a voltage ramp with a step at t = 0.5 (a repeated input time, handled as an
    input event), against scipy's solve_ivp on the same equations, integrated piecewise."""
    from scipy.integrate import solve_ivp

    R, L, k, J, b, tau_c, w_c = 1.2, 0.01, 0.7, 0.02, 0.001, 0.05, 0.1
    table = {"time": [0.0, 0.5, 0.5, 1.0], "V": [0.0, 100.0, 20.0, 40.0]}

    def rhs(t, x, t0, v0, t1, v1):
        i, w, _ = x
        voltage = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        friction = b * w + tau_c * math.tanh(w / w_c)
        return [(voltage - R * i - k * w) / L, (k * i - friction) / J, w]

    result = fmitwin.simulate(
        fmitwin.models.path("dc_motor", 2),
        1.0,
        0.01,
        kind="me",
        rtol=1e-10,
        atol=1e-10,
        inputs=table,
        outputs=["i", "w", "phi"],
    )
    first = result.time <= 0.5
    options = {"method": "DOP853", "rtol": 1e-12, "atol": 1e-12}
    a = solve_ivp(
        rhs, (0, 0.5), [0, 0, 0], t_eval=result.time[first], args=(0, 0, 0.5, 100), **options
    )
    b_ = solve_ivp(
        rhs, (0.5, 1.0), a.y[:, -1], t_eval=result.time[~first], args=(0.5, 20, 1.0, 40), **options
    )
    reference = np.hstack([a.y, b_.y])
    for row, name in enumerate(["i", "w", "phi"]):
        np.testing.assert_allclose(result[name], reference[row], rtol=1e-6, atol=1e-7)


def test_result_to_dataframe_units_and_progress():
    seen = []
    result = fmitwin.simulate(
        fmitwin.models.path("heated_tank", 3),
        3600.0,
        1.0,
        inputs={"time": [0], "P_heater": [900]},
        progress=lambda t, stop: seen.append((t, stop)),
    )
    assert len(result) == 3601 and result.units["T"] == "K"
    frame = result.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "time"
    assert list(frame.columns) == ["T", "Q_loss"]
    assert seen and seen[-1] == (3600.0, 3600.0)  # progress reported between C++ chunks
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))


def test_result_owns_its_data_and_keeps_no_fmu_alive():
    """The recorded rows reach numpy without a copy, but as the result's own memory: keeping the
    result keeps no FMU instance, library or extracted files alive."""

    def alive():
        gc.collect()
        return [o for o in gc.get_objects() if isinstance(o, FmuModel | FmuInstance)]

    # Objects left by earlier tests may be freed meanwhile: count only the ones simulate made.
    before = {id(o) for o in alive()}
    result = fmitwin.simulate(fmitwin.models.path("heated_tank", 2), 10.0, 1.0)
    assert [o for o in alive() if id(o) not in before] == []
    assert result.time.tolist() == [float(t) for t in range(11)]
    result.data["T"][0] = 0.0  # writable, like any numpy result


def test_inputs_as_dataframe_or_structured_array_agree():
    path = fmitwin.models.path("heated_tank", 2)
    frame = pd.DataFrame({"P_heater": [0.0, 1500.0, 300.0]}, index=[0.0, 600.0, 1200.0])
    as_frame = fmitwin.simulate(path, 1800.0, 60.0, inputs=frame)
    table = np.array(
        [(0.0, 0.0), (600.0, 1500.0), (1200.0, 300.0)],
        dtype=[("time", float), ("P_heater", float)],
    )
    as_table = fmitwin.simulate(path, 1800.0, 60.0, inputs=table)
    np.testing.assert_array_equal(as_frame["T"], as_table["T"])
    assert as_frame["T"][-1] > as_frame["T"][0]


def test_bad_arguments_give_clear_errors():
    tank = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 2))
    with pytest.raises(KeyError, match="inputs: .*no variable 'P_heat'.*Did you mean: P_heater"):
        fmitwin.simulate(tank, 60, 1, inputs={"time": [0], "P_heat": [1]})
    with pytest.raises(ValueError, match="inputs: T is an output variable; only inputs"):
        fmitwin.simulate(tank, 60, 1, inputs={"time": [0], "T": [1]})
    with pytest.raises(ValueError, match="inputs: 'time' must be finite and non-decreasing"):
        fmitwin.simulate(tank, 60, 1, inputs={"time": [1, 0], "P_heater": [1, 2]})
    with pytest.raises(ValueError, match="inputs\\['P_heater'\\]: 1 values for 2 time points"):
        fmitwin.simulate(tank, 60, 1, inputs={"time": [0, 1], "P_heater": [1]})
    with pytest.raises(KeyError, match="outputs: .*no variable 'Tt'"):
        fmitwin.simulate(tank, 60, 1, outputs=["Tt"])
    with pytest.raises(ValueError, match="step: must be a positive number"):
        fmitwin.simulate(tank, 60, -1)
    with pytest.raises(ValueError, match="stop_time: must be greater than start_time"):
        fmitwin.simulate(tank, 0, 1)
    # rtol is the run's tolerance under its solver name (co-simulation FMUs receive it too).
    with pytest.raises(ValueError, match="they are one setting"):
        fmitwin.simulate(tank, 60, 1, kind="cs", rtol=1e-6, tolerance=1e-4)
    with pytest.raises(ValueError, match="tolerance: must be a positive finite number"):
        fmitwin.simulate(tank, 60, 1, kind="cs", rtol=-1.0)
    with pytest.raises(ValueError, match="solver: expected 'rk4' or 'dopri45'"):
        fmitwin.simulate(tank, 60, 1, kind="me", solver="euler")


def test_simulate_command_writes_csv(tmp_path, capsys):
    out = tmp_path / "out.csv"
    path = fmitwin.models.path("heated_tank", 2)
    code = main(
        ["simulate", str(path), "--stop", "600", "--step", "60", "--set", "UA=30", "-o", str(out)]
    )
    assert code == 0
    frame = pd.read_csv(out)
    expected = fmitwin.simulate(path, 600, 60, start_values={"UA": 30.0})
    assert list(frame.columns) == ["time", "T", "Q_loss"]
    np.testing.assert_array_equal(frame["T"].to_numpy(), expected["T"])
    assert main(["simulate", str(path), "--set", "UB=3"]) == 1
    assert "Did you mean: UA" in capsys.readouterr().err


@pytest.mark.parametrize(("stop", "step"), [(1000.0, 60.0), (0.3, 0.1), (7.0, 0.7), (3600.0, 1.0)])
def test_cosimulation_communication_points_up_to_stop_match_fmpy(stop, step):
    """Without inputs the run takes its regular steps without per-step checks until the stop time
    is near: the points up to it (a last, shorter step when stop is not a multiple of the step;
    a last point that rounds onto stop) must still be FMPy's, bit for bit."""
    path = fmitwin.models.path("heated_tank", 2)
    ours = fmitwin.simulate(path, stop, step, kind="cs", start_values={"T": 350.0})
    reference = fmpy.simulate_fmu(
        str(path),
        fmi_type="CoSimulation",
        stop_time=stop,
        output_interval=step,
        start_values={"T": 350.0},
    )
    np.testing.assert_array_equal(ours.time, reference["time"])
    for column in ours.names:
        np.testing.assert_array_equal(ours[column], reference[column])


@VERSIONS
def test_cosimulation_plateaus_and_steps_back_match_fmpy(version):
    """The run sets a CS input only when it changes: plateaus, a step up and back down, and the
    hold past the table's end must still give FMPy's numbers bit for bit."""
    path = fmitwin.models.path("heated_tank", version)
    inputs = np.array(
        [(0.0, 0.0), (600.0, 0.0), (600.0, 1500.0), (1800.0, 1500.0), (1800.0, 0.0)]
        + [(2400.0, 700.0)],
        dtype=[("time", float), ("P_heater", float)],
    )
    ours = fmitwin.simulate(path, 3600.0, 60.0, kind="cs", inputs=inputs)
    reference = fmpy.simulate_fmu(
        str(path), fmi_type="CoSimulation", stop_time=3600.0, output_interval=60.0, input=inputs
    )
    np.testing.assert_array_equal(ours.time, reference["time"])
    for column in ours.names:
        np.testing.assert_array_equal(ours[column], reference[column])
