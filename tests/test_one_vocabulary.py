"""One vocabulary for FMI types and input signals across simulate, System, fmu_models and the
plant simulator: a Float32 -> Float32 (and Int16 -> Int16) connection works, a System input can
step (a repeated time) exactly as a simulate input table does, the plant serves any numeric
type."""

from __future__ import annotations

import fmitwin
import fmitwin.models
import numpy as np
import pytest
from fmitwin.live.plant import FmuStepper
from fmitwin.signals import read_signals, step_times


@pytest.fixture(scope="module")
def all_types(test_fmu):
    return fmitwin.load_fmu(test_fmu("all_types", 3))


def test_float32_and_int16_connections_carry_their_values(all_types):
    system = fmitwin.System()
    system.add("a", all_types)
    system.add("b", all_types)
    system.connect("a.f32_out", "b.f32_in")
    system.connect("a.i16_out", "b.i16_in")
    system.add_input("F", "a.f32_in")
    system.add_input("I", "a.i16_in")
    result = system.simulate(
        1.0,
        0.25,
        inputs={"F": ([0.0, 0.5, 0.5, 1.0], [0.1, 0.1, 1.5, 1.5]), "I": ([0.0], [-300.0])},
        outputs=["a.f32_out", "b.f32_out", "b.f32_affine", "b.i16_out"],
    )
    f32 = np.float32
    np.testing.assert_array_equal(
        result["a.f32_out"], [f32(0.1), f32(0.1), f32(1.5), f32(1.5), f32(1.5)]
    )
    assert result["b.f32_out"][-1] == f32(1.5)  # Float32 all the way, no Float64 round trip
    assert result["b.f32_affine"][-1] == f32(3) * f32(1.5) + f32(0.1)
    assert result["b.i16_out"][-1] == -300


def test_a_system_input_steps_at_a_repeated_time_as_simulate_does():
    tank = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 2))
    times, power = [0.0, 300.0, 300.0, 600.0], [0.0, 0.0, 2000.0, 2000.0]
    expected = fmitwin.simulate(tank, 600.0, 60.0, inputs={"time": times, "P_heater": power})
    system = fmitwin.System()
    system.add("a", tank)
    system.add_input("P", "a.P_heater")
    result = system.simulate(600.0, 60.0, inputs={"P": (times, power)}, outputs=["a.T"])
    np.testing.assert_array_equal(result["a.T"], expected["T"])
    assert result["a.T"][-1] > result["a.T"][5]  # the heater came on at t = 300


def test_one_reader_for_every_signal_form():
    frame = {"time": [0.0, 1.0, 1.0, 2.0], "u": [0, 0, 1, 1]}
    ((times, values),) = read_signals(frame).values()
    np.testing.assert_array_equal(step_times(times), [1.0])
    assert read_signals({"u": 2.0})["u"][1].tolist() == [2.0]
    with pytest.raises(ValueError, match="the times of 'u' must be finite and non-decreasing"):
        read_signals({"u": ([1.0, 0.0], [1.0, 2.0])})
    with pytest.raises(ValueError, match="'u' has non-finite values"):
        read_signals({"u": ([0.0], [np.nan])})


def test_the_plant_simulator_sets_and_reads_any_numeric_type(all_types):
    stepper = FmuStepper(all_types.path)
    try:
        stepper.set("f32_in", 1.5)
        stepper.set("u8_in", 200)
        stepper.set("b_in", True)
        stepper.step(0.25)
        assert stepper.get(["f32_out", "u8_out", "b_out", "f32_affine"]) == [
            1.5,
            200.0,
            1.0,
            float(np.float32(4.6)),
        ]
    finally:
        stepper.close()


def test_fmu_models_measure_and_drive_float32_variables(all_types):
    models = fmitwin.fmu_models(
        all_types,
        measurements=["x", "f32_affine"],
        inputs=["f64_in", "f32_in"],
        jacobian="finite_difference",
    )
    x, F = models.process.propagate(np.array([1.0]), np.array([2.0, 1.5]), 0.5)
    assert x.tolist() == [2.0] and F.tolist() == [[1.0]]  # der(x) = f64_in
    z, _ = models.measurement.measure(np.array([2.0]), np.array([2.0, 1.5]))
    f32 = np.float32
    assert z.tolist() == [2.0, float(f32(3) * f32(1.5) + f32(0.1))]


def test_fmu_models_refuse_array_states_by_name(test_fmu):
    with pytest.raises(fmitwin.FmuError, match="the states x are arrays; the FMU-backed filters"):
        fmitwin.fmu_models(test_fmu("state_space", 3), measurements=["y"])
