"""Offline calibration of a bundled FMU against its analytic solution, and online recalibration
of the FMU-backed augmented-state EKF (heated tank FMU, UA appended to the state) triggered by
NIS divergence, against the analytic tank as the plant."""

import fmitwin
import fmitwin.models
import numpy as np
import pandas as pd
import pytest
from fmitwin.calibration import (
    FmuSimulation,
    NisDivergenceDetector,
    OnlineRecalibrator,
    calibrate,
)
from fmitwin.estimation import fmu_models

UA, MASS, C_P, T_AMB, POWER = 40.0, 100.0, 4186.0, 293.15, 2000.0
TIMES = np.arange(0.0, 36000.0 + 1.0, 300.0)


def tank_temperature(ua, mass, t0=T_AMB, times=TIMES):
    """Analytic T(t) of the heated tank at constant heater power."""
    t_inf = T_AMB + POWER / ua
    return t_inf + (t0 - t_inf) * np.exp(-times * ua / (mass * C_P))


@pytest.fixture(scope="module")
def tank():
    return FmuSimulation(
        fmitwin.models.path("heated_tank"), ["T"], TIMES, fixed={"P_heater": POWER}
    )


def test_simulation_matches_analytic_solution(tank):
    np.testing.assert_allclose(tank({"UA": UA, "m": MASS})[:, 0], tank_temperature(UA, MASS), 1e-6)


def test_calibration_recovers_parameters_with_covering_standard_errors(tank):
    """Over repeated noisy data sets the estimates scatter as their standard errors say."""
    truth = np.array([UA, MASS])
    clean = tank({"UA": UA, "m": MASS})
    z_scores = []
    for seed in range(20):
        data = clean + 0.2 * np.random.default_rng(seed).standard_normal(clean.shape)
        result = calibrate(tank, data, {"UA": 30.0, "m": 150.0}, bounds={"UA": (1.0, 500.0)})
        assert result.success
        z_scores.append((result.estimates - truth) / result.standard_errors)
        assert result.residual_std == pytest.approx(0.2, rel=0.2)
    z_scores = np.asarray(z_scores)
    assert np.mean(np.abs(z_scores) < 1.96) >= 0.85
    assert np.abs(z_scores).max() < 4.0
    assert np.mean(z_scores**2) == pytest.approx(1.0, abs=0.6)


def test_calibration_fits_an_initial_state_and_skips_missing_samples(tank):
    clean = tank_temperature(UA, MASS, t0=300.0)[:, None]
    data = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape)
    data[5:15] = np.nan  # a logging gap
    result = calibrate(tank, data, {"UA": 50.0, "T": 295.0, "m": 100.0})
    estimates = result.as_dict()
    for name, truth in {"UA": UA, "T": 300.0, "m": MASS}.items():
        value, error = estimates[name]
        assert abs(value - truth) < 4 * error
    assert np.isnan(result.residuals[5:15]).all() and np.isfinite(result.residuals[15:]).all()
    assert "UA" in result.summary()


def test_parallel_jacobian_gives_the_same_fit(tank):
    data = tank({"UA": UA, "m": MASS}) + 0.2 * np.random.default_rng(3).standard_normal((121, 1))
    serial = calibrate(tank, data, {"UA": 30.0, "m": 150.0})
    parallel = calibrate(tank, data, {"UA": 30.0, "m": 150.0}, workers=2)
    np.testing.assert_allclose(parallel.estimates, serial.estimates, rtol=1e-6)
    np.testing.assert_allclose(parallel.standard_errors, serial.standard_errors, rtol=1e-4)


def test_calibration_input_errors(tank, tmp_path):
    data = tank({"UA": UA, "m": MASS})
    with pytest.raises(ValueError, match="workers"):
        calibrate(tank, data, {"UA": 30.0}, workers=0)
    with pytest.raises(ValueError, match="at least one parameter"):
        calibrate(tank, data, {})
    with pytest.raises(ValueError, match="cannot determine"):
        calibrate(tank, np.full_like(data, np.nan), {"UA": 30.0})
    with pytest.raises(ValueError, match="outside its bounds"):
        calibrate(tank, data, {"UA": 30.0}, bounds={"UA": (35.0, 50.0)})
    with pytest.raises(ValueError, match="shape"):
        calibrate(tank, data[:10], {"UA": 30.0})
    with pytest.raises(FileNotFoundError, match="missing.fmu"):
        FmuSimulation(tmp_path / "missing.fmu", ["T"], TIMES)
    with pytest.raises(KeyError, match="no variable 'speed'"):
        FmuSimulation(fmitwin.models.path("heated_tank"), ["speed"], TIMES)
    with pytest.raises(KeyError, match="no variable 'mass'"):
        FmuSimulation(fmitwin.models.path("heated_tank"), ["T"], TIMES, fixed={"mass": 1.0})
    with pytest.raises(TypeError, match="unknown option"):
        FmuSimulation(fmitwin.models.path("heated_tank"), ["T"], TIMES, fmi_type="CoSimulation")
    with pytest.raises(ValueError, match="strictly increasing"):
        FmuSimulation(fmitwin.models.path("heated_tank"), ["T"], [0.0, 0.0, 1.0])


