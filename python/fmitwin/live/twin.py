"""A running twin: wires config -> EKF, gateway, synchronizer, adapters, publisher, commands and
history, and runs them as asyncio tasks until stopped.

Task layout (one event loop, no threads): one task per adapter (each reconnects on its own, so an
outage of one never stops another), the synchronizer task (woken by the gateway whenever a usable
reading is buffered), the publisher task, and a housekeeping task (staleness, history flush,
commands) every ``tick`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np

from fmitwin.live.config import CommandConfig, ConfigError, TwinConfig
from fmitwin.live.forward import Forwarder, Outbox, Uplink
from fmitwin.live.gateway import Gateway
from fmitwin.live.history import History
from fmitwin.live.mqtt import MqttLink, encode_payload, mqtt_auth, sensor_link
from fmitwin.live.opcua import OpcUaSource
from fmitwin.live.publish import OFFLINE, Publisher, TwinOpcUaServer
from fmitwin.live.readings import Reading, raise_if_cancelled
from fmitwin.live.redact import redact_details
from fmitwin.live.replay import ReplayClock, ReplaySource, csv_readings
from fmitwin.live.synchronizer import CommandWriter, Synchronizer, SyncSettings
from fmitwin.live.units import residual_metadata, state_metadata, unit_maps

log = logging.getLogger("fmitwin.live")


def measurement_matrix(config: TwinConfig) -> np.ndarray:
    """H (m, n): row i selects the state measured by the i-th measurement sensor."""
    states = config.model.states
    sensors = config.measurement_sensors
    H = np.zeros((len(sensors), len(states)))
    for i, s in enumerate(sensors):
        H[i, states.index(s.variable)] = 1.0
    return H


def build_filter(config: TwinConfig) -> tuple[Any, np.ndarray]:
    """The EKF for a twin and the initial input vector u0.

    Its state is the model's states followed by the estimated parameters (augmented state); a
    parameter without an ``x0`` starts from ``[model.parameters]`` or the FMU's start value.
    """
    import fmitwin

    f = config.filter
    states = f.estimated(config.model)
    sensors = config.measurement_sensors
    n = len(states)
    u0 = np.zeros(len(config.model.inputs))
    x0 = dict(f.x0)
    if config.model.process == "random_walk":
        # x_next = x; inputs are accepted (B = 0) so input sensors still feed the record
        process = fmitwin.LinearProcessModel(np.eye(n), np.zeros((n, len(u0))))
        measurement = fmitwin.LinearMeasurementModel(measurement_matrix(config))
    else:
        process, measurement, u0, starts = _fmu_process_model(config)  # the FMU is checked
        x0 = {**starts, **x0}
    scales = {name: abs(scale) for name, (scale, _) in unit_maps(config).items()}
    ekf = fmitwin.ExtendedKalmanFilter(
        n,
        len(sensors),
        x0=np.array([x0[s] for s in states]),
        P0=np.diag([f.P0[s] for s in states]),
        Q=np.diag([f.Q[s] for s in states]),
        R=np.diag([(scales.get(s.name, 1.0) * s.noise) ** 2 for s in sensors]),  # model units
        process_model=process,
        measurement_model=measurement,
        gate_probability=f.gate_probability,
        state_names=list(states),
        measurement_names=[s.name for s in sensors],
    )
    return ekf, u0


def resolve_fmu(config: TwinConfig) -> Path:
    """The model's FMU: a path relative to the twin file, or the name of a bundled model."""
    path = config.file.parent / config.model.fmu
    if path.is_file():
        return path
    import fmitwin.models

    try:
        return fmitwin.models.path(config.model.fmu)
    except (ValueError, FileNotFoundError) as exc:
        raise config.error("model.fmu", f"neither a file nor a bundled model: {exc}") from exc


