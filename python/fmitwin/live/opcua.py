"""OPC UA sensor adapter: an asyncua client subscribing to the plant's nodes.

Readings come from a subscription (the server pushes changes at the publishing interval; nothing
is polled). Nodes are addressed by namespace URI, ``nsu=<uri>;s=<id>``; the index is looked up on
every (re)connection, so a server that renumbers its namespaces is still read correctly.

Each notification becomes a :class:`Reading` with the value, the StatusCode, the source timestamp
and the server timestamp. StatusCode Bad -> flag ``BAD_STATUS`` (missing), Uncertain -> quality
``UNCERTAIN_QUALITY``. A value without a source timestamp gets the server timestamp, and failing
that the time of arrival.

When the connection drops the adapter reports the outage once, retries with exponential backoff
(``backoff_min`` doubling up to ``backoff_max``), and on success re-creates the subscription.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from asyncua import Client, ua
from asyncua.crypto import security_policies, uacrypto
from cryptography import x509

from fmitwin.live.config import OpcUaConfig, SensorConfig
from fmitwin.live.readings import UNCERTAIN_QUALITY, Flag, LinkReporter, Reading

log = logging.getLogger(__name__)

#: Errors that mean "the server is gone or refused us": reconnect, never crash.
LINK_ERRORS = (OSError, ConnectionError, asyncio.TimeoutError, ua.UaError, RuntimeError)

_REFUSED_CERTIFICATE = ("BadCertificateUntrusted", "BadSecurityChecksFailed", "BadCertificate")


def link_failure_reason(cfg: OpcUaConfig, exc: BaseException) -> str:
    """What went wrong with the link, in words that say what to do."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if cfg.security is not None and (
        isinstance(exc, AssertionError) or any(code in text for code in _REFUSED_CERTIFICATE)
    ):
        return (
            f"certificate not trusted by the server: trust {cfg.security.certificate} there "
            f"({text})"
        )
    return text


async def resolve_node_id(client: Client, address: str) -> ua.NodeId:
    """``nsu=<uri>;s=<id>`` (or i=, g=, b=) -> a NodeId with the server's current index."""
    head, _, ident = address.partition(";")
    uri = head.removeprefix("nsu=")
    index = await client.get_namespace_index(uri)
    expanded = ua.NodeId.from_string(f"ns={index};{ident}")
    return ua.NodeId(expanded.Identifier, index, expanded.NodeIdType)


def data_value(
    value,
    ts: float,
    vtype: ua.VariantType = ua.VariantType.Double,
    status: ua.StatusCode | None = None,
) -> ua.DataValue:
    """A DataValue with source and server timestamps set to ``ts`` (POSIX seconds)."""
    stamp = datetime.fromtimestamp(ts, UTC)
    return ua.DataValue(
        ua.Variant(value, vtype),
        StatusCode=status or ua.StatusCode(ua.StatusCodes.Good),
        SourceTimestamp=stamp,
        ServerTimestamp=stamp,
    )


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def reading_from_datavalue(sensor: str, dv: ua.DataValue) -> Reading:
    """Map one OPC UA DataValue to a reading (before gateway validation)."""
    now = time.time()
    status = dv.StatusCode if dv.StatusCode is not None else ua.StatusCode(ua.StatusCodes.Good)
    server_ts = _ts(dv.ServerTimestamp)
    source_ts = _ts(dv.SourceTimestamp) or server_ts or now
    reading = Reading(
        sensor,
        dv.Value.Value if dv.Value is not None else None,
        source_ts,
        server_ts,
        now,
        source="opcua",
    )
    if status.is_bad():
        reading.flag, reading.quality = Flag.BAD_STATUS, 0.0
    elif status.is_uncertain():
        reading.flag, reading.quality = Flag.UNCERTAIN, UNCERTAIN_QUALITY
    return reading


async def certificate_uri(path) -> str | None:
    """The application URI (subjectAltName URI) of a DER or PEM certificate, if it has one."""
    cert = await uacrypto.load_certificate(path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


async def connect_client(cfg: OpcUaConfig, *, timeout: float = 4.0) -> Client:
    """A connected asyncua client with the configured security and identity."""
    if cfg.password is not None and cfg.security is None and not cfg.allow_insecure_credentials:
        raise ValueError(
            f"OPC UA {cfg.endpoint}: the password would travel in the clear (security None); "
            "configure a security policy, or allow it explicitly (allow_insecure_credentials)"
        )
    client = Client(cfg.endpoint, timeout=timeout)
    if cfg.username is not None:
        client.set_user(cfg.username)
        client.set_password(cfg.password)
    if cfg.security is not None:
        sec = cfg.security
        # the server checks that our application URI is the one in our certificate
        client.application_uri = await certificate_uri(sec.certificate) or client.application_uri
        await client.set_security(
            getattr(security_policies, f"SecurityPolicy{sec.policy}"),
            certificate=str(sec.certificate),
            private_key=str(sec.private_key),
            server_certificate=None
            if sec.server_certificate is None
            else str(sec.server_certificate),
            mode=getattr(ua.MessageSecurityMode, sec.mode),
        )
    await client.connect()
    return client


def monitored_item_requests(
    nodes: Sequence[ua.NodeId], queue_size: int, sampling_interval_ms: float
) -> list[ua.MonitoredItemCreateRequest]:
    """One request per node: the Value attribute, reporting, a FIFO of ``queue_size`` that drops
    the oldest, and a data-change filter that triggers on status, value *or source timestamp*
    (a sensor repeating the same value is alive, not stale; the default trigger would drop it).

    Client handles are 1..n: they only need to be unique within the subscription, and every
    session creates its subscription afresh.
    """
    trigger = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
    return [
        ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=ua.MonitoringParameters(
                ClientHandle=handle,
                SamplingInterval=sampling_interval_ms,
                Filter=trigger,
                QueueSize=queue_size,
                DiscardOldest=True,
            ),
        )
        for handle, node in enumerate(nodes, start=1)
    ]