def augmented_tank_filter(ua_guess):
    """FMU-backed EKF on x = [T, UA]: the heated tank FMU integrates T, UA is an augmented
    parameter; u = [P_heater]."""
    twin = fmu_models(
        fmitwin.models.path("heated_tank"),
        measurements=["T"],
        parameters=["UA"],
        step=60.0,
        start_values={"m": MASS},
    )
    assert twin.state_names == ("T", "UA") and twin.input_names == ("P_heater",)
    return twin.filter(
        x0=[T_AMB, ua_guess], P0=np.diag([0.01, 1.0]), Q=np.diag([1e-4, 0.0]), R=[[0.04]]
    )


def test_online_recalibration_follows_a_parameter_change_and_records_it():
    rng = np.random.default_rng(4)
    recalibrator = OnlineRecalibrator(
        augmented_tank_filter(UA),
        ["UA"],
        recalibration_noise=0.05,
        duration=6000.0,
        detector=NisDivergenceDetector(window=10, alpha=1e-4),
    )
    dt, temperature = 60.0, T_AMB
    for step in range(1, 1201):
        time = step * dt
        ua = UA if time < 30000.0 else 60.0  # insulation damaged at t = 30000 s
        temperature = tank_temperature(ua, MASS, t0=temperature, times=np.array([dt]))[0]
        recalibrator.step(time, dt, [temperature + 0.2 * rng.standard_normal()], [POWER])
    assert len(recalibrator.events) >= 1
    first = recalibrator.events[0]
    assert 30000.0 <= first.started < 36000.0
    assert first.before["UA"] == pytest.approx(UA, rel=0.05)
    final = recalibrator.parameters()["UA"]
    assert final == pytest.approx(60.0, rel=0.05)
    assert recalibrator.events[-1].after["UA"] == pytest.approx(60.0, rel=0.1)
    assert not recalibrator.recalibrating


def test_online_recalibrator_quiet_while_the_twin_matches():
    rng = np.random.default_rng(5)
    recalibrator = OnlineRecalibrator(
        augmented_tank_filter(UA), ["UA"], recalibration_noise=0.05, duration=600.0
    )
    temperature = T_AMB
    for step in range(1, 301):
        temperature = tank_temperature(UA, MASS, t0=temperature, times=np.array([60.0]))[0]
        recalibrator.step(step * 60.0, 60.0, [temperature + 0.2 * rng.standard_normal()], [POWER])
    assert recalibrator.events == []
    assert recalibrator.parameters()["UA"] == pytest.approx(UA, rel=0.05)


def test_online_recalibrator_input_errors():
    ekf = augmented_tank_filter(UA)
    before = ekf.get_state()
    for parameters, message in [
        ([5], "outside the EKF state of size 2"),
        (["ua"], "'ua' is not in the EKF state"),
        ("UA", "give a list"),
        ([], "give a list"),
        (["UA", 1], "twice"),
    ]:
        with pytest.raises(ValueError, match=message):
            OnlineRecalibrator(ekf, parameters, recalibration_noise=1.0, duration=1.0)
    with pytest.raises(ValueError, match="duration"):
        OnlineRecalibrator(ekf, ["UA"], recalibration_noise=1.0, duration=0.0)
    np.testing.assert_array_equal(ekf.get_state()["x"], before["x"])


