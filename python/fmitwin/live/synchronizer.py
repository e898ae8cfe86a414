"""The state synchronizer: event-time predict/update, residual monitoring, conflict policy and the
command writer.

Event time. The filter's clock is the source timestamp of the readings, never the wall clock: for
each reading the filter predicts from its current time ``t`` to the reading's source timestamp
(in steps of at most ``model.step``) and then updates with that one sensor (the other entries of
z are NaN, so the filter drops them).

Out-of-order rule. Readings wait in a reorder buffer for ``reorder_window`` seconds of wall time
after arrival and are applied in source-timestamp order. A reading whose source timestamp is still
older than the filter's time when it is released is *late*: it is dropped, counted per sensor and
recorded (the filter never predicts backwards). ``reorder_window = 0`` applies readings as soon as
they are drained, sorted within the batch.

Residual monitoring, per measurement sensor, with innovation nu and its variance S:

* windowed NIS: the sum of the last N values of nu^2/S is chi-square with N degrees of freedom
  when plant and model agree; the alarm is ``sum > chi2.ppf(1 - nis_alpha, N)``;
* two-sided CUSUM on e = nu/sqrt(S): ``g+ = max(0, g+ + e - k)``, ``g- = max(0, g- - e - k)``,
  alarm when either exceeds ``h``; it catches slow drifts (sensor bias) the window misses.

An alarm is a divergence event, recorded with its evidence, and the conflict policy decides:

* ``physical_wins``: the plant is right: the covariance is reset to P0 so the estimate snaps to
  the measurements;
* ``virtual_wins``: the model is right: the sensor is quarantined (its readings are monitored but
  no longer update the filter) until its windowed NIS passes again;
* ``merge``: both are kept: process noise Q is inflated by ``merge_q_factor`` for the next
  ``nis_window`` updates, so the filter follows the plant as fast as the data justify.

Lock-on. With ``initialize = "readings"`` (the default) each state a sensor measures directly
starts from that sensor's first usable reading, not from ``x0``, so a twin started while the
plant is far from ``x0`` does not spend its first minutes rejecting every reading at the gate.
``physical_wins`` re-initialises those states from the latest readings as well as P. Divergence
events are aggregated: after one, further alarms during one NIS window of time are counted
(``suppressed`` in the next event) instead of each being an event.

Supervision. A model step that fails (the FMU returns an error, the integration raises, or the
state or covariance stops being finite) is a ``model_error`` event, never the end of the twin:
the filter is rebuilt (``rebuild``: a fresh FMU instance) and re-initialised at the failed
reading's time from ``x0`` with every measured state set to its sensor's latest good reading, and
P = P0. Health is ``model_error`` until an update succeeds again (then one ``model_recovered``
event counts the failures in between; a persisting fault makes no event storm).

Recalibration. With ``[filter.recalibration]`` (estimated FMU parameters appended to the state),
a divergence also opens a recalibration window, in addition to the policy: ``physical_wins``
(whose reset to P0 covers the parameters too) or ``merge``; the config refuses ``virtual_wins``,
as a quarantine would starve the window. While it is open the parameters' process noise grows by
``noise`` per second of event time, so the augmented-state EKF re-estimates them from the data
that showed the mismatch; ``duration`` seconds later a ``recalibration`` event records the
parameters before and after, with their standard deviations after. A divergence during an open
window opens no second one.

The predict and update, with their process-noise rule (the ``[filter] Q`` rates times dt, times
``merge_q_factor`` while merging, plus the open window's noise), are the
:class:`~fmitwin.calibration.AugmentedStep` that :class:`~fmitwin.calibration.OnlineRecalibrator`
runs too: fed the same readings, the two give the same estimates.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fmitwin.calibration import (
    AugmentedStep,
    NisDivergenceDetector,
    RecalibrationEvent,
    RecalibrationWindow,
)
from fmitwin.live.config import CommandConfig, RecalibrationConfig, SensorConfig, TwinConfig
from fmitwin.live.gateway import Gateway
from fmitwin.live.readings import Reading

EventSink = Callable[[str, dict], None]

HEALTH = ("starting", "ok", "degraded", "overloaded", "diverged", "stale", "model_error")

#: Seconds health stays ``overloaded`` after the last lost reading.
OVERLOAD_HOLD = 1.0


@dataclass(frozen=True)
class SyncSettings:
    """What the synchronizer needs to know of a twin: the filter's state and inputs, the
    sensors, and the filter's settings (the ``[filter]`` table; see ``fmitwin.live.config``)."""

    states: list[str]  # the filter's state: the model's states, then estimated parameters
    inputs: list[str]  # the model's inputs, in the order of u
    sensors: Mapping[str, SensorConfig]  # measurement sensors (z in this order) and inputs
    x0: Mapping[str, float]
    P0: Mapping[str, float]  # variances
    Q: Mapping[str, float] = field(default_factory=dict)  # variance growth per second
    step: float = 0.05  # the longest single predict step, seconds
    reorder_window: float = 0.0
    nis_window: int = 50
    nis_alpha: float = 0.001
    cusum_k: float = 0.5
    cusum_h: float = 12.0
    policy: str = "merge"
    recalibration: RecalibrationConfig | None = None
    initialize: str = "readings"  # or "x0": where the measured states start

    @classmethod
    def from_config(cls, config: TwinConfig) -> SyncSettings:
        f = config.filter
        return cls(
            states=f.estimated(config.model),
            inputs=list(config.model.inputs),
            sensors=dict(config.sensors),
            x0=dict(f.x0),
            P0=dict(f.P0),
            Q=dict(f.Q),
            step=config.model.step,
            reorder_window=f.reorder_window,
            nis_window=f.nis_window,
            nis_alpha=f.nis_alpha,
            cusum_k=f.cusum_k,
            cusum_h=f.cusum_h,
            policy=f.policy,
            recalibration=f.recalibration,
            initialize=f.initialize,
        )

    @property
    def measurement_sensors(self) -> list[SensorConfig]:
        return [s for s in self.sensors.values() if s.variable not in self.inputs]

    @property
    def input_sensors(self) -> list[SensorConfig]:
        return [s for s in self.sensors.values() if s.variable in self.inputs]