class _Handler:
    """Subscription callback: DataValue -> Reading -> gateway, synchronously (no task per value)."""

    def __init__(self, sensors_by_node: dict, submit: Callable[[Reading], object]) -> None:
        self.sensors_by_node = sensors_by_node
        self.submit = submit

    def datachange_notification(self, node, val, data) -> None:
        dv = data.monitored_item.Value
        for sensor in self.sensors_by_node.get(node.nodeid, ()):
            self.submit(reading_from_datavalue(sensor, dv))

    def status_change_notification(self, status) -> None:
        log.warning("OPC UA subscription status change: %s", status)


class OpcUaSource:
    """Subscribes to the OPC UA sensors of a twin and keeps the subscription alive."""

    def __init__(
        self,
        cfg: OpcUaConfig,
        sensors: Sequence[SensorConfig],
        submit: Callable[[Reading], object],
        *,
        on_event: Callable[[str, dict], None] | None = None,
        backoff_min: float = 0.2,
        backoff_max: float = 5.0,
        watchdog: float = 1.0,
        queue_size: int = 100,
    ) -> None:
        self.cfg = cfg
        self.sensors = list(sensors)
        self.submit = submit
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.watchdog = watchdog
        self.queue_size = queue_size
        self.reporter = LinkReporter("opcua", cfg.endpoint, on_event)
        self.status = self.reporter.status
        self.client: Client | None = None
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Connect, subscribe and watch the link forever; reconnect with backoff on loss."""
        delay = self.backoff_min
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure of the link is retried; none stops the twin
                if asyncio.current_task().cancelling():
                    raise asyncio.CancelledError from exc  # a cancel surfaced as a link error
                self._down(link_failure_reason(self.cfg, exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.backoff_max)
            if self.status.connected:
                delay = self.backoff_min

    async def _session(self) -> None:
        client = await connect_client(self.cfg)
        try:
            by_node: dict[ua.NodeId, list[str]] = {}
            missing: dict[str, list[str]] = {}
            for s in self.sensors:
                try:
                    node = await resolve_node_id(client, s.address)
                except ValueError:  # the server has no such namespace (a typo, or not yet)
                    missing.setdefault(s.address.partition(";")[0], []).append(s.name)
                    continue
                by_node.setdefault(node, []).append(s.name)
            for namespace, names in missing.items():
                # these sensors go stale; the others work; the next session looks again
                self._event(
                    "node_error", sensors=names, status=f"namespace {namespace} not on the server"
                )
            if not by_node:
                raise ConnectionError(f"none of the sensors' namespaces is on {self.cfg.endpoint}")
            handler = _Handler(by_node, self.submit)
            period_ms = self.cfg.publishing_interval * 1000.0
            sub = await client.create_subscription(period_ms, handler, queue_maxsize=100_000)
            requests = monitored_item_requests(
                list(by_node), self.queue_size, self.cfg.sampling_interval * 1000.0
            )
            results = await sub.create_monitored_items(requests)
            for nodeid, result in zip(by_node, results, strict=True):
                if isinstance(result, ua.StatusCode) and not result.is_good():
                    # e.g. BadNodeIdUnknown: the other sensors keep working; this one goes stale
                    self._event("node_error", sensors=by_node[nodeid], status=result.name)
            self.client = client
            self._up()
            state = client.nodes.server_state
            while True:  # the watchdog: a read that fails means the link is gone
                await asyncio.sleep(self.watchdog)
                await asyncio.wait_for(state.read_value(), timeout=2.0 * self.watchdog + 1.0)
        finally:
            self.client = None
            self.connected.clear()
            try:
                await asyncio.wait_for(client.disconnect(), timeout=1.0)
            except (*LINK_ERRORS, Exception):  # the link is already gone; nothing to close
                pass

    async def write(self, address: str, value: float) -> None:
        """Write a Double to a plant node (commands); raises ConnectionError when offline."""
        client = self.client
        if client is None:
            raise ConnectionError(f"OPC UA link to {self.cfg.endpoint} is down")
        node = client.get_node(await resolve_node_id(client, address))
        dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double))
        await node.write_value(dv)

    def _up(self) -> None:
        self.reporter.up()
        self.connected.set()

    def _down(self, exc: BaseException) -> None:
        self.reporter.down(exc)

    def _event(self, kind: str, **details) -> None:
        self.reporter.event(kind, **details)
