"""The twin's own outputs: an OPC UA server namespace and MQTT topics with estimates, residuals,
health and status.

OPC UA (namespace URI ``[publish] namespace``, string node ids, browse path
``Objects/<twin>/...``; every node is read-only for every client, whatever its role: only the twin
writes them; security, users and binding as ``[publish]`` says, see :mod:`fmitwin.live.serving`)::

    <twin>.States.<state>.Value / .Sigma      Double, source timestamp = event time;
                                              AnalogUnitRangeType: EngineeringUnits
                                              (UN/CEFACT EUInformation), EURange;
                                              HistoryRead from the twin's SQLite history
    <twin>.Residuals.<sensor>.Value / .Sigma / .NIS     the same; units: the measured variable's
                                              (NIS: dimensionless, UN/CEFACT "C62")
    <twin>.Health                              String: a Synchronizer.health() word
    <twin>.Updates, <twin>.Divergences         Int64
    <twin>.LatencyMs                           Double, source timestamp -> publication (lag)
    <twin>.Dropped, <twin>.Late                Int64, readings lost to overload
    <twin>.Maintenance.RUL / .RUL_low / .RUL_high   with ``[maintenance]``: remaining life, its
                                              90 % interval, in the time unit; .P_failure:
                                              P(failure within .Horizon); AnalogUnitRangeType

MQTT (prefix ``[publish] prefix``; payloads follow the sensor schema in ``fmitwin.live.mqtt``)::

    <prefix>/state/<state>       {"value", "sigma", "ts", "quality"}   QoS 0
    <prefix>/residual/<sensor>   {"value", "sigma", "nis", "ts"}       QoS 0
    <prefix>/status              {"health", "updates", "divergences", "ts", ...}  QoS 1, retained;
                                 with [forward], "forward": {"backlog", "dropped", "bytes_sent",
                                 "last_contact"};
                                 {"health": "offline"} when the twin stops, and as its MQTT Last
                                 Will when its connection dies; with ``[maintenance]``
                                 "maintenance": {"rul", "low", "high", "p_failure", "horizon",
                                 "unit", "t"} (also recorded in the history as "rul" events)

Health is the truth now, not when the estimate was made: every value goes out with the
StatusCode (OPC UA) or quality (MQTT) of the twin's current health (:data:`STATUS_OF_HEALTH`),
and when the health changes while no new estimate comes (a plant outage makes the sensors stale)
the housekeeping task calls ``refresh`` to publish it. The status screen shows the same words.

HistoryRead (raw, ``ReadRawModifiedDetails``; a twin with a ``[history]``): the values the twin
published and recorded, also those of its earlier runs on the same history file, in event-time
order, StartTime inclusive and EndTime exclusive (newest first when StartTime > EndTime, or when
only EndTime is given), at most ``NumValuesPerNode`` (and :data:`HISTORY_PAGE`) per call with a
continuation point for the rest; source timestamp = event time, server timestamp = publication
time, StatusCode = the health then. No bounding values, no modified values. Without a history
the nodes are not historizing.

Publication coalesces: after each batch of updates the newest estimate is published, at most
once per ``interval``; intermediate estimates are superseded, never queued (a slow peer cannot
make the twin fall behind). Residuals, health and status go out at most every
``status_interval`` (0.25 s): they are for people and dashboards, the states for machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import struct
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from asyncua import Server, ua
from asyncua.server.history import HistoryManager

from fmitwin.live.history import History, HistoryError, Series, published_values
from fmitwin.live.mqtt import MqttLink, encode_payload
from fmitwin.live.opcua import data_value
from fmitwin.live.readings import raise_if_cancelled
from fmitwin.live.serving import ServerSecurity
from fmitwin.live.synchronizer import Estimate, Synchronizer

if TYPE_CHECKING:
    from fmitwin.maintenance.online import Prognosis, RemainingLife, RulEstimate

#: The StatusCode and MQTT quality every published value carries, by health.
STATUS_OF_HEALTH = {
    "ok": (ua.StatusCodes.Good, "good"),
    "starting": (ua.StatusCodes.UncertainInitialValue, "uncertain"),
    "degraded": (ua.StatusCodes.Uncertain, "uncertain"),
    "overloaded": (ua.StatusCodes.Uncertain, "uncertain"),
    "diverged": (ua.StatusCodes.Uncertain, "uncertain"),
    "stale": (ua.StatusCodes.BadNoCommunication, "bad"),
    "model_error": (ua.StatusCodes.BadInternalError, "bad"),
}

#: The most values one HistoryRead returns per node; a continuation point gives the rest.
HISTORY_PAGE = 10_000

#: EUInformation.NamespaceUri of UN/CEFACT units (OPC UA Part 8).
CEFACT_UNITS = "http://www.opcfoundation.org/UA/units/un/cefact"


@dataclasses.dataclass(frozen=True)
class StateMetadata:
    """What a client sees of a published value: its unit (``code``: its UN/CEFACT common code,
    "" when unknown, see :func:`fmitwin.live.units.cefact_code`) and engineering range."""

    unit: str = ""
    low: float = -math.inf
    high: float = math.inf
    code: str = ""

    def sigma(self) -> StateMetadata:
        """The standard deviation: same unit, range [0, inf)."""
        return StateMetadata(self.unit, 0.0, math.inf, self.code)

    def range(self) -> ua.Range:
        return ua.Range(Low=self.low, High=self.high)

    def eu_information(self) -> ua.EUInformation:
        """The unit as OPC UA EUInformation (UnitId -1 when the unit has no known code)."""
        text = ua.LocalizedText(self.unit)
        return ua.EUInformation(
            NamespaceUri=CEFACT_UNITS,
            UnitId=cefact_unit_id(self.code),
            DisplayName=text,
            Description=text,
        )


def cefact_unit_id(code: str) -> int:
    """EUInformation.UnitId of a UN/CEFACT common code (OPC UA Part 8: its characters' codes,
    one byte each, most significant first), -1 for none."""
    if not code:
        return -1
    unit_id = 0
    for c in code.strip():
        unit_id = unit_id << 8 | ord(c)
    return unit_id


#: A normalised innovation squared: dimensionless ("one", C62), never negative.
DIMENSIONLESS = StateMetadata("1", 0.0, math.inf, "C62")


OFFLINE = json.dumps({"health": "offline"}).encode()

#: The Maintenance object's variables: None is the RUL's time unit, range [0, inf).
MAINTENANCE_NODES = {
    "RUL": None,
    "RUL_low": None,
    "RUL_high": None,
    "P_failure": StateMetadata("1", 0.0, 1.0),
    "Horizon": None,
}

_CURSOR = struct.Struct("<dq")  # continuation point: (t, rowid) of the last value returned


def _posix(stamp: datetime | None) -> float | None:
    """POSIX seconds of an OPC UA DateTime; None when unspecified (MinDateTime)."""
    if stamp is None or stamp <= ua.get_win_epoch():
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


class PublishedHistory(HistoryManager):
    """The server's HistoryRead service, answered from the twin's SQLite history (see the
    module docstring); ``series`` maps each historizing node to what it published. Without a
    history no node is historizing and every HistoryRead is BadHistoryOperationUnsupported."""

    def __init__(self, iserver, history: History | None) -> None:
        super().__init__(iserver)
        self.history = history
        self.series: dict[ua.NodeId, Series] = {}

    async def read_history(self, params: ua.HistoryReadParameters) -> list[ua.HistoryReadResult]:
        details = params.HistoryReadDetails
        if not isinstance(details, ua.ReadRawModifiedDetails) or details.IsReadModified:
            code = ua.StatusCode(ua.StatusCodes.BadHistoryOperationUnsupported)
            return [ua.HistoryReadResult(StatusCode=code) for _ in params.NodesToRead]
        if params.ReleaseContinuationPoints:  # stateless cursors: nothing to release
            return [ua.HistoryReadResult() for _ in params.NodesToRead]
        if self.history is not None:
            self.history.flush()  # what was published is what is served
        return [self._read(details, rv) for rv in params.NodesToRead]

    def _read(self, details: ua.ReadRawModifiedDetails, rv: ua.HistoryReadValueId):
        result = ua.HistoryReadResult(HistoryData=ua.HistoryData(DataValues=[]))
        series = self.series.get(rv.NodeId)
        if series is None:
            result.StatusCode = ua.StatusCode(ua.StatusCodes.BadHistoryOperationUnsupported)
            return result
        start, end = _posix(details.StartTime), _posix(details.EndTime)
        if start is None and end is not None:  # backwards from EndTime
            first, last = end, -math.inf
        else:
            first = -math.inf if start is None else start
            last = math.inf if end is None else end
        after = None
        if rv.ContinuationPoint:
            if len(rv.ContinuationPoint) != _CURSOR.size:
                result.StatusCode = ua.StatusCode(ua.StatusCodes.BadContinuationPointInvalid)
                return result
            after = _CURSOR.unpack(rv.ContinuationPoint)
        wanted = details.NumValuesPerNode or HISTORY_PAGE
        limit = min(wanted, HISTORY_PAGE)
        try:
            rows = published_values(self.history.path, series, first, last, limit + 1, after)
        except HistoryError:
            result.StatusCode = ua.StatusCode(ua.StatusCodes.BadHistoryOperationInvalid)
            return result
        if len(rows) > limit:
            rows = rows[:limit]
            result.ContinuationPoint = _CURSOR.pack(rows[-1][1], rows[-1][0])
        result.HistoryData.DataValues = [
            ua.DataValue(
                ua.Variant(value, ua.VariantType.Double),
                StatusCode=ua.StatusCode(STATUS_OF_HEALTH.get(health, STATUS_OF_HEALTH["ok"])[0]),
                SourceTimestamp=datetime.fromtimestamp(t, UTC),
                ServerTimestamp=datetime.fromtimestamp(published_at, UTC),
            )
            for _, t, published_at, health, value in rows
        ]
        return result


class TwinOpcUaServer:
    """An asyncua server exposing one twin's estimates; create, ``await start()``, ``publish``."""

    def __init__(
        self,
        endpoint: str,
        namespace: str,
        twin: str,
        sync: Synchronizer,
        security: ServerSecurity,
        metadata: dict[str, StateMetadata] | None = None,
        maintenance: Prognosis | None = None,
        history: History | None = None,
        residuals: dict[str, StateMetadata] | None = None,
    ) -> None:
        """``metadata``: each state's unit and range; ``residuals``: each measurement sensor's
        residual unit; ``history``: the twin's record, which answers HistoryRead (None: no
        HistoryRead)."""
        self.endpoint, self.namespace, self.twin = endpoint, namespace, twin
        self.sync, self.security = sync, security
        self.metadata = metadata or {}
        self.maintenance = maintenance
        self.residuals = residuals or {}
        self.server = Server()
        self.history_service = PublishedHistory(self.server.iserver, history)
        self.server.iserver.history_manager = self.history_service
        self.index = 0
        self._nodes: dict[str, ua.NodeId] = {}

    async def start(self) -> None:
        await self.server.init()
        await self.security.apply(self.server, self.endpoint, f"twin {self.twin}'s OPC UA server")
        self.server.set_server_name(f"fmitwin twin {self.twin}")
        self.index = await self.server.register_namespace(self.namespace)
        root = await self.server.nodes.objects.add_object(self._id(""), self.twin)
        states = await root.add_folder(self._id(".States"), "States")
        for i, name in enumerate(self.sync.states):
            obj = await states.add_object(self._id(f".States.{name}"), name)
            meta = self.metadata.get(name, StateMetadata())
            await self._analog(obj, f".States.{name}.Value", "Value", meta)
            await self._analog(obj, f".States.{name}.Sigma", "Sigma", meta.sigma())
            await self._historize(f".States.{name}.Value", Series("estimates", i, "x"))
            await self._historize(f".States.{name}.Sigma", Series("estimates", i, "sigma"))
        residuals = await root.add_folder(self._id(".Residuals"), "Residuals")
        for name in self.sync.measurements:
            obj = await residuals.add_object(self._id(f".Residuals.{name}"), name)
            meta = self.residuals.get(name, StateMetadata())
            for leaf, leaf_meta in (
                ("Value", meta),
                ("Sigma", meta.sigma()),
                ("NIS", DIMENSIONLESS),
            ):
                await self._analog(obj, f".Residuals.{name}.{leaf}", leaf, leaf_meta)
                await self._historize(
                    f".Residuals.{name}.{leaf}", Series("residuals", name, leaf.lower())
                )
        await self._var(root, ".Health", "Health", "starting", ua.VariantType.String)
        await self._var(root, ".Updates", "Updates", 0, ua.VariantType.Int64)
        await self._var(root, ".Divergences", "Divergences", 0, ua.VariantType.Int64)
        await self._var(root, ".LatencyMs", "LatencyMs", math.nan)
        await self._var(root, ".Dropped", "Dropped", 0, ua.VariantType.Int64)
        await self._var(root, ".Late", "Late", 0, ua.VariantType.Int64)
        if self.maintenance is not None:
            obj = await root.add_object(self._id(".Maintenance"), "Maintenance")
            life = StateMetadata(self.maintenance.unit, 0.0, math.inf)
            for leaf, meta in MAINTENANCE_NODES.items():
                await self._analog(obj, f".Maintenance.{leaf}", leaf, meta or life)
        await self.server.start()

    def _id(self, suffix: str) -> ua.NodeId:
        return ua.NodeId(f"{self.twin}{suffix}", self.index)

    async def _var(self, parent, suffix, name, value, vtype=ua.VariantType.Double) -> None:
        node = await parent.add_variable(self._id(suffix), name, ua.Variant(value, vtype))
        self._nodes[suffix] = node.nodeid

    async def _historize(self, suffix: str, series: Series) -> None:
        """Serve HistoryRead of this node from the history (Historizing, HistoryRead access)."""
        if self.history_service.history is None:
            return
        node_id = self._nodes[suffix]
        self.history_service.series[node_id] = series
        node = self.server.get_node(node_id)
        await node.write_attribute(ua.AttributeIds.Historizing, ua.DataValue(True))
        for attribute in (ua.AttributeIds.AccessLevel, ua.AttributeIds.UserAccessLevel):
            await node.set_attr_bit(attribute, ua.AccessLevel.HistoryRead)

    async def _analog(self, parent, suffix: str, name: str, meta: StateMetadata) -> None:
        """A Double typed AnalogUnitRangeType, with its EngineeringUnits and EURange properties
        (read-only, like every published node)."""
        await self._var(parent, suffix, name, math.nan)
        node = self.server.get_node(self._nodes[suffix])
        has_type = ua.ObjectIds.HasTypeDefinition
        await node.delete_reference(ua.ObjectIds.BaseDataVariableType, has_type)
        await node.add_reference(ua.ObjectIds.AnalogUnitRangeType, has_type)
        for prop, value in (("EngineeringUnits", meta.eu_information()), ("EURange", meta.range())):
            await node.add_property(self._id(f"{suffix}.{prop}"), ua.QualifiedName(prop, 0), value)

    async def publish(self, est: Estimate, latency: float, status: bool) -> None:
        write = self.server.write_attribute_value

        code = ua.StatusCode(STATUS_OF_HEALTH[est.health][0])

        def dv(value, vtype=ua.VariantType.Double):
            return data_value(value, est.t, vtype, code)

        for i, name in enumerate(self.sync.states):
            await write(self._nodes[f".States.{name}.Value"], dv(float(est.x[i])))
            await write(self._nodes[f".States.{name}.Sigma"], dv(float(est.sigma[i])))
        if not status:
            return
        for name, m in self.sync.monitors.items():
            await write(self._nodes[f".Residuals.{name}.Value"], dv(m.last_residual))
            await write(self._nodes[f".Residuals.{name}.Sigma"], dv(m.last_sigma))
            await write(self._nodes[f".Residuals.{name}.NIS"], dv(m.last_nis))
        health = data_value(est.health, est.t, ua.VariantType.String)  # Good: it is the truth
        await write(self._nodes[".Health"], health)
        await write(self._nodes[".Updates"], dv(est.updates, ua.VariantType.Int64))
        divergences = self.sync.counters.divergences
        await write(self._nodes[".Divergences"], dv(divergences, ua.VariantType.Int64))
        await write(self._nodes[".LatencyMs"], dv(latency * 1e3))
        gateway, late = self.sync.gateway, sum(self.sync.counters.late.values())
        await write(self._nodes[".Dropped"], dv(gateway.buffer.dropped, ua.VariantType.Int64))
        await write(self._nodes[".Late"], dv(late, ua.VariantType.Int64))

    async def publish_rul(self, rul: RulEstimate, health: str) -> None:
        """The Maintenance node's values (with ``[maintenance]``), at the estimate's time."""
        code = ua.StatusCode(STATUS_OF_HEALTH[health][0])
        values = (rul.rul, rul.low, rul.high, rul.p_failure, rul.horizon)
        for leaf, value in zip(MAINTENANCE_NODES, values, strict=True):
            node = self._nodes[f".Maintenance.{leaf}"]
            await self.server.write_attribute_value(node, data_value(value, rul.t, status=code))

    async def stop(self) -> None:
        await self.server.stop()


