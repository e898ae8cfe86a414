"""Pump run-to-failure: the bundled centrifugal pump FMU (bearing wear, known failure time) is the
plant for a small fleet with varied initial wear and loads; a twin (augmented-state EKF on noisy
vibration) estimates wear and wear rate; its RUL is checked against the FMU's failure time."""

import fmitwin
import fmitwin.models
import fmpy
import numpy as np
import pytest
from fmitwin.calibration import FmuSimulation
from fmitwin.maintenance import (
    ExponentialDegradationModel,
    MaintenancePolicy,
    interval_coverage,
    operating_hours,
    predict_maintenance,
    rmse,
    state_rul,
)

STEP_HOURS, NOISE = 6.0, 0.1  # sampling interval, vibration sensor noise [mm/s]
RPM = np.pi / 30.0


@pytest.fixture(scope="module")
def pump():
    path = fmitwin.models.path("centrifugal_pump")
    start = {
        v.name: float(v.start)
        for v in fmpy.read_model_description(path).modelVariables
        if v.causality == "parameter" and v.start is not None
    }
    times = np.arange(0.0, 10000.0, STEP_HOURS) * 3600.0
    plant = FmuSimulation(path, ["wear", "vibration", "failed"], times, kind="me")
    return plant, start


def run_to_failure(plant, rng):
    """One pump: random initial wear, speed and valve; noisy vibration with timestamps until the
    protection trips (the FMU's 'failed' flag); the failure time in operating hours."""
    speed, valve = rng.uniform(0.85, 1.0), rng.uniform(0.5, 1.0)
    output = plant({"wear": rng.uniform(0.0, 0.3), "speed": 2950 * RPM * speed, "valve": valve})
    failed = int(np.argmax(output[:, 2] > 0.5))
    assert failed > 0, "the pump must fail within the simulated horizon"
    seconds = plant.times[:failed]
    stamps = np.datetime64("2024-03-01T00:00") + seconds.astype("timedelta64[s]")
    vibration = output[:failed, 1] + NOISE * rng.standard_normal(failed)
    # the trip happens between the last running sample and the next: take the midpoint
    failure_hours = (plant.times[failed - 1] + plant.times[failed]) / 2.0 / 3600.0
    return {
        "hours": operating_hours(stamps),
        "vibration": vibration,
        "wear": output[:failed, 0],
        "speed": speed,
        "failure": failure_hours - seconds[0] / 3600.0,
    }


def twin_filter(start, speed):
    """x = [wear D, wear rate r (1/h), baseline vibration v0]; dD/dt = r (1 + alpha D) exactly
    integrated, r constant and v0 a slow random walk (both unknown per pump: augmented state);
    vibration = v0 + v_wear s D^2 at speed ratio s. The random walk on v0 keeps the filter
    consistent where D^2 and v0 are hard to tell apart (new bearings, D near 0)."""
    alpha, vw = start["alpha"], start["v_wear"]
    nominal_rate = np.log1p(alpha * start["wear_limit"]) / (alpha * start["rated_life"])

    def propagate(x, u, dt):
        wear, rate, baseline = x
        return np.array(
            [((1 + alpha * wear) * np.exp(alpha * rate * dt) - 1) / alpha, rate, baseline]
        )

    def vibration(x):
        return np.array([x[2] + vw * speed * x[0] ** 2])

    return fmitwin.ExtendedKalmanFilter(
        3,
        1,
        x0=[0.15, nominal_rate, start["v_base"]],
        P0=np.diag([0.1**2, (0.5 * nominal_rate) ** 2, 0.5**2]),
        Q=np.diag([1e-6, (0.002 * nominal_rate) ** 2, 3e-5]),
        R=[[NOISE**2]],
        process_model=fmitwin.PythonProcessModel(propagate, dim_x=3),
        measurement_model=fmitwin.PythonMeasurementModel(vibration, dim_x=3, dim_z=1),
        state_names=["wear", "wear_rate", "v0"],
    )