@dataclass
class Estimate:
    """The filter's estimate after one update; what the publisher serves."""

    t: float  # event time (source timestamp of the last reading applied)
    x: np.ndarray  # (n,)
    sigma: np.ndarray  # (n,) square roots of diag(P)
    source_ts: float  # source timestamp of the reading that produced it
    applied_at: float  # wall-clock time the update finished
    health: str
    updates: int


@dataclass
class SensorMonitor:
    """Windowed NIS (the shared :class:`~fmitwin.calibration.NisDivergenceDetector`, one degree
    of freedom per reading) and two-sided CUSUM state of one measurement sensor."""

    nis: NisDivergenceDetector
    k: float
    h: float
    g_pos: float = 0.0
    g_neg: float = 0.0
    last_nis: float = math.nan
    last_residual: float = math.nan
    last_sigma: float = math.nan  # sqrt(S)
    alarms: int = 0
    quarantined: bool = False

    def observe(self, residual: float, S: float) -> dict | None:
        """Feed one innovation; returns the evidence when an alarm fires (then resets)."""
        nis = residual * residual / S
        e = residual / math.sqrt(S)
        self.last_nis, self.last_residual, self.last_sigma = nis, residual, math.sqrt(S)
        self.g_pos = max(0.0, self.g_pos + e - self.k)
        self.g_neg = max(0.0, self.g_neg - e - self.k)
        reasons = []
        if self.nis.update(nis, 1):
            reasons.append("windowed_nis")
        if self.g_pos > self.h or self.g_neg > self.h:
            reasons.append("cusum")
        if not reasons:
            return None
        evidence = {
            "reasons": reasons,
            "window_nis_sum": self.nis.total,
            "window_len": len(self.nis),
            "chi2_bound": self.nis.bound,
            "cusum_pos": self.g_pos,
            "cusum_neg": self.g_neg,
            "cusum_h": self.h,
            "residual": residual,
            "residual_sigma": math.sqrt(S),
        }
        self.alarms += 1
        self.reset()
        return evidence

    def reset(self) -> None:
        self.nis.reset()
        self.g_pos = self.g_neg = 0.0

    @property
    def window_passes(self) -> bool:
        return self.nis.passes