def _fmu_process_model(config: TwinConfig) -> tuple[Any, Any, np.ndarray, dict[str, float]]:
    """FMU-backed process and measurement models (model exchange, integrated natively), u0 and
    the start values of the estimated parameters."""
    from fmitwin.estimation import fmu_models
    from fmitwin.fmu import FmuError, load_fmu

    path = resolve_fmu(config)
    try:
        model = load_fmu(path)
    except (FmuError, ValueError, OSError) as exc:
        raise config.error("model.fmu", f"cannot load {path}: {exc}") from exc
    fmu_states = [v.name for v in model.states]
    fmu_inputs = [v.name for v in model.inputs]
    if fmu_states != config.model.states:
        raise config.error(
            "model.states",
            f"{config.model.states} do not match the continuous states of {path.name}, "
            f"{fmu_states}; list exactly those, in that order",
        )
    if unknown := [name for name in config.model.inputs if name not in fmu_inputs]:
        raise config.error(
            "model.inputs",
            f"{unknown} are not inputs of {path.name}; its inputs are {fmu_inputs}",
        )
    fmu_outputs = [v.name for v in model.outputs]
    if unknown := [name for name in config.model.outputs if name not in fmu_outputs]:
        raise config.error(
            "model.outputs",
            f"{unknown} are not outputs of {path.name}; its outputs are {fmu_outputs}",
        )
    tunable = [
        v.name
        for v in model.variables.values()
        if v.causality == "parameter" and v.variability == "tunable"
    ]
    if unknown := [name for name in config.filter.parameters if name not in tunable]:
        raise config.error(
            "filter.parameters",
            f"{unknown} are not tunable parameters of {path.name}; only those can be "
            f"estimated: {tunable}",
        )
    variables = set(model.variables)
    if unknown := [name for name in config.model.parameters if name not in variables]:
        raise config.error(
            "model.parameters",
            f"{unknown} are not variables of {path.name}; see `fmitwin info {path}`",
        )
    try:
        models = fmu_models(
            model,
            measurements=[s.variable for s in config.measurement_sensors],
            inputs=config.model.inputs,
            parameters=config.filter.parameters,
            start_values=config.model.parameters,
        )
    except (TypeError, ValueError, KeyError) as exc:  # e.g. a string for a Real parameter
        raise config.error("model.parameters", str(exc).strip('"')) from exc
    instance = models.process.instance
    u0 = np.array(
        [
            float(config.model.parameters.get(name, instance.model.variable(name).start or 0.0))
            for name in config.model.inputs
        ]
    )
    # the estimated parameters' values after initialization (start values applied)
    starts = dict(zip(models.state_names, models.x0.tolist(), strict=True))
    return models.process, models.measurement, u0, starts