def run_twin(unit, start):
    ekf = twin_filter(start, unit["speed"])
    means, covariances = [], []
    for k, hours in enumerate(unit["hours"]):
        if k:
            ekf.predict(hours - unit["hours"][k - 1])
        ekf.update([unit["vibration"][k]])
        means.append(ekf.x)
        covariances.append(ekf.P)
    unit["x"], unit["P"] = np.asarray(means), np.asarray(covariances)


@pytest.fixture(scope="module")
def fleet(pump):
    plant, start = pump
    rng = np.random.default_rng(11)
    units = [run_to_failure(plant, rng) for _ in range(18)]
    for unit in units:
        run_twin(unit, start)
    return units[:12], units[12:], start


def test_twin_tracks_the_fmu_wear(fleet):
    training, testing, _ = fleet
    consistent = []
    for unit in training + testing:
        error = unit["x"][:, 0] - unit["wear"]
        std = np.sqrt(unit["P"][:, 0, 0])
        late = slice(unit["hours"].size // 2, None)
        assert np.abs(error[late]).max() < 0.12  # measured <= 0.09 (seeds 11-13)
        consistent.append(np.mean(np.abs(error[late]) < 3 * std[late]))
    assert np.mean(consistent) > 0.85  # measured 0.93-1.0


def test_twin_rul_matches_the_known_failure_time(fleet):
    training, testing, start = fleet
    alpha, limit = start["alpha"], start["wear_limit"]

    def time_to_failure(states):
        wear = np.minimum(states[:, 0], limit)
        rate = np.maximum(states[:, 1], 1e-12)
        return np.log((1 + alpha * limit) / (1 + alpha * wear)) / (alpha * rate)

    rows = []
    for unit in training + testing:
        for fraction in (0.5, 0.7, 0.9):
            n = int(fraction * unit["hours"].size)
            distribution = state_rul(unit["x"][n - 1], unit["P"][n - 1], time_to_failure)
            truth = unit["failure"] - unit["hours"][n - 1]
            rows.append((fraction, distribution.median, truth, *distribution.interval(0.9)))
    rows = np.asarray(rows)
    for fraction in (0.5, 0.7, 0.9):
        part = rows[rows[:, 0] == fraction]
        # measured: RMSE 0.05-0.15 of the mean true RUL (seeds 11-13)
        assert rmse(part[:, 1], part[:, 2]) < 0.25 * part[:, 2].mean()
    # nominal 90 %; measured 96-100 %
    assert interval_coverage(rows[:, 3], rows[:, 4], rows[:, 2]) >= 0.8
    # maintenance decision near the end of life
    late = state_rul(unit["x"][-5], unit["P"][-5], time_to_failure)
    decision = predict_maintenance(
        late,
        asset="pump",
        time=unit["hours"][-5],
        failure_mode="bearing wear",
        policy=MaintenancePolicy(immediate=24, soon=168, scheduled=720),
    )
    assert decision.urgency in ("immediate", "soon")


def test_exponential_model_on_twin_wear_recovers_the_wear_law(fleet):
    """The wear law D + 1/alpha = (D0 + 1/alpha) exp(alpha r t) is the exponential model with
    phi = -1/alpha: fitting the fleet's twin wear histories recovers it, and updating with a
    test pump's estimates (weighted by their Kalman variance) predicts its late-life RUL."""
    training, testing, start = fleet
    histories = [(u["hours"], u["x"][:, 0]) for u in training]
    model = ExponentialDegradationModel.fit(histories, threshold=start["wear_limit"])
    assert model.phi == pytest.approx(-1.0 / start["alpha"], abs=0.15)  # measured -0.25
    errors, truths = [], []
    for unit in testing:
        n = int(0.9 * unit["hours"].size)
        model.reset()
        model.update(unit["hours"][:n], unit["x"][:n, 0], np.sqrt(unit["P"][:n, 0, 0]))
        rul = model.rul()
        assert rul is not None, "degradation must be detected at 90 % of life"
        errors.append(rul.median - (unit["failure"] - unit["hours"][n - 1]))
        truths.append(unit["failure"] - unit["hours"][n - 1])
    # measured 0.11-0.14 of the mean true RUL (seeds 11-13)
    assert np.sqrt(np.mean(np.square(errors))) < 0.3 * np.mean(truths)