@dataclass
class SyncCounters:
    applied: int = 0
    gated: Counter = field(default_factory=Counter)
    late: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)
    divergences: int = 0
    recalibrations: int = 0
    model_errors: int = 0


class Synchronizer:
    """Applies readings to an EKF in event time and monitors plant/model agreement.

    ``ekf`` follows the fmitwin EKF contract (``predict(dt, u, Q=...)``, ``update(z, quality=q)``,
    properties ``x``, ``P``, ``Q``); its z entries are ``settings.measurement_sensors`` in order
    and its states are ``settings.states``.
    """

    def __init__(
        self,
        settings: SyncSettings,
        ekf: Any,
        gateway: Gateway,
        *,
        u0: np.ndarray | None = None,
        on_event: EventSink | None = None,
        merge_q_factor: float = 25.0,
        clock: Callable[[], float] = time.time,
        rebuild: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.ekf = ekf
        self._rebuild = rebuild
        self.model_failure: str | None = None  # why the model failed, until it recovers
        self._failures_in_streak = 0
        self.gateway = gateway
        self.clock = clock
        self._on_event = on_event
        self.states = list(settings.states)
        self.measurements = [s.name for s in settings.measurement_sensors]
        self._z_index = {name: i for i, name in enumerate(self.measurements)}
        self._input_index = {
            s.name: settings.inputs.index(s.variable) for s in settings.input_sensors
        }
        self.u = np.zeros(len(settings.inputs)) if u0 is None else np.array(u0, float)
        self._P0 = np.diag([settings.P0[s] for s in self.states])
        f = settings
        self.monitors = {
            name: SensorMonitor(
                NisDivergenceDetector(f.nis_window, f.nis_alpha), f.cusum_k, f.cusum_h
            )
            for name in self.measurements
        }
        self.merge_q_factor = merge_q_factor
        self._merge_left = 0  # updates left with inflated Q
        recal = settings.recalibration
        self.recalibration = None
        if recal is not None:
            self.recalibration = RecalibrationWindow(
                [self.states.index(p) for p in recal.parameters],
                recal.parameters,
                noise=[recal.noise[p] for p in recal.parameters],
                duration=recal.duration,
            )
        # the shared predict/update step: Q = [filter] Q rates * dt (x merge_q_factor while
        # merging), plus the recalibration window's noise on the parameters while it is open
        self.stepper = AugmentedStep(
            [settings.Q.get(s, 0.0) for s in self.states],
            window=self.recalibration,
            max_step=settings.step,
        )
        self.t: float | None = None
        # states a sensor measures directly, still waiting for their first reading (lock-on)
        self._uninitialized = (
            {s.variable for s in settings.measurement_sensors if s.variable in self.states}
            if settings.initialize == "readings"
            else set()
        )
        self._quiet_until = -math.inf  # divergence events are aggregated until then
        self.unreported_divergences = 0  # alarms since the last divergence event
        self._lost_seen = 0  # readings lost to overload (buffer drops + late) already reported
        self._overloaded_until = -math.inf  # wall clock
        self._last_overload_event = -math.inf
        self.counters = SyncCounters()
        self._heap: list = []
        self._seq = itertools.count()
        self._estimate: Estimate | None = None
        self._estimate_source: tuple[float, float] | None = None
        self.last_divergence: float | None = None
        self._z = np.full(len(self.measurements), np.nan)

    # -- feeding --------------------------------------------------------------------------------

    def step(self, now: float | None = None) -> int:
        """Drain the gateway buffer, release due readings in event order and apply them."""
        now = self.clock() if now is None else now
        for r in self.gateway.buffer.drain():
            heapq.heappush(self._heap, (r.source_ts, next(self._seq), r))
        window = self.settings.reorder_window
        applied = 0
        held = []
        while self._heap:
            item = heapq.heappop(self._heap)
            if now - item[2].received_ts < window:
                held.append(item)  # not yet due; later ones stay too, to keep the order
                break
            applied += self.apply(item[2])
        for item in held:
            heapq.heappush(self._heap, item)
        return applied

    def next_due(self, now: float) -> float | None:
        """Seconds until the next reading in event order is due (None when none is held).

        Readings are released in source-timestamp order, so the one at the top of the heap is
        the one that holds the others back.
        """
        if not self._heap:
            return None
        top = self._heap[0][2]
        return max(0.0, top.received_ts + self.settings.reorder_window - now)

    def apply(self, reading: Reading) -> int:
        """Apply one usable reading now; returns 1 if it changed the estimate, else 0.

        A failing model step is supervised (see the module docstring): it returns 1 too, as the
        re-initialised estimate (health ``model_error``) is the one to publish."""
        try:
            return self._apply(reading)
        except MODEL_ERRORS as exc:
            self._model_failed(reading, exc)
            if reading.sensor in self._input_index:  # a new input is what may end the fault
                self.u[self._input_index[reading.sensor]] = reading.value
            return 1

    def _apply(self, reading: Reading) -> int:
        ts = reading.source_ts
        if self.t is not None and ts < self.t:
            self.counters.late[reading.sensor] += 1
            return 0
        if reading.sensor in self._input_index:
            self._predict_to(ts)
            self.u[self._input_index[reading.sensor]] = reading.value
            return 0
        self._predict_to(ts)
        variable = self.settings.sensors[reading.sensor].variable
        if variable in self._uninitialized:  # lock on: start from what the plant says
            self._uninitialized.discard(variable)
            x = self.ekf.x
            x[self.states.index(variable)] = reading.value
            self.ekf.x = x
        i = self._z_index[reading.sensor]
        monitor = self.monitors[reading.sensor]
        if monitor.quarantined:
            self._watch_quarantined(reading, i, monitor)
            return 0
        z = self._z
        z[:] = np.nan
        z[i] = reading.value
        observe = functools.partial(self._observe, reading, i, monitor)
        _, event = self.stepper.update(self.ekf, ts, z, observe, quality=reading.quality)
        z[i] = np.nan
        if event is not None:
            self._recalibrated(event)
        self._publishable(reading)
        return 1

    def _observe(self, reading: Reading, i: int, monitor: SensorMonitor, result: Any) -> None:
        """After an update: counters, recovery, and the sensor's divergence monitor."""
        if self.model_failure is not None:
            self._model_recovered(reading.source_ts)
        residual, S = _scalar(result.innovation, i), _scalar(result.S, i)
        if not result.accepted:
            self.counters.gated[reading.sensor] += 1
        else:
            self.counters.applied += 1
        if self._merge_left:
            self._merge_left -= 1
        if math.isfinite(residual) and S > 0:
            evidence = monitor.observe(residual, S)
            if evidence is not None:
                self._diverged(reading, evidence)

    def _predict_to(self, ts: float) -> None:
        if self.t is None:
            self.t = ts
            return
        scale = self.merge_q_factor if self._merge_left else 1.0
        self.stepper.predict(self.ekf, ts - self.t, self.u, scale)
        self.t = ts

    def _model_failed(self, reading: Reading, exc: BaseException) -> None:
        """Rebuild and re-initialise the filter at the reading's time (see Supervision)."""
        self.counters.model_errors += 1
        self._failures_in_streak += 1
        reason = f"{type(exc).__name__}: {exc}"
        first = self.model_failure is None
        self.model_failure = reason
        if self._rebuild is not None:
            self.ekf = self._rebuild()
        x0 = self.settings.x0
        x = np.array([x0.get(name, float(self.ekf.x[i])) for i, name in enumerate(self.states)])
        x = self._from_readings(x, reading.source_ts)
        self.ekf.x, self.ekf.P = x, self._P0.copy()
        self.t = reading.source_ts
        for monitor in self.monitors.values():
            monitor.reset()
        self._merge_left = 0
        if first:
            self._event(
                "model_error",
                t=reading.source_ts,
                sensor=reading.sensor,
                reason=reason,
                action="filter rebuilt and re-initialised from the latest good readings",
                x=x.tolist(),
            )
        self._publishable(reading)

    def _model_recovered(self, ts: float) -> None:
        self._event(
            "model_recovered", t=ts, failures=self._failures_in_streak, reason=self.model_failure
        )
        self.model_failure = None
        self._failures_in_streak = 0

    def _from_readings(self, x: np.ndarray, now: float) -> np.ndarray:
        """``x`` (n,) with each directly measured state set to the latest good reading of a
        sensor of it."""
        x = np.array(x, float)
        for s in self.settings.measurement_sensors:
            if s.variable in self.states:
                value, quality = self.gateway.last_known(s.name, now)
                if quality > 0.0 and math.isfinite(value):
                    x[self.states.index(s.variable)] = value
        return x

    def _watch_quarantined(self, reading: Reading, i: int, monitor: SensorMonitor) -> None:
        """Residual of a quarantined sensor (virtual_wins), computed without updating."""
        cfg = self.settings.sensors[reading.sensor]
        j = self.states.index(cfg.variable)
        x, P = self.ekf.x, self.ekf.P
        residual = reading.value - x[j]
        S = P[j, j] + cfg.noise**2 / max(reading.quality, 1e-9)
        self.counters.quarantined[reading.sensor] += 1
        monitor.observe(residual, S)
        if monitor.window_passes:
            monitor.quarantined = False
            self._event("quarantine_lifted", sensor=reading.sensor, t=reading.source_ts)

    def _diverged(self, reading: Reading, evidence: dict) -> None:
        policy = self.settings.policy
        self.counters.divergences += 1
        self.last_divergence = reading.source_ts
        if policy == "physical_wins":
            action = "covariance reset to P0, measured states to the latest readings"
            self.ekf.x = self._from_readings(self.ekf.x, reading.source_ts)
            self.ekf.P = self._P0.copy()
        elif policy == "virtual_wins":
            action = "sensor quarantined until its windowed NIS passes"
            self.monitors[reading.sensor].quarantined = True
        else:
            self._merge_left = self.settings.nis_window
            action = f"process noise x{self.merge_q_factor:g} for {self._merge_left} updates"
        if self.recalibration is not None and self.recalibration.open(
            reading.source_ts, {"sensor": reading.sensor, **evidence}, self.ekf.x
        ):
            action += f"; recalibrating {', '.join(self.recalibration.names)}"
        if reading.source_ts < self._quiet_until:  # no event storm: counted in the next one
            self.unreported_divergences += 1
            return
        self._quiet_until = reading.source_ts + self._recent()
        self._event(
            "divergence",
            sensor=reading.sensor,
            t=reading.source_ts,
            policy=policy,
            action=action,
            x=self.ekf.x.tolist(),
            suppressed=self.unreported_divergences,  # alarms since the last event
            **evidence,
        )
        self.unreported_divergences = 0

    def _recalibrated(self, event: RecalibrationEvent) -> None:
        """Record the recalibration event of a window that closed."""
        self.counters.recalibrations += 1
        self._event(
            "recalibration",
            t=event.finished,
            started=event.started,
            sensor=event.evidence["sensor"],
            reasons=event.evidence["reasons"],
            before=event.before,
            after=event.after,
            after_std=event.after_std,
        )

    def _publishable(self, reading: Reading) -> None:
        self._estimate = None  # built on demand: most updates are superseded before publishing
        self._estimate_source = (reading.source_ts, self.clock())

    @property
    def estimate(self) -> Estimate | None:
        """The estimate after the last update (None before the first)."""
        if self._estimate is None and self._estimate_source is not None:
            P = self.ekf.P
            self._estimate = Estimate(
                t=self.t,
                x=self.ekf.x,
                sigma=np.sqrt(np.clip(np.diag(P), 0.0, None)),
                source_ts=self._estimate_source[0],
                applied_at=self._estimate_source[1],
                health=self.health(),
                updates=self.counters.applied,
            )
        return self._estimate

    # -- state ----------------------------------------------------------------------------------

    def health(self, now: float | None = None) -> str:
        """One of :data:`HEALTH`: ``starting``, ``model_error`` (see Supervision), ``stale`` (no
        measurement sensor is fresh: the estimate is a prediction), ``diverged``, ``overloaded``
        (readings were lost to overload within the last second, see ``check_load``),
        ``degraded`` (a stale or quarantined sensor) or ``ok``."""
        if self.t is None:
            return "starting"
        if self.model_failure is not None:
            return "model_error"
        if all(self.gateway.stats[s].stale for s in self.measurements):
            return "stale"
        if self.last_divergence is not None and self.t - self.last_divergence < self._recent():
            return "diverged"
        if self.clock() < self._overloaded_until:
            return "overloaded"
        stats = self.gateway.stats
        if any(stats[s].stale for s in self.gateway.sensors) or any(
            m.quarantined for m in self.monitors.values()
        ):
            return "degraded"
        return "ok"

    @property
    def lost(self) -> int:
        """Readings lost to overload: dropped by the full gateway buffer, or applied too late."""
        return self.gateway.buffer.dropped + sum(self.counters.late.values())

    def check_load(self, lag: float) -> None:
        """Called periodically: readings lost since the last call make health ``overloaded``
        for :data:`OVERLOAD_HOLD` s and an ``overload`` event, at most one a second."""
        now = self.clock()
        lost = self.lost
        if lost == self._lost_seen:
            return
        self._overloaded_until = now + OVERLOAD_HOLD
        if now - self._last_overload_event >= 1.0:
            self._event(
                "overload",
                lost=lost - self._lost_seen,
                dropped=self.gateway.buffer.dropped,
                late=sum(self.counters.late.values()),
                lag=lag,
                policy="the oldest buffered readings are dropped; publication coalesces",
            )
            self._last_overload_event = now
            self._lost_seen = lost

    def _recent(self) -> float:
        """How long after a divergence event health stays 'diverged': one NIS window of time."""
        rates = [self.settings.sensors[s].rate for s in self.measurements]
        return self.settings.nis_window / max(sum(rates), 1e-9)

    def _event(self, kind: str, **details) -> None:
        if self._on_event is not None:
            self._on_event(kind, details)


#: What a failing model step raises: the FMU's errors (fmitwin.FmuError is a RuntimeError),
#: numerical failures (fmitwin.calibration.ModelFailure is an ArithmeticError), and a refused
#: step (ValueError).
MODEL_ERRORS = (RuntimeError, ArithmeticError, ValueError)


def _scalar(value: Any, i: int) -> float:
    """Entry i of a full-size innovation/S, or the single entry of a reduced one."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 2:
        a = np.diag(a)
    a = a.ravel()
    if a.size == 0:
        return math.nan
    return float(a[i] if a.size > 1 else a[0])


class CommandWriter:
    """Setpoints written back to the plant: off by default, bounded, rate-limited, logged.

    Each command is a proportional law on one estimated state,
    ``u = bias + gain * (setpoint - x[state])``, then limited to a change of at most
    ``max_rate * elapsed`` from the last value sent (or the measured current value) and to
    ``[min, max]``. Nothing is sent while the twin's
    health is not ``ok`` (stale sensors, quarantined sensors, divergence) or while the estimate is
    older than every measurement sensor's ``stale_after``. Every decision is an event.
    """

    def __init__(
        self,
        commands: Mapping[str, CommandConfig],
        synchronizer: Synchronizer,
        send: Callable[[CommandConfig, float], Any],
        *,
        enabled: bool = False,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.commands = dict(commands)
        self.sync = synchronizer
        self.send = send
        self.clock = clock
        self._on_event = on_event
        self._max_age = min(s.stale_after for s in synchronizer.settings.measurement_sensors)
        self.last_sent: dict[str, tuple[float, float]] = {}  # name -> (time, value)
        self._last_block: dict[str, str] = {}
        self.sent = 0
        self.blocked = 0

    def due(self, name: str, now: float) -> bool:
        last = self.last_sent.get(name)
        return last is None or now - last[0] >= self.commands[name].period

    async def tick(self, now: float | None = None) -> None:
        """Evaluate every due command once; awaits the send of those allowed."""
        if not self.enabled:
            return
        now = self.clock() if now is None else now
        for name, cmd in self.commands.items():
            if not self.due(name, now):
                continue
            reason = self._blocked_reason(now)
            if reason:
                self.blocked += 1
                if self._last_block.get(name) != reason:  # log each new reason once
                    self._last_block[name] = reason
                    self._event("command_blocked", command=name, reason=reason, at=now)
                continue
            self._last_block.pop(name, None)
            value, requested = self.limit(name, now)
            try:
                await self.send(cmd, value)
            except Exception as exc:  # the plant link may be down: log and retry next period
                self._event("command_failed", command=name, value=value, error=str(exc), at=now)
                continue
            self.last_sent[name] = (now, value)
            self.sent += 1
            self._event(
                "command",
                command=name,
                variable=cmd.variable,
                value=value,
                requested=requested,
                at=now,
            )

    def limit(self, name: str, now: float) -> tuple[float, float]:
        """``(value to send, value the law asked for)``.

        The rate limit applies from the last value sent, or before the first command from the
        plant's current value as measured by an input sensor of the same variable; the bounds
        ``[min, max]`` apply last and always win.
        """
        cmd = self.commands[name]
        j = self.sync.states.index(cmd.state)
        requested = cmd.bias + cmd.gain * (cmd.setpoint - float(self.sync.ekf.x[j]))
        value = requested
        base = self.last_sent.get(name)
        if base is None:
            base = self._measured_input(cmd.variable, now)
        if base is not None:
            step = cmd.max_rate * (now - base[0])
            value = min(max(value, base[1] - step), base[1] + step)
        return min(max(value, cmd.min), cmd.max), requested

    def _measured_input(self, variable: str, now: float) -> tuple[float, float] | None:
        """``(now - period, value)`` of a fresh input sensor of ``variable``, if any."""
        for s in self.sync.settings.input_sensors:
            value, quality = self.sync.gateway.last_known(s.name, now)
            if s.variable == variable and quality > 0.0:
                period = next(c.period for c in self.commands.values() if c.variable == variable)
                return now - period, value
        return None

    def _blocked_reason(self, now: float) -> str:
        est = self.sync.estimate
        if est is None:
            return "no estimate yet"
        if now - est.source_ts > self._max_age:
            return f"estimate is stale ({now - est.source_ts:.2f} s old)"
        health = self.sync.health()
        if health != "ok":
            return f"twin health is {health}"
        for s in self.sync.settings.input_sensors:
            if self.sync.gateway.last_known(s.name, now)[1] <= 0.0:
                return f"input sensor {s.name} is stale or bad"
        return ""

    def _event(self, kind: str, **details) -> None:
        if self._on_event is not None:
            self._on_event(kind, details)
