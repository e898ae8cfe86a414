"""Co-simulation of coupled bundled FMUs against exact discrete and continuous solutions.

Heated tank: C dT/dt = P_heater - UA (T - T_amb), Q_loss = UA (T - T_amb). With the heater power
held over a step the FMU's RK4 is exact to ~1e-13, so the coupled discrete recurrences of each
master algorithm (its documented delay semantics) are known in closed form.
"""

import math
import re
import zipfile

import fmitwin.models
import numpy as np
import pandas as pd
import pytest
from fmitwin.fmu import FmuError, load_fmu
from fmitwin.system import System
from scipy.linalg import expm

C = 100 * 4186.0
UA = 40.0
T_AMB = 293.15


def held_step(T, power, h):
    """Exact tank temperature after h with constant heater power."""
    T_inf = T_AMB + power / UA
    return T_inf + (T - T_inf) * math.exp(-UA * h / C)


@pytest.fixture(scope="module")
def motor():
    return load_fmu(fmitwin.models.path("dc_motor"))


def cascade(tank, **b_options):
    """Tank a heated by P; its heat loss heats tank b."""
    system = System("cascade")
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank, **b_options)
    system.connect("a.Q_loss", "b.P_heater")
    system.add_input("P", "a.P_heater")
    return system


def expected_cascade(n, h, power, *, delay, factor=1.0, offset=0.0, multiple=1):
    """Exact recurrence: b's input is a's heat loss at t_k (delay) or at t_k+1 (no delay).

    With a step multiple b latches its input at k % multiple == 0 and steps multiple * h at once.
    """
    Ta, Tb = [350.0], [T_AMB]
    for _ in range(n):
        Ta.append(held_step(Ta[-1], power, h))
    u = None
    for k in range(n):
        if k % multiple == 0:
            source = Ta[k] if delay else Ta[k + 1]
            u = factor * UA * (source - T_AMB) + offset
        if (k + 1) % multiple == 0:
            Tb.extend([Tb[-1]] * (multiple - 1))
            Tb.append(held_step(Tb[-1], u, multiple * h))
    return np.array(Ta), np.array(Tb[: n + 1])


def test_jacobi_delays_every_connection_by_one_step(tank):
    result = cascade(tank).simulate(3600.0, 60.0, method="jacobi", inputs={"P": 2000.0})
    Ta, Tb = expected_cascade(60, 60.0, 2000.0, delay=True)
    np.testing.assert_allclose(result.time, np.arange(61) * 60.0)
    np.testing.assert_allclose(result["a.T"], Ta, rtol=1e-12)
    np.testing.assert_allclose(result["b.T"], Tb, rtol=1e-12)
    # the recorded input is the one held over the next step: a's heat loss at the same instant
    np.testing.assert_allclose(result["a.Q_loss"], UA * (Ta - T_AMB), rtol=1e-12)


def test_gauss_seidel_passes_earlier_outputs_without_delay(tank):
    result = cascade(tank).simulate(3600.0, 60.0, method="gauss_seidel", inputs={"P": 2000.0})
    Ta, Tb = expected_cascade(60, 60.0, 2000.0, delay=False)
    np.testing.assert_allclose(result["b.T"], Tb, rtol=1e-12)
    _, Tb_delayed = expected_cascade(60, 60.0, 2000.0, delay=True)
    assert np.max(np.abs(Tb - Tb_delayed)) > 1e-3  # the two semantics really differ


def test_gauss_seidel_order_given_against_the_data_flow_delays_again(tank):
    result = cascade(tank).simulate(
        3600.0, 60.0, method="gauss_seidel", order=["b", "a"], inputs={"P": 2000.0}
    )
    _, Tb = expected_cascade(60, 60.0, 2000.0, delay=True)
    np.testing.assert_allclose(result["b.T"], Tb, rtol=1e-12)


def test_linear_transformation_factor_offset(tank):
    system = System()
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank)
    system.connect("a.Q_loss", "b.P_heater", factor=0.5, offset=100.0)
    system.add_input("P", "a.P_heater")
    result = system.simulate(1200.0, 60.0, inputs={"P": 2000.0})
    _, Tb = expected_cascade(20, 60.0, 2000.0, delay=True, factor=0.5, offset=100.0)
    np.testing.assert_allclose(result["b.T"], Tb, rtol=1e-12)