class Twin:
    """Everything a running twin owns. ``await twin.run(stop)`` returns after ``stop`` is set."""

    def __init__(
        self,
        config: TwinConfig,
        *,
        ekf: Any = None,
        u0=None,
        tick: float = 0.05,
        replay: Sequence[Reading] | None = None,
        speed: float = 0.0,
        history: str | Path | None | bool = True,
        capacity: int = 100_000,
        forward: bool = True,
    ):
        """``replay``: play these readings instead of connecting the live adapters (``speed`` 1 =
        real time, 0 = as fast as possible). ``history``: True = the config's path, a path, or
        None/False for no record. ``capacity``: readings the gateway buffers for the
        synchronizer; beyond it the oldest are dropped (the load-shedding policy). ``forward``:
        False never forwards to the centre, whatever ``[forward]`` says (a replay)."""
        self.config = config
        self.tick = tick
        rebuild = None
        if ekf is None:
            ekf, u0 = build_filter(config)

            def rebuild():  # after a model failure: a fresh filter, and a fresh FMU instance
                return build_filter(config)[0]

        self.events: deque = deque(maxlen=200)
        self.clock = time.time if replay is None else ReplayClock()
        self.history = None
        history_path = config.history.path if history is True else history or None
        if history_path is not None:
            self.history = History(
                history_path,
                flush_interval=config.history.flush_interval,
                meta={
                    "twin": config.name,
                    "config": str(config.file),
                    "states": config.filter.estimated(config.model),  # names of x's entries
                    "started": time.time(),
                },
            )
        self.outbox = self.forwarder = self.uplink = None
        if config.forward is not None and forward:
            self._open_uplink(history_path)
        self._ready = asyncio.Event()
        self.gateway = Gateway(
            config.sensors,
            capacity=capacity,
            units=unit_maps(config),
            on_reading=self.history.record_reading if self.history else None,
            on_event=self.event,
            on_buffered=self._ready.set,
            clock=self.clock,
        )
        self.sync = Synchronizer(
            SyncSettings.from_config(config),
            ekf,
            self.gateway,
            u0=u0,
            on_event=self.event,
            clock=self.clock,
            rebuild=rebuild,
        )
        by_source = {"opcua": [], "mqtt": [], "csv": []}
        for s in config.sensors.values():
            by_source[s.source].append(s)
        self.opcua = self.mqtt = self.replay = None
        if replay is None and by_source["csv"]:
            self.clock = ReplayClock()
            self.gateway.clock = self.sync.clock = self.clock
            names = [s.name for s in by_source["csv"]]
            replay = csv_readings(config.csv.path, names)
            speed = config.csv.speed
        if replay is not None:
            self.replay = ReplaySource(replay, self.gateway.submit, self.clock, speed=speed)
        elif by_source["opcua"]:
            self.opcua = OpcUaSource(
                config.opcua, by_source["opcua"], self.gateway.submit, on_event=self.event
            )
        if replay is None and by_source["mqtt"]:
            self.mqtt = sensor_link(
                config.mqtt, by_source["mqtt"], self.gateway.submit, on_event=self.event
            )
        pub = config.publish
        self.server = self.publish_link = None
        if pub.opcua:
            if problem := pub.security.problem():
                raise ConfigError(str(config.file), pub.line, "publish", problem)
            self.server = TwinOpcUaServer(
                pub.opcua,
                pub.namespace,
                config.name,
                self.sync,
                pub.security,
                metadata=state_metadata(config),
                maintenance=config.maintenance,
                history=self.history,
                residuals=residual_metadata(config),
            )
        if pub.mqtt:
            self.publish_link = MqttLink(
                "publish",
                pub.mqtt,
                on_event=self.event,
                will=aiomqtt.Will(f"{pub.prefix}/status", OFFLINE, qos=1, retain=True),
                **mqtt_auth(config.mqtt),
            )
        remaining_life = None
        if config.maintenance is not None:
            from fmitwin.maintenance.online import RemainingLife

            remaining_life = RemainingLife(config.maintenance)
        self.publisher = Publisher(
            self.sync,
            opcua=self.server,
            mqtt=self.publish_link,
            prefix=pub.prefix,
            interval=pub.interval,
            history=self.history,
            remaining_life=remaining_life,
            status_extra=(lambda: {"forward": self.forward_status()}) if self.uplink else None,
        )
        self.commands = CommandWriter(
            config.commands,
            self.sync,
            self._send_command,
            enabled=config.commands_enabled,
            on_event=self.event,
            clock=self.clock,
        )
        self.started = time.time()

    def _open_uplink(self, history_path: str | Path | None) -> None:
        """The outbox (in the history file unless ``[forward] outbox`` names one), the
        forwarder that empties it and the uplink that fills it."""
        fwd = self.config.forward
        path = fwd.outbox or history_path
        if path is None:
            raise self.config.error(
                "forward.outbox", "this twin records no history to keep the outbox in; name one"
            )
        own_file = history_path is None or Path(path) != Path(history_path)
        self.outbox = Outbox(path, limit=fwd.max_records, max_bytes=fwd.max_bytes, lock=own_file)
        try:
            self.forwarder = Forwarder(
                self.outbox,
                fwd.url,
                twin=self.config.name,
                client_id=fwd.client_id,
                prefix=fwd.prefix,
                on_event=self.event,
                **mqtt_auth(fwd),
            )
        except ValueError as exc:  # the credential rules of client_args
            self._close_outbox()
            raise self.config.error("forward.url", str(exc)) from None
        self.uplink = Uplink(
            self.outbox,
            self.config.filter.estimated(self.config.model),
            every=fwd.every,
            min_interval=fwd.min_interval,
            deadband=fwd.deadband,
            summary_interval=fwd.summary_interval,
        )
        self._health_sent = -math.inf
        self._forward_final: dict[str, Any] | None = None

    def _close_outbox(self) -> None:
        if self.forwarder is not None:
            self._forward_final = self.forwarder.stats()  # still reported once closed
        if self.outbox is not None:
            self.outbox.close()

    def forward_status(self) -> dict[str, Any] | None:
        """The forwarder's backlog, drops, bytes sent and last contact (None: no [forward])."""
        if self.forwarder is None:
            return None
        return self._forward_final or self.forwarder.stats()

    def _forward_health(self, *, force: bool = False) -> None:
        """Queue a health record every ``health_interval`` (or now, ``force``)."""
        now = time.monotonic()
        if not force and now - self._health_sent < self.config.forward.health_interval:
            return
        self._health_sent = now
        c = self.sync.counters
        self.uplink.health(
            {
                "health": self.sync.health(),
                "updates": c.applied,
                "divergences": c.divergences,
                "dropped": self.gateway.buffer.dropped,
                "late": sum(c.late.values()),
                "at": time.time(),
                "forward": self.forward_status(),
            }
        )

    def _forward_estimate(self) -> None:
        est = self.sync.estimate
        if self.uplink is not None and est is not None:
            self.uplink.estimate(est.t, est.x, est.sigma, self.sync.health())

    def _flush_uplink(self, *, final: bool = False) -> None:
        if self.uplink is not None and self.uplink.flush(final=final):
            self.forwarder.wake.set()

    def event(self, kind: str, details: dict) -> None:
        details = redact_details(details)  # a URL with a password never reaches log or history
        now = self.clock()
        self.events.append((now, kind, details))
        if self.history is not None:
            self.history.record_event(kind, details, now)
        if self.uplink is not None:
            self.uplink.event(kind, details, now)
        log.info("%s %s", kind, details)

    async def _send_command(self, cmd: CommandConfig, value: float) -> None:
        if cmd.via == "opcua":
            if self.opcua is None:
                raise ConnectionError("no OPC UA link configured for commands")
            await self.opcua.write(cmd.address, value)
        else:
            if self.mqtt is None:
                raise ConnectionError("no MQTT link configured for commands")
            await self.mqtt.publish(cmd.address, encode_payload(value, time.time()))

    async def _synchronize(self) -> None:
        while True:
            raise_if_cancelled()
            due = self.sync.next_due(self.clock())
            if due is None:
                await self._ready.wait()
            else:  # wake for new data or when the oldest held reading is due, whichever first
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), timeout=due)
            self._ready.clear()
            if self.sync.step():
                self.publisher.notify()
                self._forward_estimate()
            await asyncio.sleep(0)  # let the adapters deliver the next batch

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.gateway.check_staleness()
            lag = self.publisher.latencies[-1] if self.publisher.latencies else 0.0
            self.sync.check_load(lag)
            await self.publisher.refresh()
            await self.commands.tick()
            if self.history is not None:
                self.history.maybe_flush()
            if self.uplink is not None:
                self._forward_health()
                self._flush_uplink()

    async def run(self, stop: asyncio.Event | None = None, duration: float | None = None) -> None:
        """Run until ``stop`` is set or ``duration`` seconds passed; then stop cleanly."""
        stop = stop or asyncio.Event()
        if self.server is not None:
            await self.server.start()
        coros = [self._synchronize(), self._housekeeping(), self.publisher.run()]  # then links
        links = (self.opcua, self.mqtt, self.replay, self.publish_link, self.forwarder)
        coros += [link.run() for link in links if link]
        tasks = [asyncio.create_task(c) for c in coros]
        self.event("twin_started", {"name": self.config.name})
        try:
            waiters = [asyncio.create_task(stop.wait())]
            if self.replay is not None:
                waiters.append(asyncio.create_task(self.replay.done.wait()))
            await asyncio.wait(
                [*waiters, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED
            )
            for w in waiters:
                w.cancel()
            for t in tasks:
                if t.done() and t.exception() is not None:
                    raise t.exception()
        finally:
            await self._shutdown(tasks)

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        """Stop everything; whatever fails on the way, the stop is recorded and the history
        closed."""
        try:
            for t in tasks[:3]:  # synchronizer, housekeeping, publisher: nothing new goes out
                t.cancel()
            await self.publisher.offline()  # the last status, while the MQTT link is still up
            for t in tasks:
                t.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=10.0)
            if stuck:  # never hang the shutdown: report and go on flushing
                log.error("tasks did not stop within 10 s: %s", [t.get_coro() for t in stuck])
            self.sync.step(now=math.inf)  # apply everything still held for reordering
            if self.sync.estimate is not None:  # the last estimate: served and recorded
                await self.publisher.publish(self.sync.estimate)
                self._forward_estimate()
            if self.server is not None:
                await self.server.stop()
        finally:
            self.event("twin_stopped", {"counts": self.gateway.counts()})
            if self.history is not None:
                self.history.close()
            if self.uplink is not None:  # the rest waits in the outbox for the next run
                self._forward_health(force=True)
                self._flush_uplink(final=True)
                self._close_outbox()
