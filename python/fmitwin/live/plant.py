"""A plant to couple a twin to: an FMU simulated in real time, served over OPC UA and/or MQTT,
with the faults of real instrumentation.

The FMU (co-simulation, FMI 2.0 or 3.0) is stepped through FMPy at ``step`` seconds, paced to the
wall clock (real-time pacing makes a Python call per step affordable). Every ``1/rate`` seconds
each sensor variable is sampled, corrupted, and served:

* OPC UA: namespace ``urn:fmitwin:plant:<model>``; node ``s=<variable>`` holds the measured
  value (Double, source timestamp = sample time), ``s=true.<variable>`` the noise-free value
  (ground truth for demos and tests). Inputs are sensors too (``s=<input>`` reports the value in
  effect); ``s=cmd.<input>`` is the writable setpoint (commands).
* MQTT: ``<prefix>/<variable>`` with the payload schema of ``fmitwin.live.mqtt``;
  commands arrive on ``<prefix>/cmd/<input>`` with the same schema.

Faults (all off by default): Gaussian ``noise`` (std per variable), ``dropout`` (probability a
sample is not sent), ``stuck`` (a variable keeps its last value from ``start`` for ``duration``),
``drift`` (a bias growing at ``rate`` per second from ``start``), and ``outages`` (the OPC UA server
goes away and MQTT publishing stops, from ``start`` for ``duration``; times in seconds from the
start of the run).

Access (:mod:`fmitwin.live.access`): measured and ``true.*`` nodes are read-only for every client;
without ``access`` anyone may read and write the ``cmd.*`` setpoints (anonymous "operate", for a
loopback demo); with an :class:`~fmitwin.live.access.AccessPolicy` only its operators may write
them. With ``certificate`` and ``private_key`` the server accepts only Basic256Sha256
SignAndEncrypt channels; without, only security None, where passwords would travel in the clear,
so users then need ``allow_insecure_credentials``. The server binds a loopback address unless
``allow_remote_clients`` (see :mod:`fmitwin.live.serving`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fmpy
import numpy as np
from asyncua import Server, ua
from fmpy.fmi2 import FMU2Slave
from fmpy.fmi3 import FMU3Slave

from fmitwin.archive import extract
from fmitwin.fmi_types import scalar_type, value_kind
from fmitwin.live.access import AccessPolicy
from fmitwin.live.mqtt import MqttLink, decode_payload, encode_payload
from fmitwin.live.opcua import data_value
from fmitwin.live.readings import Flag
from fmitwin.live.serving import ServerSecurity

log = logging.getLogger("fmitwin.plant")


@dataclass(frozen=True)
class Window:
    """A fault active from ``start`` for ``duration`` seconds of plant time."""

    start: float
    duration: float

    def active(self, t: float) -> bool:
        return self.start <= t < self.start + self.duration


@dataclass
class Faults:
    noise: dict[str, float] = field(default_factory=dict)  # std per variable
    dropout: float = 0.0
    stuck: dict[str, Window] = field(default_factory=dict)
    drift: dict[str, tuple[float, float]] = field(default_factory=dict)  # var -> (rate, start)
    outages: list[Window] = field(default_factory=list)


class FmuStepper:
    """One co-simulation FMU instance stepped by FMPy: set inputs, ``step(h)``, read values."""

    def __init__(self, path: str | Path, start_values: Mapping[str, float] | None = None) -> None:
        self.path = Path(path)
        self.md = fmpy.read_model_description(str(self.path))
        if self.md.coSimulation is None:
            raise ValueError(f"{self.path}: the plant needs a co-simulation FMU; this one has none")
        self._unzip = str(extract(self.path))  # bounded: see fmitwin.archive
        self.vars = {v.name: v for v in self.md.modelVariables}
        self.fmi3 = self.md.fmiVersion.startswith("3")
        cls = FMU3Slave if self.fmi3 else FMU2Slave
        self.fmu = cls(
            guid=self.md.guid,
            unzipDirectory=self._unzip,
            modelIdentifier=self.md.coSimulation.modelIdentifier,
            instanceName="plant",
        )
        self.fmu.instantiate()
        for name, value in (start_values or {}).items():
            self.set(name, value)
        if self.fmi3:
            self.fmu.enterInitializationMode(startTime=0.0)
        else:
            self.fmu.setupExperiment(startTime=0.0)
            self.fmu.enterInitializationMode()
        self.fmu.exitInitializationMode()
        self.time = 0.0

    def _vr(self, name: str) -> int:
        if name not in self.vars:
            raise KeyError(f"{self.path.name} has no variable {name!r}; it has {sorted(self.vars)}")
        return self.vars[name].valueReference

    def _accessor(self, verb: str, name: str) -> tuple[Any, int]:
        """FMPy's get/set method for the variable's FMI type (fmitwin.fmi_types), and its vr."""
        vr = self._vr(name)
        variable = self.vars[name]
        if scalar_type(variable.type, 3 if self.fmi3 else 2) is None:
            raise TypeError(
                f"{self.path.name}: {name} is {variable.type}; the plant serves numbers"
            )
        fmi_name = (
            ("Int64" if self.fmi3 else "Integer")
            if variable.type == "Enumeration"
            else variable.type
        )
        return getattr(self.fmu, verb + fmi_name), vr

    def set(self, name: str, value: float) -> None:
        setter, vr = self._accessor("set", name)
        kind = value_kind(self.vars[name].type)
        setter(
            [vr],
            [
                bool(value)
                if kind == "boolean"
                else int(value)
                if kind == "integer"
                else float(value)
            ],
        )

    def get(self, names: Sequence[str]) -> list[float]:
        return [float(getter([vr])[0]) for getter, vr in (self._accessor("get", n) for n in names)]

    def step(self, h: float) -> None:
        self.fmu.doStep(self.time, h)
        self.time += h

    def names(self, causality: str) -> list[str]:
        return [v.name for v in self.md.modelVariables if v.causality == causality]

    def states(self) -> list[str]:
        """Continuous states: the variables named as derivatives' targets."""
        refs = [d.variable.derivative for d in self.md.derivatives] if self.md.derivatives else []
        return [v.name for v in refs if v is not None]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.fmu.terminate()
        self.fmu.freeInstance()