@pytest.mark.parametrize("method", ["jacobi", "gauss_seidel"])
def test_multi_rate_instance_latches_and_steps_its_multiple(tank, method):
    system = cascade(tank, step_multiple=3)
    result = system.simulate(3600.0, 60.0, method=method, inputs={"P": 2000.0})
    _, Tb = expected_cascade(60, 60.0, 2000.0, delay=method == "jacobi", multiple=3)
    np.testing.assert_allclose(result["b.T"], Tb, rtol=1e-12)


def feedback_loop(tank):
    """Each tank's heat loss heats the other (a feedback loop, no algebraic loop)."""
    system = System("feedback")
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank)
    system.connect("a.Q_loss", "b.P_heater")
    system.connect("b.Q_loss", "a.P_heater")
    system.add_output("Ta", "a.T")
    system.add_output("Tb", "b.T")
    return system


def continuous_feedback(times):
    """Exact solution of the coupled continuous system x' = A x (augmented matrix exponential)."""
    # dTa/dt = (UA (Tb - Tamb) - UA (Ta - Tamb)) / C = k (Tb - Ta), and the same for b
    k = UA / C
    A = np.array([[-k, k, 0.0], [k, -k, 0.0], [0.0, 0.0, 0.0]])
    x0 = np.array([350.0, T_AMB, 1.0])
    return np.array([expm(A * t) @ x0 for t in times])[:, :2]


@pytest.mark.parametrize("method", ["jacobi", "gauss_seidel"])
def test_feedback_loop_converges_to_the_continuous_solution(tank, method):
    system = feedback_loop(tank)
    exact = continuous_feedback(np.arange(0, 7201, 600.0))
    errors = []
    for h in (60.0, 30.0):
        result = system.simulate(7200.0, h, method=method, output_interval=600.0)
        errors.append(np.max(np.abs(np.column_stack([result["Ta"], result["Tb"]]) - exact)))
    assert errors[0] < 0.2
    # the zero-order-hold coupling is first order: halving the step halves the error
    assert 1.7 < errors[0] / errors[1] < 2.3


def test_variable_step_rolls_back_and_meets_its_tolerance(tank):
    system = feedback_loop(tank)
    with system.start(
        600.0, stop_time=7200.0, method="variable", rtol=1e-6, atol=1e-6, output_interval=600.0
    ) as run:
        run.advance_to(7200.0)
        result = run.result()
        assert run.rejected_steps > 0
    exact = continuous_feedback(result.time)
    np.testing.assert_allclose(result.time, np.arange(0, 7201, 600.0))
    error = np.max(np.abs(np.column_stack([result["Ta"], result["Tb"]]) - exact))
    fixed = system.simulate(7200.0, 60.0, output_interval=600.0)
    fixed_error = np.max(np.abs(np.column_stack([fixed["Ta"], fixed["Tb"]]) - exact))
    assert error < fixed_error / 5


