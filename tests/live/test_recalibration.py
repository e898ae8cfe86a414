"""Online recalibration in the live synchronizer: a divergence opens a recalibration window of
the augmented-state FMU EKF and its close is recorded as an event (and in the SQLite history).

The plant is the heated tank's analytic solution, C dT/dt = P - UA (T - T_amb), whose
heat-loss coefficient UA steps from 40 to 60 W/K in the middle of the run.
"""

import math

import numpy as np
import pytest
from fmitwin.calibration import OnlineRecalibrator, RecalibrationWindow
from fmitwin.live.config import ConfigError, parse_config
from fmitwin.live.gateway import Gateway
from fmitwin.live.history import History, recorded_events
from fmitwin.live.readings import Reading
from fmitwin.live.synchronizer import Synchronizer, SyncSettings
from fmitwin.live.twin import build_filter

T0 = 1_800_000_000.0
MASS, C_P, T_AMB, POWER = 0.5, 4186.0, 293.15, 2000.0
CAPACITY = MASS * C_P

TWIN = """\
[twin]
name = "recal"

[model]
fmu = "heated_tank"
parameters = { m = 0.5, P_heater = 2000.0 }
states = ["T"]
inputs = ["P_heater"]
step = 0.05

[filter]
parameters = ["UA"]
x0 = { T = 343.15 }
P0 = { T = 0.04, UA = 1.0 }
Q = { T = 1e-3 }
nis_window = 20
policy = "POLICY"

[filter.recalibration]
parameters = ["UA"]
noise = 0.5
duration = 60.0

[mqtt]
url = "mqtt://127.0.0.1:1883"

[sensors.T]
variable = "T"
source = "mqtt"
topic = "p/T"
range = [250, 450]
rate = 10
noise = 0.2
stale_after = 1.0
"""


def plant_temperature(t: np.ndarray, change: float) -> np.ndarray:
    """T(t): at equilibrium with UA = 40 until ``change``, then relaxing to UA = 60's."""
    t_before = T_AMB + POWER / 40.0
    t_after = T_AMB + POWER / 60.0
    relax = t_after + (t_before - t_after) * np.exp(-(t - change) * 60.0 / CAPACITY)
    return np.where(t < change, t_before, relax)


def run_twin(policy: str, text: str = TWIN, history: History | None = None):
    """Feed 240 s of 10 Hz readings; returns the synchronizer and its events, also recorded
    in ``history`` when given (as the running twin does)."""
    config = parse_config(text.replace("POLICY", policy), "recal.toml")
    now = [T0]
    events = []

    def sink(kind: str, details: dict) -> None:
        events.append((kind, details))
        if history is not None:
            history.record_event(kind, details, now[0])

    ekf, u0 = build_filter(config)
    gateway = Gateway(config.sensors, clock=lambda: now[0])
    sync = Synchronizer(
        SyncSettings.from_config(config), ekf, gateway, u0=u0, clock=lambda: now[0], on_event=sink
    )
    rng = np.random.default_rng(7)
    times = np.arange(0.0, 240.0, 0.1)
    values = plant_temperature(times, change=40.0) + rng.normal(0.0, 0.2, times.size)
    for t, value in zip(times, values, strict=True):
        now[0] = T0 + t
        gateway.submit(Reading("T", float(value), T0 + t, None, T0 + t))
        sync.step()
    return sync, events


@pytest.mark.parametrize("policy", ["merge", "physical_wins"])
def test_divergence_recalibrates_ua_from_40_to_60(policy, tmp_path):
    history = History(tmp_path / "history.sqlite")
    sync, events = run_twin(policy, history=history)
    history.close()
    kinds = [k for k, _ in events]
    assert "divergence" in kinds
    first = next(d for k, d in events if k == "divergence")
    assert first["t"] > T0 + 40.0  # no false alarm while plant and model agree
    assert "recalibrating UA" in first["action"]
    recalibrations = [d for k, d in events if k == "recalibration"]
    assert len(recalibrations) == sync.counters.recalibrations >= 1
    event = recalibrations[0]
    assert event["started"] == first["t"] and event["t"] - event["started"] >= 60.0
    assert event["before"]["UA"] == pytest.approx(40.0, abs=2.0)
    std = event["after_std"]["UA"]
    assert 0 < std < 2.0
    assert abs(event["after"]["UA"] - 60.0) < 3 * std
    assert sync.states == ["T", "UA"] and sync.ekf.x[1] == pytest.approx(60.0, abs=3 * std)
    recorded = recorded_events(tmp_path / "history.sqlite", "recalibration")
    assert [r["after"] for r in recorded] == [e["after"] for e in recalibrations]


