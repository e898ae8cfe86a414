"""The bundled centrifugal pump: wear against its closed form (run to failure), every output
against an independent transcription of the equations integrated by solve_ivp."""

from __future__ import annotations

import fmitwin.models
import numpy as np
import pytest
from fmpy import simulate_fmu
from fmpy.fmi1 import FMICallException
from scipy.integrate import solve_ivp
from support.bundled_models import VERSIONS, Instance, instance, instantiate, unpacked

G = 9.80665
W_RATED = 2950 * np.pi / 30
P = dict(
    H0=36.0,
    Q_bep=30.0 / 3600,
    H_bep=30.0,
    eta_bep=0.72,
    rho=998.0,
    H_static=10.0,
    K_system=20.0 / (30.0 / 3600) ** 2,
    T_friction=0.4,
    c_friction=2.0,
    c_hydraulic=0.15,
    v_base=1.2,
    v_wear=6.0,
    k_vibration=0.5,
    k_radial=0.6,
    rated_life=3000.0,
    alpha=3.0,
    wear_limit=1.0,
    T_ambient=298.15,
    R_thermal=0.15,
    tau_thermal=1200.0,
)


def pump(wear, t_bearing, speed, valve, p=P):
    """Outputs and state derivatives of the pump, transcribed from the model documentation."""
    s = speed / W_RATED
    a = (p["H0"] - p["H_bep"]) / p["Q_bep"] ** 2
    lift = p["H0"] * s**2 - p["H_static"]
    q = valve * np.sqrt(max(lift, 0.0) / (a * valve**2 + p["K_system"]))
    h = p["H0"] * s**2 - a * q**2
    p_bep = p["rho"] * G * p["Q_bep"] * p["H_bep"] / p["eta_bep"]
    p0 = 2 * p_bep * (p["H0"] - p["H_bep"]) / p["H_bep"]
    p1 = (p_bep - p0) / p["Q_bep"]
    p_hydraulic = (1 + p["c_hydraulic"] * wear) * (p0 * s**3 + p1 * s**2 * q)
    t_friction = p["T_friction"] * (1 + p["c_friction"] * wear) * np.tanh(speed)
    power = p_hydraulic + t_friction * speed
    x = (q - s * p["Q_bep"]) / p["Q_bep"]
    load = s**2 + p["k_radial"] * x**2
    r0 = np.log1p(p["alpha"] * p["wear_limit"]) / (p["alpha"] * p["rated_life"] * 3600)
    return {
        "Q": q,
        "H": h,
        "P_shaft": power,
        "torque": power / speed,
        "efficiency": p["rho"] * G * q * h / power,
        "vibration": p["v_base"] * (s**2 + p["k_vibration"] * x**2) + p["v_wear"] * wear**2 * s,
        "der(wear)": r0 * s * load**3 * (1 + p["alpha"] * wear),
        "der(T_bearing)": (p["T_ambient"] + p["R_thermal"] * t_friction * speed - t_bearing)
        / p["tau_thermal"],
    }


def failure_time(speed, valve, wear0=0.0, p=P):
    """t_f = ln((1 + alpha D_limit) / (1 + alpha D0)) / (alpha r), r = der(wear) / (1 + alpha D)."""
    rate = pump(wear0, 300.0, speed, valve, p)["der(wear)"] / (1 + p["alpha"] * wear0)
    return np.log((1 + p["alpha"] * p["wear_limit"]) / (1 + p["alpha"] * wear0)) / (
        p["alpha"] * rate
    )


