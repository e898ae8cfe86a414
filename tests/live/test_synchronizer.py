"""Gateway, synchronizer and command writer on the real EKF (no network: readings are built here).

The synchronizer's numbers are checked against FilterPy's KalmanFilter run on the same readings.
"""

import math

import fmitwin
import numpy as np
import pytest
from filterpy.kalman import KalmanFilter
from fmitwin.live.config import CommandConfig, SensorConfig
from fmitwin.live.gateway import BoundedBuffer, Gateway
from fmitwin.live.readings import Flag, Reading
from fmitwin.live.synchronizer import CommandWriter, Synchronizer, SyncSettings

T0 = 1_800_000_000.0


def sensor(name, variable, *, low, high, rate, noise, stale_after):
    return SensorConfig(
        name, variable, "mqtt", f"p/{name}", "", (low, high), rate, noise, stale_after
    )


SENSORS = {
    "A": sensor("A", "T", low=250, high=400, rate=10, noise=0.2, stale_after=1.0),
    "B": sensor("B", "T", low=250, high=400, rate=10, noise=0.5, stale_after=1.0),
    "P": sensor("P", "P", low=0, high=1000, rate=1, noise=1, stale_after=5.0),
}
HEAT = CommandConfig(
    name="heat",
    variable="P",
    via="mqtt",
    address="p/cmd/P",
    min=0,
    max=800,
    max_rate=50,
    period=1.0,
    state="T",
    setpoint=320,
    gain=100,
    bias=200,
)


def random_walk_filter(settings):
    """The EKF a random-walk twin of ``settings`` runs (x_next = x; z = H x)."""
    n, m = len(settings.states), len(settings.measurement_sensors)
    H = np.ones((m, n))  # every measurement sensor measures T, the only state
    return fmitwin.ExtendedKalmanFilter(
        n,
        m,
        x0=np.array([settings.x0[s] for s in settings.states]),
        P0=np.diag([settings.P0[s] for s in settings.states]),
        Q=np.zeros((n, n)),
        R=np.diag([s.noise**2 for s in settings.measurement_sensors]),
        process_model=fmitwin.LinearProcessModel(np.eye(n), np.zeros((n, len(settings.inputs)))),
        measurement_model=fmitwin.LinearMeasurementModel(H),
        gate_probability=0.999999,
    )


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def make(policy="merge", window=0.0, initialize="x0"):
    settings = SyncSettings(
        states=["T"],
        inputs=["P"],
        sensors=SENSORS,
        x0={"T": 300.0},
        P0={"T": 4.0},
        Q={"T": 0.01},
        nis_window=20,
        policy=policy,
        reorder_window=window,
        initialize=initialize,  # "x0": the FilterPy references start there too
    )
    clock = Clock()
    events = []
    gateway = Gateway(SENSORS, clock=clock, on_event=lambda k, d: events.append((k, d)))
    sync = Synchronizer(
        settings,
        random_walk_filter(settings),
        gateway,
        clock=clock,
        on_event=lambda k, d: events.append((k, d)),
    )
    return settings, clock, gateway, sync, events


def reading(sensor, value, ts, **kw):
    return Reading(sensor, value, ts, None, kw.pop("received", ts), **kw)


# -- gateway -------------------------------------------------------------------------------------


def test_every_kind_of_bad_reading_is_rejected_counted_and_never_clamped():
    _, clock, gateway, _, _ = make()
    clock.now = T0 + 100.0
    now = clock.now
    bad = [
        (reading("A", 1e6, now), Flag.OUT_OF_RANGE),
        (reading("A", -1.0, now), Flag.OUT_OF_RANGE),
        (reading("A", math.nan, now), Flag.NAN),
        (reading("A", math.inf, now), Flag.NAN),
        (reading("A", "301.5", now), Flag.WRONG_TYPE),
        (reading("A", True, now), Flag.WRONG_TYPE),
        (reading("A", None, now), Flag.WRONG_TYPE),
        (reading("A", [300.0], now), Flag.WRONG_TYPE),
        (reading("A", 300.0, now - 5.0), Flag.STALE),
        (reading("A", 300.0, now + 60.0), Flag.FUTURE),
        (reading("A", 300.0, now, quality=0.0, flag=Flag.BAD_STATUS), Flag.BAD_STATUS),
        (reading("A", b"{", now, quality=0.0, flag=Flag.MALFORMED), Flag.MALFORMED),
    ]
    for r, flag in bad:
        out = gateway.submit(r)
        assert out.flag is flag, (r.raw, out.flag)
        assert out.quality == 0.0 and math.isnan(out.value)  # never a number for the filter
    assert len(gateway.buffer) == 0
    counts = gateway.counts()["A"]
    assert counts["received"] == len(bad) and counts["accepted"] == 0
    assert counts[Flag.OUT_OF_RANGE] == 2 and counts[Flag.NAN] == 2
    assert counts[Flag.WRONG_TYPE] == 4 and counts[Flag.STALE] == 1
    assert gateway.stats["A"].rejected == len(bad)

    good = gateway.submit(reading("A", np.float32(301.0), now))
    uncertain = gateway.submit(reading("A", 302, now, quality=0.5, flag=Flag.UNCERTAIN))
    assert good.flag is Flag.OK and good.value == 301.0 and good.quality == 1.0
    assert uncertain.flag is Flag.UNCERTAIN and uncertain.quality == 0.5
    assert len(gateway.buffer) == 2


