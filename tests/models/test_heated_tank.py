"""The bundled heated tank against its closed-form solution (exponential approach)."""

from __future__ import annotations

import fmitwin.models
import numpy as np
import pytest
from fmpy import simulate_fmu
from fmpy.fmi1 import FMICallException
from support.bundled_models import VERSIONS, instance

MASS, C_P, UA, T_AMBIENT = 100.0, 4186.0, 40.0, 293.15


def exact_temperature(t, T0, power, ua=UA, mass=MASS):
    """T(t) = T_inf + (T0 - T_inf) exp(-t UA / (m c_p)), T_inf = T_ambient + P / UA."""
    t_inf = T_AMBIENT + power / ua
    return t_inf + (T0 - t_inf) * np.exp(-t * ua / (mass * C_P))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
def test_constant_power_matches_exponential_approach(version, fmi_type):
    result = simulate_fmu(
        str(fmitwin.models.path("heated_tank", version)),
        fmi_type=fmi_type,
        start_values={"P_heater": 2500.0, "T": 300.0, "UA": 55.0},
        stop_time=20000.0,
        output_interval=100.0,
        relative_tolerance=1e-10,
    )
    expected = exact_temperature(result["time"], 300.0, 2500.0, ua=55.0)
    # RK4 with 10 s sub-steps on a 7600 s time constant is exact to rounding; CVode to tolerance.
    tolerance = 1e-9 if fmi_type == "CoSimulation" else 1e-6
    np.testing.assert_allclose(result["T"], expected, rtol=0, atol=tolerance * 300.0)
    np.testing.assert_allclose(result["Q_loss"], 55.0 * (result["T"] - T_AMBIENT), rtol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_power_step_between_cosimulation_steps(version):
    """Inputs hold over a step: a heater switched on at t1 restarts the exponential from T(t1)."""
    with instance("heated_tank", version, "CoSimulation") as inst:
        t, step = 0.0, 600.0
        for _ in range(10):
            inst.fmu.doStep(t, step)
            t += step
        np.testing.assert_allclose(inst.get("T"), T_AMBIENT, atol=1e-12)
        inst.set(P_heater=3000.0)
        for _ in range(20):
            inst.fmu.doStep(t, step)
            t += step
        expected = exact_temperature(t - 6000.0, T_AMBIENT, 3000.0)
        np.testing.assert_allclose(inst.get("T"), expected, rtol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_tunable_heat_loss_changes_between_steps(version):
    with instance("heated_tank", version, "CoSimulation", start_values={"T": 350.0}) as inst:
        inst.set(UA=80.0)
        inst.fmu.doStep(0.0, 3600.0)
        np.testing.assert_allclose(inst.get("T"), exact_temperature(3600.0, 350.0, 0.0, ua=80.0))
        np.testing.assert_allclose(inst.get("C"), MASS * C_P)


@pytest.mark.parametrize("version", VERSIONS)
def test_inconsistent_parameter_is_rejected_after_initialization(version):
    with instance("heated_tank", version, "CoSimulation") as inst:
        with pytest.raises(FMICallException):
            inst.set(m=0.0)
        np.testing.assert_array_equal(inst.get("m"), MASS)
        assert any("'m' must be > 0" in m for m in inst.messages)


@pytest.mark.parametrize("version", VERSIONS)
def test_values_follow_every_set_between_gets(version):
    """The framework evaluates the model only after a change: a get after any set sees it."""
    with instance("heated_tank", version, "CoSimulation", start_values={"T": 350.0}) as inst:
        np.testing.assert_allclose(inst.get("Q_loss"), UA * (350.0 - T_AMBIENT))
        inst.set(UA=80.0)
        np.testing.assert_allclose(inst.get("Q_loss"), 80.0 * (350.0 - T_AMBIENT))
        inst.set(UA=80.0)  # unchanged: the evaluation is kept
        np.testing.assert_allclose(inst.get("Q_loss"), 80.0 * (350.0 - T_AMBIENT))
        inst.set(UA=UA, P_heater=1000.0)
        expected = (1000.0 - UA * (350.0 - T_AMBIENT)) / (MASS * C_P)
        np.testing.assert_allclose(inst.get("der(T)"), expected, rtol=1e-15)


@pytest.mark.parametrize("version", VERSIONS)
def test_signed_zero_input_counts_as_a_change(version):
    """Unchanged means bit-identical: -0.0 replacing 0.0 re-evaluates (der(T) = -0.0 / C)."""
    with instance("heated_tank", version, "CoSimulation") as inst:
        assert not np.signbit(inst.get("der(T)")[0])
        inst.set(P_heater=-0.0)
        assert np.signbit(inst.get("der(T)")[0])


@pytest.mark.parametrize("version", VERSIONS)
def test_rejected_long_set_restores_every_value(version):
    """More values than the framework's stack buffer (16): the rollback still restores all."""
    with instance("heated_tank", version, "CoSimulation") as inst:
        refs = [inst.vr["m"]] * 19 + [inst.vr["UA"], inst.vr["m"]]
        values = [200.0] * 19 + [70.0, 0.0]
        setter = inst.fmu.setReal if version == 2 else inst.fmu.setFloat64
        with pytest.raises(FMICallException):
            setter(refs, values)
        np.testing.assert_array_equal(inst.get("m", "UA"), [MASS, UA])