def test_without_recalibration_the_parameter_stays_put():
    text = TWIN.split("[filter.recalibration]")[0] + TWIN.split("duration = 60.0\n")[1]
    sync, events = run_twin("merge", text)
    assert "divergence" in [k for k, _ in events]
    assert "recalibration" not in [k for k, _ in events] and sync.recalibration is None
    # with Q_UA = 0 the parameter barely moves: recalibration is what made the difference
    assert abs(sync.ekf.x[1] - 60.0) > 5.0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'parameters = ["UA"]\nx0',
            'parameters = ["T"]\nx0',
            r"recal.toml:12: \[filter.parameters\] \['T'\] are states or inputs",
        ),
        (
            "P0 = { T = 0.04, UA = 1.0 }",
            "P0 = { T = 0.04 }",
            r"recal.toml:14: \[filter.P0\] missing value for state\(s\) UA",
        ),
        (
            "P0 = { T = 0.04, UA = 1.0 }",
            "P0 = { T = 0.04, UA = 1.0, m = 1.0 }",
            r"recal.toml:14: \[filter.P0.m\] not a state of the model or an estimated parameter",
        ),
        (
            'parameters = ["UA"]\nnoise',
            'parameters = ["m"]\nnoise',
            r"recal.toml:20: \[filter.recalibration.parameters\] \['m'\] are not estimated",
        ),
        (
            "noise = 0.5",
            "noise = -1.0",
            r"recal.toml:21: \[filter.recalibration.noise\] expected a positive",
        ),
        (
            "noise = 0.5",
            "noise = { UA = 0.0 }",
            r"recal.toml:21: \[filter.recalibration.noise.UA\] expected a positive",
        ),
        ("noise = 0.5\n", "", r"\[filter.recalibration.noise\] required key is missing"),
        (
            "duration = 60.0",
            "duration = 0",
            r"recal.toml:22: \[filter.recalibration.duration\] expected a positive",
        ),
        (
            "duration = 60.0",
            "duration = 60.0\nwindow = 3",
            r"recal.toml:23: \[filter.recalibration.window\] unknown key",
        ),
        (
            'policy = "POLICY"',
            'policy = "virtual_wins"',
            r"recal.toml:17: \[filter.policy\] virtual_wins quarantines",
        ),
        (
            'fmu = "heated_tank"',
            'process = "random_walk"',
            r"recal.toml:12: \[filter.parameters\] estimating parameters needs an FMU",
        ),
        (
            'parameters = ["UA"]\nx0 = { T = 343.15 }\nP0 = { T = 0.04, UA = 1.0 }',
            "x0 = { T = 343.15 }\nP0 = { T = 0.04 }",
            r"recal.toml:18: \[filter.recalibration\] nothing to recalibrate",
        ),
    ],
)
def test_recalibration_config_errors_name_line_and_key(old, new, message):
    assert old in TWIN
    with pytest.raises(ConfigError, match=message):
        parse_config(TWIN.replace(old, new).replace("POLICY", "merge"), "recal.toml")


def test_a_parameter_the_fmu_cannot_tune_is_refused():
    text = TWIN.replace('parameters = ["UA"]\nx0', 'parameters = ["Q_loss"]\nx0')
    text = text.replace("UA = 1.0", "Q_loss = 1.0").replace(
        'parameters = ["UA"]', 'parameters = ["Q_loss"]'
    )
    config = parse_config(text.replace("POLICY", "merge"), "recal.toml")
    with pytest.raises(ConfigError, match=r"\[filter.parameters\] \['Q_loss'\] are not tunable"):
        build_filter(config)
    assert math.isfinite(config.filter.P0["Q_loss"])