def test_exact_repeats_are_duplicates_remembered_for_stale_after():
    config, clock, gateway, sync, _ = make()
    first = gateway.submit(reading("A", 301.0, T0))
    repeat = gateway.submit(reading("A", 301.0, T0))  # a QoS 1 redelivery: same ts, same value
    other_value = gateway.submit(reading("A", 302.0, T0))  # a second reading at that instant
    other_sensor = gateway.submit(reading("B", 301.0, T0))
    assert [r.flag for r in (first, repeat, other_value, other_sensor)] == [
        Flag.OK,
        Flag.DUPLICATE,
        Flag.OK,
        Flag.OK,
    ]
    assert repeat.quality == 0.0 and math.isnan(repeat.value)
    assert gateway.counts()["A"] == {"received": 3, "accepted": 2, Flag.OK: 2, Flag.DUPLICATE: 1}
    assert sync.step() == 3  # the repeat never reaches the filter
    # a repeat older than stale_after is stale (and the memory of it is gone): memory is bounded
    clock.now = T0 + 1.5
    gateway.submit(reading("A", 303.0, T0 + 1.4))
    assert gateway.submit(reading("A", 301.0, T0)).flag is Flag.STALE
    assert gateway.stats["A"].accepted_keys == {(T0 + 1.4, 303.0)}


def test_bounded_buffer_drops_oldest_and_reports():
    buf = BoundedBuffer(5)
    for i in range(8):
        buf.push(i)
    assert len(buf) == 5 and buf.dropped == 3 and buf.high_water == 5
    assert buf.drain() == [3, 4, 5, 6, 7]
    with pytest.raises(ValueError, match="capacity"):
        BoundedBuffer(0)


def test_last_known_value_quality_decays_then_goes_stale():
    _, clock, gateway, _, events = make()
    gateway.submit(reading("P", 500.0, clock.now))
    assert gateway.last_known("P") == (500.0, 1.0)
    clock.now += 2.5  # half of stale_after = 5 s
    value, q = gateway.last_known("P")
    assert value == 500.0 and q == pytest.approx(math.exp(-1.5))
    assert gateway.check_staleness() == []
    clock.now += 3.0
    assert gateway.last_known("P") == (500.0, 0.0)
    assert gateway.check_staleness() == ["P"]
    assert ("sensor_stale", {"sensor": "P", "last_reading": T0, "at": clock.now}) in events
    assert gateway.check_staleness() == []  # reported once per episode


# -- synchronizer --------------------------------------------------------------------------------


def _run(sync, gateway, clock, readings):
    for r in readings:
        clock.now = r.received_ts
        gateway.submit(r)
        sync.step()


def test_event_time_updates_match_filterpy():
    config, clock, gateway, sync, _ = make()
    rng = np.random.default_rng(1)
    readings, t = [], T0
    for i in range(200):
        t += rng.uniform(0.01, 0.2)  # irregular source timestamps
        sensor = "A" if i % 3 else "B"
        value = 300.0 + rng.normal(0, config.sensors[sensor].noise)
        readings.append(reading(sensor, value, t, received=t + 0.01))
    _run(sync, gateway, clock, readings)
    assert sync.counters.divergences == 0  # else the merge policy would have changed Q

    kf = KalmanFilter(dim_x=1, dim_z=1)
    kf.x, kf.P, kf.F, kf.H = np.array([[300.0]]), np.array([[4.0]]), np.eye(1), np.eye(1)
    prev = None
    for r in readings:
        if prev is not None:
            kf.predict(Q=np.array([[0.01 * (r.source_ts - prev)]]))
        prev = r.source_ts
        noise = config.sensors[r.sensor].noise
        kf.update(np.array([[r.value]]), R=np.array([[noise**2]]))
    assert sync.ekf.x[0] == pytest.approx(kf.x[0, 0], rel=1e-12, abs=1e-9)
    assert sync.ekf.P[0, 0] == pytest.approx(kf.P[0, 0], rel=1e-9)
    assert sync.t == readings[-1].source_ts
    assert sync.counters.applied == 200