def status_payload(sync: Synchronizer, est: Estimate, **extra) -> bytes:
    """The status topic's JSON; ``extra`` keys (e.g. ``forward``, the edge link) are added."""
    return json.dumps(
        {
            **extra,
            "health": est.health,
            "updates": est.updates,
            "divergences": sync.counters.divergences,
            "ts": est.t,
            "states": sync.states,
            "lag": time.time() - est.source_ts,  # seconds from the reading to this status
            "dropped": sync.gateway.buffer.dropped,  # readings the full buffer shed
            "late": sum(sync.counters.late.values()),  # readings too late for the filter
        }
    ).encode()


class Publisher:
    """Publishes the newest estimate to the twin's OPC UA server and/or MQTT topics.

    ``latencies`` keeps the last 100,000 source-timestamp -> publication delays (seconds).
    """

    def __init__(
        self,
        sync: Synchronizer,
        *,
        opcua: TwinOpcUaServer | None = None,
        mqtt: MqttLink | None = None,
        prefix: str = "fmitwin/twin",
        interval: float = 0.02,
        status_interval: float = 0.25,
        history=None,
        remaining_life: RemainingLife | None = None,
        status_extra: Callable[[], dict] | None = None,
    ) -> None:
        self.sync, self.opcua, self.mqtt = sync, opcua, mqtt
        self.remaining_life = remaining_life  # updated in each status slot
        self.status_extra = status_extra  # more keys for the status topic, asked each time
        self.prefix, self.interval, self.history = prefix, interval, history
        self.status_interval = status_interval
        self._last_status = -math.inf
        self.latencies: deque = deque(maxlen=100_000)
        self.published = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._last: Estimate | None = None
        self.published_health: str | None = None

    def notify(self) -> None:
        """Called after each batch of updates: wakes the publishing task."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            raise_if_cancelled()
            await self._wake.wait()
            self._wake.clear()
            est = self.sync.estimate
            if est is None or est is self._last:
                continue
            self._last = est
            started = time.monotonic()
            await self.publish(est)
            if self.interval > 0:
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    async def refresh(self) -> None:
        """Publish the current health if it changed since the last publication."""
        est = self.sync.estimate
        if est is not None and self.sync.health() != self.published_health:
            self._last_status = -math.inf  # the status goes out now, not at its next slot
            await self.publish(est)

    async def publish(self, est: Estimate) -> None:
        health = self.sync.health()
        if est.health != health:  # the estimate is older than what happened since
            est = dataclasses.replace(est, health=health)
        self.published_health = health
        latency = time.time() - est.source_ts
        status = time.monotonic() - self._last_status >= self.status_interval
        if status:
            self._last_status = time.monotonic()
        rul = self._update_rul(est) if status else None
        if self.opcua is not None:
            await self.opcua.publish(est, latency, status)
            if rul is not None:
                await self.opcua.publish_rul(rul, est.health)
        if self.mqtt is not None and self.mqtt.client is not None:
            try:
                await self._publish_mqtt(est, status)
            except ConnectionError:
                self.failed += 1  # the link reports the outage; the next estimate will go out
        published_at = time.time()
        self.latencies.append(published_at - est.source_ts)
        self.published += 1
        if self.history is not None:
            self.history.record_estimate(est, published_at)
            if status:  # the residuals went out too
                residuals = {
                    name: (m.last_residual, m.last_sigma, m.last_nis)
                    for name, m in self.sync.monitors.items()
                }
                self.history.record_residuals(est.t, published_at, est.health, residuals)
            if rul is not None:
                self.history.record_event("rul", rul.as_dict(), rul.t)

    def _update_rul(self, est: Estimate) -> RulEstimate | None:
        """The remaining life from this estimate; None when it has none new."""
        life = self.remaining_life
        if life is None:
            return None
        before, states = life.latest, self.sync.states
        life.update(
            est.t, dict(zip(states, est.x, strict=True)), dict(zip(states, est.sigma, strict=True))
        )
        return life.latest if life.latest is not before else None

    async def _publish_mqtt(self, est: Estimate, status: bool) -> None:
        quality = STATUS_OF_HEALTH[est.health][1]
        for i, name in enumerate(self.sync.states):
            payload = encode_payload(float(est.x[i]), est.t, quality, sigma=float(est.sigma[i]))
            await self.mqtt.publish(f"{self.prefix}/state/{name}", payload, qos=0)
        if not status:
            return
        for name, m in self.sync.monitors.items():
            payload = encode_payload(
                m.last_residual, est.t, sigma=_finite(m.last_sigma), nis=_finite(m.last_nis)
            )
            await self.mqtt.publish(f"{self.prefix}/residual/{name}", payload, qos=0)
        life = self.remaining_life
        extra = self.status_extra() if self.status_extra else {}
        if life is not None and life.latest is not None:
            extra["maintenance"] = life.latest.as_dict()
        payload = status_payload(self.sync, est, **extra)
        await self.mqtt.publish(f"{self.prefix}/status", payload, qos=1, retain=True)

    async def offline(self) -> None:
        """Say on the status topic that the twin is gone (a clean stop)."""
        if self.mqtt is not None and self.mqtt.client is not None:
            with contextlib.suppress(ConnectionError):
                await self.mqtt.publish(f"{self.prefix}/status", OFFLINE, qos=1, retain=True)

    def latency_stats(self) -> dict[str, float]:
        """Median and p99 of the recorded latencies, in seconds (NaN before the first)."""
        if not self.latencies:
            return {"median": math.nan, "p99": math.nan, "count": 0}
        a = np.fromiter(self.latencies, float)
        return {"median": float(np.median(a)), "p99": float(np.quantile(a, 0.99)), "count": a.size}


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