def test_variable_step_needs_fmu_state_and_says_which_instance(tank, tmp_path):
    # the same FMU declaring that it cannot get/set its state
    stateless = tmp_path / "stateless.fmu"
    with zipfile.ZipFile(tank.path) as src, zipfile.ZipFile(stateless, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = re.sub(rb'(canGetAndSetFMU[sS]tate)="true"', rb'\1="false"', data)
            dst.writestr(item, data)
    system = System()
    system.add("a", tank)
    system.add("frozen", stateless)
    system.connect("a.Q_loss", "frozen.P_heater")
    with pytest.raises(FmuError, match=r"'frozen' cannot.*fixed step"):
        system.simulate(600.0, 60.0, method="variable")
    # the fixed-step methods run it
    assert len(system.simulate(600.0, 60.0)) == 11


def test_checkpoint_restore_equals_an_uninterrupted_run(tank):
    system = feedback_loop(tank)
    uninterrupted = system.simulate(3600.0, 60.0)
    with system.start(60.0, stop_time=3600.0) as run:
        run.advance_to(1200.0)
        checkpoint = run.checkpoint()
        run.advance_to(3600.0)
        first = run.result()
        for _ in range(2):  # a checkpoint can be restored any number of times
            run.restore(checkpoint)
            assert run.time == pytest.approx(1200.0)
            assert len(run.result()) == 21
            run.advance_to(3600.0)
            np.testing.assert_array_equal(run.result().data, first.data)
    np.testing.assert_array_equal(first.data, uninterrupted.data)
    # the run is closed: its checkpoints are released, not left pointing at freed FMUs
    with pytest.raises(RuntimeError, match="closed"):
        run.restore(checkpoint)


def test_a_checkpoint_restores_only_into_its_own_run(tank):
    system = feedback_loop(tank)
    with system.start(60.0, stop_time=600.0) as one, system.start(60.0, stop_time=600.0) as two:
        checkpoint = one.checkpoint()
        two.advance_to(120.0)
        with pytest.raises(ValueError, match="another run"):
            two.restore(checkpoint)
        assert two.time == 120.0


def test_what_if_branches_from_a_checkpoint_with_another_input(tank):
    system = cascade(tank)
    with system.start(60.0, stop_time=3600.0, inputs={"P": 2000.0}) as run:
        run.advance_to(1800.0)
        now = run.checkpoint()
        run.advance_to(3600.0)
        heating = run.result()
        run.restore(now)
        run.set_input("P", 0.0)  # what if the heater fails now?
        run.advance_to(3600.0)
        failed = run.result()
    Ta, _ = expected_cascade(60, 60.0, 2000.0, delay=True)
    np.testing.assert_allclose(heating["a.T"], Ta, rtol=1e-12)
    for k in range(30, 60):
        Ta[k + 1] = held_step(Ta[k], 0.0, 60.0)
    np.testing.assert_allclose(failed["a.T"], Ta, rtol=1e-12)
    np.testing.assert_array_equal(failed.data[:31], heating.data[:31])


def test_variable_step_checkpoint_restore(tank):
    system = feedback_loop(tank)
    with system.start(100.0, stop_time=3600.0, method="variable", output_interval=300.0) as run:
        run.advance_to(1500.0)
        checkpoint = run.checkpoint()
        run.advance_to(3600.0)
        first = run.result()
        run.restore(checkpoint)
        run.advance_to(3600.0)
        np.testing.assert_array_equal(run.result().data, first.data)


def test_algebraic_loop_is_detected_named_and_solved(motor):
    # V = V0 + f * P_electric with P_electric = V * i: the motor's output feeds its own input
    system = System()
    system.add("m", motor)
    system.connect("m.P_electric", "m.V", factor=0.01, offset=10.0)
    assert system.algebraic_loops() == [["m.P_electric", "m.V"]]
    result = system.simulate(0.2, 1e-3, outputs=["m.V", "m.i"])
    assert result["m.i"][-1] > 0.05
    np.testing.assert_allclose(result["m.V"], 10.0 / (1 - 0.01 * result["m.i"]), rtol=1e-9)


def test_algebraic_loop_across_instances_names_the_cycle(motor):
    system = System()
    system.add("m1", motor)
    system.add("m2", motor)
    system.connect("m1.P_electric", "m2.V", factor=1.0, offset=5.0)
    system.connect("m2.P_electric", "m1.V", factor=1.0, offset=5.0)
    assert system.algebraic_loops() == [["m1.P_electric", "m2.V", "m2.P_electric", "m1.V"]]
    with pytest.raises(FmuError, match=r"did not converge.*m1\.P_electric -> m2\.V"):
        system.simulate(0.2, 1e-3)


def test_newton_solves_a_loop_whose_fixed_point_iteration_diverges(motor):
    # V1 = 5 - 3 V2 i2 and V2 = 5 - 3 V1 i1: loop gain 9 i1 i2, far above 1 at start-up
    system = System()
    system.add("m1", motor)
    system.add("m2", motor, start_values={"R": 2.0})
    system.connect("m1.P_electric", "m2.V", factor=-3.0, offset=5.0)
    system.connect("m2.P_electric", "m1.V", factor=-3.0, offset=5.0)
    with pytest.raises(FmuError, match="use Newton's method"):
        system.simulate(0.05, 1e-3)
    result = system.simulate(
        0.05,
        1e-3,
        loop_solver="newton",
        loop_tolerance=1e-12,
        outputs=["m1.V", "m2.V", "m1.i", "m2.i"],
    )
    V1, V2, i1, i2 = (result[n] for n in ("m1.V", "m2.V", "m1.i", "m2.i"))
    assert np.max(9 * i1 * i2) > 2
    np.testing.assert_allclose(V1, 5 - 3 * V2 * i2, rtol=1e-9)
    np.testing.assert_allclose(V2, 5 - 3 * V1 * i1, rtol=1e-9)


def test_non_feedthrough_outputs_make_no_loop(tank):
    assert feedback_loop(tank).algebraic_loops() == []


def test_model_exchange_instance_joins_through_the_native_integrator(tank):
    system = System()
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank, kind="me")
    system.connect("a.Q_loss", "b.P_heater")
    system.add_input("P", "a.P_heater")
    result = system.simulate(
        3600.0, 60.0, inputs={"P": 2000.0}, solver_rtol=1e-10, solver_atol=1e-10
    )
    _, Tb = expected_cascade(60, 60.0, 2000.0, delay=True)
    np.testing.assert_allclose(result["b.T"], Tb, rtol=1e-8)