class Plant:
    """Serves an FMU as a live plant. ``await plant.run(stop)``; ``truth`` records true values."""

    def __init__(
        self,
        fmu: str | Path,
        *,
        opcua: str | None = None,
        mqtt: str | None = None,
        sensors: Sequence[str] | None = None,
        start_values: Mapping[str, float] | None = None,
        step: float = 0.01,
        rate: float = 20.0,
        faults: Faults | None = None,
        seed: int = 0,
        prefix: str | None = None,
        namespace: str | None = None,
        access: AccessPolicy | None = None,
        certificate: str | Path | None = None,
        private_key: str | Path | None = None,
        allow_insecure_credentials: bool = False,
        allow_remote_clients: bool = False,
    ) -> None:
        self.sim = FmuStepper(fmu, start_values)
        model = self.sim.md.modelName
        self.inputs = self.sim.names("input")
        measured = self.sim.states() or self.sim.names("output")
        self.sensors = list(sensors) if sensors else measured + self.inputs
        self.opcua_endpoint, self.mqtt_url = opcua, mqtt
        self.namespace = namespace or f"urn:fmitwin:plant:{model}"
        self.prefix = (prefix or f"fmitwin/plant/{model}").rstrip("/")
        self.step, self.rate = step, rate
        self.faults = faults or Faults()
        self.rng = np.random.default_rng(seed)
        self.truth: deque = deque(maxlen=1_000_000)  # (wall time, {variable: true value})
        self.commands: list[tuple[float, str, float]] = []
        self.samples_sent = 0
        if (certificate is None) != (private_key is None):
            raise ValueError("Plant: give both certificate and private_key (or neither)")
        self.security = ServerSecurity(
            policies=("Basic256Sha256_SignAndEncrypt",) if certificate else ("None",),
            certificate=None if certificate is None else Path(certificate),
            private_key=None if private_key is None else Path(private_key),
            application_uri=f"urn:fmitwin:plant:{model}",
            access=access or AccessPolicy(anonymous="operate"),
            allow_insecure_credentials=allow_insecure_credentials,
            allow_remote_clients=allow_remote_clients,
        )
        if opcua and (problem := self.security.problem()):
            raise ValueError(f"plant OPC UA server: {problem}")
        self.server: Server | None = None
        self.serving = False
        self._writes: set[asyncio.Task] = set()
        self.link: MqttLink | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._stuck_value: dict[str, float] = {}
        self.t0 = 0.0
        self.ready = asyncio.Event()  # set once the servers are up and the first sample is out

    # -- OPC UA ---------------------------------------------------------------------------------

    async def _build_server(self) -> Server:
        server = Server()
        await server.init()
        await self.security.apply(server, self.opcua_endpoint, "plant OPC UA server")
        server.set_server_name(f"fmitwin plant {self.sim.md.modelName}")
        idx = await server.register_namespace(self.namespace)
        obj = await server.nodes.objects.add_object(ua.NodeId("plant", idx), "Plant")
        values = dict(zip(self.sensors, self.sim.get(self.sensors), strict=True))
        for name in self.sensors:
            for node_name in (name, f"true.{name}"):
                node = await obj.add_variable(ua.NodeId(node_name, idx), node_name, values[name])
                self._nodes[node_name] = node.nodeid
        for name in self.inputs:
            start = float(self.sim.get([name])[0])
            node = await obj.add_variable(ua.NodeId(f"cmd.{name}", idx), f"cmd.{name}", start)
            await node.set_writable()
            self._nodes[f"cmd.{name}"] = node.nodeid
        return server

    async def _serve(self, on: bool) -> None:
        """Start or stop serving; the address space survives an outage (one init per run)."""
        if on and not self.serving:
            await self.server.start()
        elif not on and self.serving:
            await self.server.stop()
        self.serving = on

    def _read_opcua_inputs(self) -> None:
        for name in self.inputs:
            aspace = self.server.iserver.aspace
            dv = aspace.read_attribute_value(self._nodes[f"cmd.{name}"], ua.AttributeIds.Value)
            value = dv.Value.Value if dv.Value is not None else None
            if isinstance(value, int | float) and math.isfinite(value):
                if self.sim.get([name])[0] != value:
                    self._command(name, float(value), "opcua")

    # -- MQTT -----------------------------------------------------------------------------------

    def _mqtt_handlers(self) -> dict:
        def handler(name: str):
            def handle(payload: bytes, received: float) -> None:
                r = decode_payload(name, payload, received)
                if r.flag is Flag.OK and isinstance(r.raw, int | float) and math.isfinite(r.raw):
                    self._command(name, float(r.raw), "mqtt")
                else:
                    log.warning("ignored command on %s: %r", name, payload[:80])

            return handle

        return {f"{self.prefix}/cmd/{name}": handler(name) for name in self.inputs}

    def _command(self, name: str, value: float, via: str) -> None:
        self.sim.set(name, value)
        self.commands.append((time.time(), name, value))
        if self.serving and via != "opcua":  # show the setpoint in effect on the cmd. node
            write = self.server.write_attribute_value(
                self._nodes[f"cmd.{name}"], data_value(value, time.time())
            )
            task = asyncio.get_running_loop().create_task(write)
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        log.info("command %s = %g via %s", name, value, via)

    # -- the loop -------------------------------------------------------------------------------

    def measured(self, name: str, true_value: float, t: float) -> float | None:
        """The value the sensor reports at plant time t (None = dropped)."""
        f = self.faults
        if f.dropout and self.rng.random() < f.dropout:
            return None
        if name in f.stuck and f.stuck[name].active(t):
            return self._stuck_value.setdefault(name, true_value)
        self._stuck_value.pop(name, None)
        value = true_value
        if name in f.drift and t >= f.drift[name][1]:
            value += f.drift[name][0] * (t - f.drift[name][1])
        if f.noise.get(name):
            value += self.rng.normal(0.0, f.noise[name])
        return value

    async def _publish(self, now: float, t: float, true_values: dict[str, float]) -> None:
        for name, true_value in true_values.items():
            value = self.measured(name, true_value, t)
            if self.server is not None:
                write = self.server.write_attribute_value
                await write(self._nodes[f"true.{name}"], data_value(true_value, now))
                if value is not None:
                    await write(self._nodes[name], data_value(value, now))
            if value is not None and self.link is not None and self.link.client is not None:
                with contextlib.suppress(ConnectionError):
                    await self.link.publish(f"{self.prefix}/{name}", encode_payload(value, now))
            if value is not None:
                self.samples_sent += 1

    async def run(self, stop: asyncio.Event | None = None, duration: float | None = None) -> None:
        """Simulate in real time until ``stop`` is set or ``duration`` seconds passed."""
        stop = stop or asyncio.Event()
        tasks = []
        if self.mqtt_url:
            self.link = MqttLink(
                "plant",
                self.mqtt_url,
                qos=1,
                handlers=self._mqtt_handlers(),
                allow_insecure_credentials=self.security.allow_insecure_credentials,
            )
            tasks.append(asyncio.create_task(self.link.run()))
        if self.opcua_endpoint:
            self.server = await self._build_server()
            await self._serve(True)
        self.t0 = time.time()
        sample_every = max(1, round(1.0 / (self.rate * self.step)))
        k = 0
        try:
            while not stop.is_set():
                t = k * self.step
                if duration is not None and t >= duration:
                    break
                down = any(w.active(t) for w in self.faults.outages)
                if self.server is not None and down == self.serving:
                    log.warning("outage %s at t=%.2f s", "begins" if down else "ends", t)
                    await self._serve(not down)
                if self.serving:
                    self._read_opcua_inputs()
                if k % sample_every == 0:
                    now = time.time()
                    values = dict(zip(self.sensors, self.sim.get(self.sensors), strict=True))
                    self.truth.append((now, values))
                    if not down:
                        await self._publish(now, t, values)
                self.ready.set()
                self.sim.step(self.step)
                k += 1
                delay = self.t0 + k * self.step - time.time()
                await asyncio.sleep(max(0.0, delay))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.server is not None:
                await self._serve(False)
            self.sim.close()

    def true_value(self, name: str, at: float) -> float:
        """The true value of ``name`` at wall time ``at`` (linear interpolation of samples)."""
        times = np.array([s[0] for s in self.truth])
        values = np.array([s[1][name] for s in self.truth])
        return float(np.interp(at, times, values))