def test_late_reading_is_dropped_and_counted_without_changing_the_estimate():
    _, clock, gateway, sync, _ = make(window=0.0)
    _run(sync, gateway, clock, [reading("A", 300.0, T0 + 1.0), reading("A", 300.2, T0 + 2.0)])
    x, P = sync.ekf.x, sync.ekf.P
    _run(sync, gateway, clock, [reading("B", 310.0, T0 + 1.5, received=T0 + 2.1)])
    assert sync.counters.late["B"] == 1
    np.testing.assert_array_equal(sync.ekf.x, x)
    np.testing.assert_array_equal(sync.ekf.P, P)


def test_reorder_window_applies_out_of_order_readings_in_event_order():
    ordered = [reading("A" if i % 2 else "B", 300.0 + i, T0 + 0.1 * i) for i in range(1, 30)]
    shuffled = [ordered[i ^ 1] for i in range(len(ordered) - 1)] + [ordered[-1]]
    results = []
    for readings, window in ((ordered, 0.0), (shuffled, 0.5)):
        _, clock, gateway, sync, _ = make(window=window)
        for r in readings:  # everything arrives 0.05 s after its source time, shuffled in pairs
            r.received_ts = r.source_ts + 0.15
            clock.now = r.received_ts
            gateway.submit(Reading(r.sensor, r.raw, r.source_ts, None, r.received_ts))
            sync.step()
        sync.step(now=clock.now + 1.0)
        assert sum(sync.counters.late.values()) == 0
        results.append((sync.ekf.x.copy(), sync.ekf.P.copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=0, atol=1e-12)


def _biased_run(policy, bias_from=100, n=300, bias=3.0):
    config, clock, gateway, sync, events = make(policy=policy)
    rng = np.random.default_rng(2)
    readings = []
    for i in range(n):
        b = bias if bias_from <= i < bias_from + 100 else 0.0
        readings.append(reading("A", 300.0 + rng.normal(0, 0.2) + b, T0 + 0.1 * i))
        readings.append(reading("B", 300.0 + rng.normal(0, 0.5), T0 + 0.1 * i + 0.05))
        readings.append(reading("P", 0.0, T0 + 0.1 * i + 0.06))
    return config, clock, gateway, sync, events, readings


@pytest.mark.parametrize("policy", ["physical_wins", "virtual_wins", "merge"])
def test_divergence_is_detected_recorded_and_handled_by_policy(policy):
    _, clock, gateway, sync, events, readings = _biased_run(policy)
    _run(sync, gateway, clock, readings[:300])  # 100 clean steps: no alarm
    assert sync.counters.divergences == 0 and sync.health() == "ok"
    _run(sync, gateway, clock, readings[300:390])  # sensor A jumps by 15 sigma
    divergences = [d for k, d in events if k == "divergence"]
    assert divergences, "a 3 K bias must raise a divergence event"
    d = divergences[0]
    assert d["sensor"] == "A" and d["policy"] == policy and d["reasons"]
    assert {"window_nis_sum", "chi2_bound", "cusum_pos", "cusum_neg", "residual"} <= set(d)
    assert sync.health() == ("degraded" if policy == "virtual_wins" else "diverged")
    if policy == "virtual_wins":
        assert sync.monitors["A"].quarantined and sync.counters.quarantined["A"] > 0
        assert abs(sync.ekf.x[0] - 300.0) < 1.0  # the model (and sensor B) kept the estimate
        _run(sync, gateway, clock, readings[390:])  # the bias ends: quarantine is lifted
        assert not sync.monitors["A"].quarantined
        assert any(k == "quarantine_lifted" for k, _ in events)
    elif policy == "physical_wins":
        assert "covariance reset" in d["action"]
    else:
        assert "process noise" in d["action"]


def test_a_twin_started_45_k_from_the_plant_locks_on_and_stays_within_3_sigma():
    """x0 = 300 K, the plant at 345 K: with the default initialize = "readings" the first reading
    starts the estimate; with "x0" every reading fails the gate (the failure found)."""
    rng = np.random.default_rng(5)
    plant = 345.0
    readings = []
    for i in range(300):  # 30 s at 10 Hz
        t = T0 + 0.1 * i
        readings.append(reading("A", plant + rng.normal(0, 0.2), t))
        readings.append(reading("B", plant + rng.normal(0, 0.5), t + 0.05))
        readings.append(reading("P", 0.0, t + 0.06))
    _, clock, gateway, sync, events = make(initialize="readings")
    _run(sync, gateway, clock, readings)
    sigma = math.sqrt(sync.ekf.P[0, 0])
    assert abs(sync.ekf.x[0] - plant) < 3 * sigma
    assert sum(sync.counters.gated.values()) == 0 and sync.counters.divergences == 0
    assert sync.health() == "ok"
    _, clock, gateway, sync, events = make(initialize="x0")
    _run(sync, gateway, clock, readings)
    assert sum(sync.counters.gated.values()) > 500  # stuck: the gate refuses the plant


def test_divergence_events_are_aggregated_not_a_storm():
    """Sensor A 6 K off for 20 s (after the others agreed for 10 s) alarms again and again; the
    events come at most one per NIS window of time and count the alarms in between."""
    _, clock, gateway, sync, events, readings = _biased_run("merge", n=300, bias=6.0)
    _run(sync, gateway, clock, readings)
    divergences = [d for k, d in events if k == "divergence"]
    window = 20 / 21.0  # nis_window over the sensors' total rate (10 + 10 + 1 per s)
    times = [d["t"] for d in divergences]
    assert all(b - a >= window for a, b in zip(times, times[1:], strict=False))
    reported = len(divergences) + sum(d["suppressed"] for d in divergences)
    assert sync.counters.divergences == reported + sync.unreported_divergences
    assert sync.counters.divergences > len(divergences) >= 1


# -- commands ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_commands_off_by_default():
    config, clock, gateway, sync, _ = make()
    sent = []

    async def send(cmd, value):
        sent.append(value)

    writer = CommandWriter({"heat": HEAT}, sync, send, clock=clock)  # enabled=False: the default
    _run(sync, gateway, clock, [reading("A", 300.0, T0), reading("P", 0.0, T0)])
    await writer.tick()
    assert sent == [] and writer.enabled is False


def _fresh(temperature, t):
    return [reading("A", temperature, t), reading("B", temperature, t), reading("P", 0.0, t)]


@pytest.mark.asyncio
async def test_commands_bounded_rate_limited_logged_and_blocked_when_stale():
    config, clock, gateway, sync, _ = make()
    sent, events = [], []

    async def send(cmd, value):
        sent.append((clock.now, value))

    writer = CommandWriter(
        {"heat": HEAT},
        sync,
        send,
        enabled=True,
        clock=clock,
        on_event=lambda k, d: events.append((k, d)),
    )
    await writer.tick()  # no estimate yet: blocked
    assert sent == [] and events[-1][0] == "command_blocked"
    t = T0
    for _ in range(40):  # 4 s of fresh readings at 300 K: the law asks 200 + 100*20 = 2200 W
        t += 0.1
        _run(sync, gateway, clock, _fresh(300.0, t))
        await writer.tick()
    values = [v for _, v in sent]
    assert len(values) == 4  # one per period
    assert all(0.0 <= v <= 800.0 for v in values)  # never outside [min, max]
    assert values[0] == 50.0  # from the measured 0 W, at most 50 W/s over one period
    commands = [d for k, d in events if k == "command"]
    assert commands[0]["requested"] == pytest.approx(2200.0, abs=5.0)
    # rate limit: the law now asks less than min; each step may fall by at most 50 W/s * 1 s
    sync.ekf.x = np.array([400.0])
    for _ in range(3):
        t += 1.0
        _run(sync, gateway, clock, _fresh(400.0, t))
        await writer.tick()
    times, values = np.array(sent).T
    assert np.all(np.abs(np.diff(values)) <= 50.0 * np.diff(times) + 1e-9)
    assert values[-1] < 800.0
    # stale state: readings stop; the next due command is blocked and nothing is sent
    n = len(sent)
    clock.now = t + 2.0
    gateway.check_staleness()
    await writer.tick()
    assert len(sent) == n
    assert events[-1][0] == "command_blocked" and "stale" in events[-1][1]["reason"]