def test_input_signal_time_series_and_csv_export(tank, tmp_path):
    system = cascade(tank)
    times = np.array([0.0, 1800.0, 3600.0])
    result = system.simulate(
        3600.0, 60.0, inputs=pd.DataFrame({"time": times, "P": [0.0, 3000.0, 3000.0]})
    )
    # linear interpolation sampled at every communication point and held over the step
    Ta = [350.0]
    for k in range(60):
        Ta.append(held_step(Ta[-1], np.interp(60.0 * k, times, [0.0, 3000.0, 3000.0]), 60.0))
    np.testing.assert_allclose(result["a.T"], Ta, rtol=1e-12)
    result.to_csv(tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", index_col="time")
    np.testing.assert_array_equal(back["b.T"].to_numpy(), result["b.T"])


def test_progress_is_reported_between_chunks(tank):
    seen = []
    result = cascade(tank).simulate(
        3600.0, 60.0, inputs={"P": 1.0}, progress=lambda t, stop: seen.append((t, stop))
    )
    assert seen[-1] == (3600.0, 3600.0) and len(seen) > 10
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    assert len(result) == 61


def test_a_paced_run_stops_when_asked_from_another_thread(tank):
    import threading

    system = cascade(tank)
    with system.start(60.0, stop_time=36000.0, inputs={"P": 1.0}) as run:
        run.real_time_factor = 600.0  # the whole run would take a minute of wall-clock time
        threading.Timer(0.3, run.stop).start()
        reached = run.advance_to(36000.0)
        assert 0 < reached < 36000.0
        assert len(run.result()) == round(reached / 60.0) + 1


def test_real_time_pacing_gives_the_same_result(tank):
    system = cascade(tank)
    paced = system.simulate(600.0, 60.0, inputs={"P": 1.0}, real_time_factor=20000.0)
    np.testing.assert_array_equal(paced.data, system.simulate(600.0, 60.0, inputs={"P": 1.0}).data)


def test_fmu_failures_name_the_instance(motor):
    from fmitwin.fmu import FmuError

    system = System()
    system.add("m", motor, start_values={"cs_max_step": -1.0})
    with pytest.raises(FmuError, match=r"(?s)instance 'm': .*cs_max_step"):
        system.simulate(0.01, 1e-3)
    tanks = System()
    tanks.add("a", load_fmu(fmitwin.models.path("heated_tank")), start_values={"T": 350.0})
    tanks.add("b", load_fmu(fmitwin.models.path("heated_tank")))
    tanks.connect("a.Q_loss", "b.P_heater", factor=-1.0)  # a negative heater power
    with pytest.raises(FmuError, match=r"(?s)instance 'b' taking its inputs at t = 0.*P_heater"):
        tanks.simulate(60.0, 60.0)


def test_bad_connections_are_rejected_with_the_fix_and_change_nothing(tank, motor):
    system = System()
    system.add("a", tank)
    system.add("m", motor)
    system.connect("a.Q_loss", "m.tau_load", factor=1e-3)
    before = list(system.connections)
    with pytest.raises(ValueError, match=r"a\.T is in K but m\.V in V; give factor"):
        system.connect("a.T", "m.V")
    with pytest.raises(ValueError, match="not an output"):
        system.connect("a.P_heater", "m.V")
    with pytest.raises(ValueError, match="not an input"):
        system.connect("a.T", "m.w", factor=1.0, offset=1.0)
    with pytest.raises(ValueError, match=r"m\.tau_load is already driven by a\.Q_loss"):
        system.connect("m.tau_motor", "m.tau_load")
    with pytest.raises(KeyError, match=r"no instance 'x' \(instances: a, m\)"):
        system.connect("x.y", "m.V")
    with pytest.raises(KeyError, match="Q_los"):
        system.connect("a.Q_los", "m.V")
    with pytest.raises(ValueError, match="'instance.variable'"):
        system.connect("Q_loss", "m.V")
    with pytest.raises(ValueError, match="exists already"):
        system.add("a", tank)
    assert system.connections == before
    with pytest.raises(ValueError, match="not a whole number of steps"):
        system.simulate(1.05, 0.1)
    with pytest.raises(ValueError, match="method: must be one of"):
        system.simulate(1.0, 0.1, method="newton")
    with pytest.raises(KeyError, match="no system input P"):
        system.simulate(1.0, 0.1, inputs={"P": 1.0})