def test_external_divergence_event_triggers_recalibration():
    recalibrator = OnlineRecalibrator(
        augmented_tank_filter(UA), [1], recalibration_noise=0.05, duration=120.0,
        detector="external",
    )  # fmt: skip
    recalibrator.divergence_sink("update", {"t": 0.0})
    assert not recalibrator.recalibrating
    recalibrator.divergence_sink("divergence", {"t": 60.0, "sensor": "T", "nis_sum": 99.0})
    assert recalibrator.recalibrating and not recalibrator.trigger(61.0)
    for time in (120.0, 180.0):
        recalibrator.step(time, 60.0, [T_AMB], [POWER])
    (event,) = recalibrator.events
    assert (event.started, event.finished) == (60.0, 180.0)
    assert event.evidence["sensor"] == "T" and event.before == {"UA": UA}
    assert set(event.after_std) == {"UA"}


def noisy(tank, seed=0, sigma=0.2):
    clean = tank({"UA": UA, "m": MASS})
    return clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape)


def test_the_fit_stays_inside_the_bounds_the_fmu_declares(tank):
    # unbounded, the first step from this start sets UA < 0, which the FMU refuses (min = 0)
    result = calibrate(tank, noisy(tank), {"UA": 5.0, "m": 1000.0})
    assert result.estimates == pytest.approx([UA, MASS], rel=0.01)
    assert tank.parameter_bounds("UA") == (0.0, np.inf)
    with pytest.raises(ValueError, match=r"m = -1 lies outside .*the FMU declares \[0, inf\]"):
        calibrate(tank, noisy(tank), {"m": -1.0})


def test_data_frame_columns_are_matched_by_name():
    both = FmuSimulation(
        fmitwin.models.path("heated_tank"), ["T", "Q_loss"], TIMES, fixed={"P_heater": POWER}
    )
    data = noisy(both)
    frame = pd.DataFrame({"time": TIMES, "Q_loss": data[:, 1], "T": data[:, 0]})  # swapped
    by_name = calibrate(both, frame, {"UA": 30.0, "m": 150.0})
    by_position = calibrate(both, data, {"UA": 30.0, "m": 150.0})
    np.testing.assert_allclose(by_name.estimates, by_position.estimates, rtol=1e-9)
    with pytest.raises(ValueError, match="unknown Temp; missing T"):
        calibrate(both, frame.rename(columns={"T": "Temp"}), {"UA": 30.0})
    with pytest.raises(ValueError, match="missing Q_loss"):
        calibrate(both, frame.drop(columns="Q_loss"), {"UA": 30.0})
    with pytest.raises(ValueError, match="time column differs from simulate.times"):
        calibrate(both, frame.assign(time=TIMES + 1.0), {"UA": 30.0})


def test_infinite_data_is_an_error_not_a_missing_sample(tank):
    data = noisy(tank)
    data[7, 0] = np.inf
    with pytest.raises(ValueError, match=r"infinite value \(row 7, column 0\).*NaN"):
        calibrate(tank, data, {"UA": 30.0})


def test_parameters_the_data_cannot_separate_are_reported_by_name(tank):
    # m and c_p act only through the heat capacity m c_p
    result = calibrate(tank, noisy(tank), {"UA": 30.0, "m": 150.0, "c_p": 4000.0})
    assert result.unidentifiable == ("m", "c_p")
    assert result.condition_number > 1e6
    errors = dict(zip(result.names, result.standard_errors, strict=True))
    assert np.isinf(errors["m"]) and np.isinf(errors["c_p"])
    assert abs(result.as_dict()["UA"][0] - UA) < 4 * errors["UA"]
    assert "not identifiable from these data: m, c_p" in result.summary()
    assert calibrate(tank, noisy(tank), {"UA": 30.0, "m": 150.0}).unidentifiable == ()


def test_a_robust_loss_ignores_outliers(tank):
    data = noisy(tank, seed=2)
    data[::10] += 8.0  # one sample in ten is a spike of 40 noise standard deviations
    plain = calibrate(tank, data, {"UA": 30.0, "m": 150.0})
    robust = calibrate(tank, data, {"UA": 30.0, "m": 150.0}, loss="soft_l1")
    assert robust.loss == "soft_l1"
    robust_error = np.abs(robust.estimates - [UA, MASS]) / [UA, MASS]
    plain_error = np.abs(plain.estimates - [UA, MASS]) / [UA, MASS]
    assert np.all(robust_error < 0.01) and np.all(plain_error > 3 * robust_error)
    assert np.all(np.abs(robust.estimates - [UA, MASS]) < 4 * robust.standard_errors)
    with pytest.raises(ValueError, match="loss must be one of"):
        calibrate(tank, data, {"UA": 30.0}, loss="l1")