def test_recalibration_window_checks_its_arguments_and_opens_once():
    with pytest.raises(ValueError, match="noise: expected one variance rate or one per parameter"):
        RecalibrationWindow([0, 1], ["a", "b"], noise=[1.0, 2.0, 3.0], duration=1.0)
    with pytest.raises(ValueError, match="noise: variance rates must be finite and >= 0"):
        RecalibrationWindow([0], ["a"], noise=-1.0, duration=1.0)
    with pytest.raises(ValueError, match="duration=0 must be positive"):
        RecalibrationWindow([0], ["a"], noise=1.0, duration=0)
    window = RecalibrationWindow([1], ["UA"], noise=2.0, duration=10.0)
    Q = np.zeros((2, 2))
    assert window.inflate(Q, 0.5) is Q and not Q.any()  # closed: Q untouched
    assert window.open(5.0, {"why": "test"}, np.array([300.0, 40.0]))
    assert not window.open(6.0, {}, np.array([300.0, 41.0]))  # already open: nothing changes
    np.testing.assert_array_equal(window.inflate(Q, 0.5), [[0.0, 0.0], [0.0, 1.0]])
    P = np.diag([0.1, 4.0])
    assert window.close_if_due(14.9, np.array([300.0, 55.0]), P) is None
    event = window.close_if_due(15.0, np.array([300.0, 60.0]), P)
    assert (event.started, event.finished, event.evidence) == (5.0, 15.0, {"why": "test"})
    assert (event.before, event.after, event.after_std) == ({"UA": 40.0}, {"UA": 60.0}, {"UA": 2.0})
    assert not window.is_open


def test_an_estimated_parameter_starts_from_x0_model_parameters_or_the_fmu():
    def start(text: str) -> float:
        ekf, _ = build_filter(parse_config(text.replace("POLICY", "merge"), "recal.toml"))
        assert list(ekf.state_names) == ["T", "UA"] and ekf.P[1, 1] == 1.0
        return float(ekf.x[1])

    assert start(TWIN) == 40.0  # the FMU's start value
    assert start(TWIN.replace("{ m = 0.5,", "{ UA = 45.0, m = 0.5,")) == 45.0
    assert start(TWIN.replace("x0 = { T = 343.15 }", "x0 = { T = 343.15, UA = 50.0 }")) == 50.0


def test_the_synchronizer_and_the_online_recalibrator_give_identical_estimates():
    """Both run the shared AugmentedStep: fed the same readings (one predict step each, 8 Hz),
    with the recalibrator's window opened whenever the synchronizer opens its own, their
    estimates are the same numbers at every reading."""
    text = TWIN.replace("step = 0.05", "step = 0.125").replace("rate = 10", "rate = 8")
    text = text.replace("policy = ", 'initialize = "x0"\npolicy = ')
    config = parse_config(text.replace("POLICY", "merge"), "recal.toml")
    ekf, u0 = build_filter(config)
    twin_ekf, _ = build_filter(config)
    twin_ekf.Q = ekf.Q * 0.125  # the twin's Q is a rate; the recalibrator's is per step
    recalibrator = OnlineRecalibrator(
        twin_ekf, ["UA"], recalibration_noise=0.5, duration=60.0, detector="external"
    )
    now = [T0]
    gateway = Gateway(config.sensors, clock=lambda: now[0])
    sync = Synchronizer(
        SyncSettings.from_config(config),
        ekf,
        gateway,
        u0=u0,
        clock=lambda: now[0],
        merge_q_factor=1.0,  # the recalibrator has no merge policy
    )
    times = np.arange(0.0, 240.0, 0.125)
    values = plant_temperature(times, change=40.0)
    values += np.random.default_rng(7).normal(0.0, 0.2, times.size)
    last = None
    for t, value in zip(times, values, strict=True):
        now[0] = T0 + t
        recalibrator.step(now[0], 0.0 if last is None else now[0] - last, [value], u0)
        gateway.submit(Reading("T", float(value), now[0], None, now[0]))
        assert sync.step() == 1
        if sync.recalibration.is_open:  # also on a divergence aggregated into an earlier event
            recalibrator.trigger(now[0])
        np.testing.assert_array_equal(sync.ekf.x, recalibrator.ekf.x)
        np.testing.assert_array_equal(sync.ekf.P, recalibrator.ekf.P)
        last = now[0]
    assert sync.counters.recalibrations == len(recalibrator.events) >= 1
    assert recalibrator.parameters()["UA"] == pytest.approx(60.0, abs=3.0)