def run(version, fmi_type, stop_hours, **start_values):
    return simulate_fmu(
        str(fmitwin.models.path("centrifugal_pump", version)),
        fmi_type=fmi_type,
        start_values=start_values,
        stop_time=stop_hours * 3600.0,
        output_interval=3600.0,
        relative_tolerance=1e-10,
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
@pytest.mark.parametrize(
    ("speed", "valve", "wear0"), [(W_RATED, 1.0, 0.0), (0.9 * W_RATED, 0.6, 0.3)]
)
def test_run_to_failure_matches_closed_form(version, fmi_type, speed, valve, wear0):
    t_fail = failure_time(speed, valve, wear0)
    if speed == W_RATED and wear0 == 0.0:
        np.testing.assert_allclose(t_fail, 3000 * 3600.0, rtol=1e-12)  # rated_life by construction
    result = run(version, fmi_type, t_fail / 3600 + 100, speed=speed, valve=valve, wear=wear0)
    alpha, t = P["alpha"], result["time"]
    rate = pump(wear0, 300.0, speed, valve)["der(wear)"] / (1 + alpha * wear0)
    before = t < t_fail - 1.0
    expected = ((1 + alpha * wear0) * np.exp(alpha * rate * t[before]) - 1) / alpha
    np.testing.assert_allclose(result["wear"][before], expected, rtol=1e-7, atol=1e-12)
    # Operating hours stop at the trip, so they time the located failure event exactly.
    np.testing.assert_allclose(result["operating_hours"][-1], t_fail / 3600, rtol=1e-7)
    after = t > t_fail + 1.0
    assert np.all(result["failed"][after] == 1.0) and np.all(result["failed"][before] == 0.0)
    for name in ("Q", "H", "P_shaft", "vibration"):
        assert np.all(result[name][after] == 0.0), name
    np.testing.assert_allclose(result["wear"][after], P["wear_limit"], rtol=1e-7)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
def test_outputs_match_solve_ivp(version, fmi_type):
    speed, valve, hours = 0.93 * W_RATED, 0.7, 600.0
    result = run(version, fmi_type, hours, speed=speed, valve=valve, wear=0.2, T_bearing=310.0)

    def rhs(t, x):
        out = pump(x[0], x[1], speed, valve)
        return [out["der(wear)"], out["der(T_bearing)"]]

    reference = solve_ivp(
        rhs,
        (0.0, hours * 3600),
        [0.2, 310.0],
        t_eval=result["time"],
        method="Radau",
        rtol=1e-11,
        atol=[1e-14, 1e-9],
    )
    np.testing.assert_allclose(result["wear"], reference.y[0], rtol=1e-7)
    np.testing.assert_allclose(result["T_bearing"], reference.y[1], rtol=1e-8)
    for k in (0, len(result) // 2, len(result) - 1):
        expected = pump(reference.y[0][k], reference.y[1][k], speed, valve)
        for name in ("Q", "H", "P_shaft", "torque", "efficiency", "vibration"):
            np.testing.assert_allclose(result[name][k], expected[name], rtol=1e-7, err_msg=name)


@pytest.mark.parametrize("version", VERSIONS)
def test_wear_raises_vibration_friction_and_temperature_and_lowers_efficiency(version):
    result = run(version, "CoSimulation", 2990)
    for name in ("wear", "vibration", "P_shaft", "T_bearing"):
        assert np.all(np.diff(result[name][1:]) > 0), name
    assert np.all(np.diff(result["efficiency"][1:]) < 0)
    assert result["vibration"][0] == pytest.approx(1.2) and result["vibration"][-1] > 6.5
    assert result["efficiency"][-1] < 0.9 * result["efficiency"][0]


@pytest.mark.parametrize("version", VERSIONS)
def test_operating_hours_count_only_running_time(version):
    with instance("centrifugal_pump", version, "CoSimulation") as inst:
        inst.fmu.doStep(0.0, 7200.0)
        inst.set(speed=0.0)
        inst.fmu.doStep(7200.0, 7200.0)
        np.testing.assert_allclose(inst.get("operating_hours"), 2.0, rtol=1e-12)
        wear = inst.get("wear")
        inst.fmu.doStep(14400.0, 3600.0)
        np.testing.assert_array_equal(inst.get("wear"), wear)  # no wear while standing


@pytest.mark.parametrize("version", VERSIONS)
def test_starting_beyond_the_wear_limit_starts_failed(version):
    with instance("centrifugal_pump", version, "CoSimulation", start_values={"wear": 1.2}) as inst:
        assert inst.get("failed", "Q")[0] == 1.0 and inst.get("Q")[0] == 0.0


@pytest.mark.parametrize("version", VERSIONS)
def test_inconsistent_pump_curve_is_rejected_at_initialization(version):
    fmu, messages = instantiate("centrifugal_pump", version)
    try:
        inst = Instance(fmu, unpacked("centrifugal_pump", version)[1], version, "ME", messages)
        if version == 2:
            fmu.setupExperiment(startTime=0.0)
            fmu.enterInitializationMode()
        else:
            fmu.enterInitializationMode(startTime=0.0)
        inst.set(H0=50.0)  # values may be inconsistent while being set; the check comes at exit
        with pytest.raises(FMICallException, match="ExitInitializationMode"):
            fmu.exitInitializationMode()
        assert any(
            "'H0' (shut-off head) must lie between H_bep and 1.5 H_bep" in m for m in messages
        )
        inst.set(H0=40.0)
        fmu.exitInitializationMode()
    finally:
        fmu.freeInstance()
