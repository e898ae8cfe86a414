"""MQTT sensor adapter (aiomqtt) and the payload schema shared by plant, twin and publisher.

Payload schema (UTF-8 JSON object, one reading per message)::

    {"value": 331.2, "ts": 1764078000.125, "quality": "good"}

* ``value`` (required): a JSON number. Anything else (string, bool, null, list) is a reading of the
  wrong type: flagged and counted by the gateway, never parsed into a number.
* ``ts`` (required): source timestamp, POSIX seconds (number) or an ISO 8601 string with a time
  zone. A message without it cannot be placed in event time and is flagged ``MALFORMED``.
* ``quality`` (optional, default "good"): "good", "uncertain", "bad", or a number in [0, 1].
  "bad" or 0 -> ``BAD_STATUS``; "uncertain" -> ``UNCERTAIN_QUALITY``; a number q in (0, 1) is kept
  as the reading's quality (the filter uses R / q).

A payload that is not a JSON object with these keys is flagged ``MALFORMED`` and counted; so is
one larger than ``max_payload`` bytes (default 64 KiB) or nested too deeply to decode. Only the
first 256 bytes of a malformed payload are kept (recorded in the history), whatever its size.
Other payload shapes: ``[mqtt] keys`` renames the keys (e.g. ``{ value = "v", ts = "t" }``)
and ``ts_unit`` ("s", "ms", "us", "ns") gives the unit of a numeric timestamp.
Connections support username/password and TLS (``mqtts://`` or a ``[mqtt.tls]`` table); QoS is
configurable (default 1). On a broker outage the adapter reports it once, reconnects with
exponential backoff and subscribes again.

Sessions (MQTT 3.1.1). By default every connection starts a clean session: readings published
while the twin is disconnected are lost. ``session = "persistent"`` connects with a stable
``client_id`` and ``clean_session = false``: the broker keeps the twin's subscriptions (at the
configured QoS, which must be 1 or 2) and queues the readings published meanwhile, including
while the twin is stopped, and delivers them, in publish order, as soon as the twin reconnects.
They then pass the gateway like live ones: one older than its sensor's ``stale_after`` when it
arrives is flagged ``STALE`` (set ``stale_after`` to the outages to be bridged), one older than
the filter's time is late, and a QoS 1 redelivery of a reading already accepted is flagged
``DUPLICATE``. How long the broker keeps a session and how many messages it queues are broker
settings (mosquitto: ``persistent_client_expiration``, ``max_queued_messages``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlparse

import aiomqtt

from fmitwin.live.config import (
    TS_UNITS,
    ForwardConfig,
    MqttConfig,
    PayloadFormat,
    SensorConfig,
    TlsConfig,
)
from fmitwin.live.readings import (
    UNCERTAIN_QUALITY,
    Flag,
    LinkReporter,
    Reading,
    raise_if_cancelled,
)
from fmitwin.live.redact import redact

log = logging.getLogger(__name__)

_QUALITY_WORDS = {"good": 1.0, "uncertain": UNCERTAIN_QUALITY, "bad": 0.0}
MALFORMED_PREFIX = 256  # bytes of a malformed payload that are kept
DEFAULT_FORMAT = PayloadFormat()


def encode_payload(value: float, ts: float, quality: str | float = "good", **extra) -> bytes:
    """The JSON payload for one reading (``extra`` keys, e.g. sigma, are added as they are)."""
    value = value if math.isfinite(value) else None  # JSON has no NaN; null is "no value"
    return json.dumps({"value": value, "ts": ts, "quality": quality, **extra}).encode()


def decode_payload(
    sensor: str,
    payload: bytes,
    received: float | None = None,
    shape: PayloadFormat = DEFAULT_FORMAT,
) -> Reading:
    """Decode one message into a reading (before gateway validation)."""
    received = time.time() if received is None else received
    try:
        if len(payload) > shape.max_payload:
            raise ValueError(f"payload of {len(payload)} bytes > max_payload {shape.max_payload}")
        doc = json.loads(payload)
        if not isinstance(doc, dict) or shape.value not in doc or shape.ts not in doc:
            raise ValueError(f"expected an object with {shape.value!r} and {shape.ts!r}")
        ts = doc[shape.ts]
        if isinstance(ts, str):
            ts = datetime.fromisoformat(ts)
            if ts.tzinfo is None:
                raise ValueError("an ISO timestamp needs a time zone")
            ts = ts.timestamp()
        elif isinstance(ts, int | float) and not isinstance(ts, bool):
            ts = ts * TS_UNITS[shape.ts_unit]
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
            raise ValueError(f"bad ts {doc[shape.ts]!r}")
        q = doc.get(shape.quality, "good")
        if isinstance(q, str) and q.lower() in _QUALITY_WORDS:
            quality = _QUALITY_WORDS[q.lower()]
        elif isinstance(q, int | float) and not isinstance(q, bool) and 0.0 <= q <= 1.0:
            quality = float(q)
        else:
            raise ValueError(f"bad quality {q!r}")
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError, OverflowError) as exc:
        log.debug("malformed payload on %s: %s", sensor, exc)
        kept = bytes(payload[:MALFORMED_PREFIX])  # a 10 MB payload is not stored whole
        return Reading(sensor, kept, received, None, received, 0.0, Flag.MALFORMED, source="mqtt")
    flag = Flag.OK
    if quality == 0.0:
        flag = Flag.BAD_STATUS
    elif quality < 1.0:
        flag = Flag.UNCERTAIN
    value = doc[shape.value]
    return Reading(sensor, value, float(ts), None, received, quality, flag, source="mqtt")


def client_args(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: TlsConfig | None = None,
    client_id: str | None = None,
    persistent: bool = False,
    role: str = "client",
    allow_insecure_credentials: bool = False,
    will: aiomqtt.Will | None = None,
) -> dict:
    """Keyword arguments for ``aiomqtt.Client`` from an ``mqtt[s]://[user:password@]host[:port]``
    URL (explicit ``username``/``password`` take precedence over the URL's); ``persistent``
    resumes the session kept under ``client_id`` (clean_session = false). A password without
    TLS is refused (ValueError) unless ``allow_insecure_credentials``."""
    if persistent and not client_id:
        raise ValueError("a persistent MQTT session needs a client_id")
    parsed = urlparse(url)
    username = username if username is not None else unquote(parsed.username or "") or None
    password = password if password is not None else unquote(parsed.password or "") or None
    secure = parsed.scheme == "mqtts" or tls is not None
    if password is not None and not secure and not allow_insecure_credentials:
        raise ValueError(
            f"MQTT {redact(url)}: the password would travel in the clear (mqtt:// without TLS); "
            "use mqtts:// or TLS settings, or allow it explicitly (allow_insecure_credentials)"
        )
    args: dict = {
        "hostname": parsed.hostname or "127.0.0.1",
        "port": parsed.port or (8883 if secure else 1883),
        "username": username,
        "password": password,
        "identifier": client_id or f"fmitwin-{role}-{uuid.uuid4().hex[:8]}",
        "timeout": 5.0,
        "keepalive": 10,  # a dead broker is noticed within ~15 s even with no traffic
    }
    if persistent:
        args["clean_session"] = False
    if will is not None:  # what the broker publishes for us when our connection dies
        args["will"] = will
    if secure:
        args["tls_params"] = aiomqtt.TLSParameters(
            ca_certs=tls and tls.ca and str(tls.ca),
            certfile=tls and tls.certificate and str(tls.certificate),
            keyfile=tls and tls.private_key and str(tls.private_key),
        )
    return args


def _dispatching_queue(link: MqttLink) -> type[asyncio.Queue]:
    """The "queue" aiomqtt puts each incoming message in: it hands the message to the link's
    handler at once, in paho's read callback, instead of queueing it for an ``async for`` turn
    (a task per message). Nothing accumulates here: memory stays bounded by the gateway buffer,
    which drops and counts the oldest readings when the synchronizer falls behind."""

    class DispatchingQueue(asyncio.Queue):
        def put_nowait(self, message) -> None:
            handler = link.handlers.get(str(message.topic))
            if handler is None:
                return
            try:
                handler(message.payload, time.time())
            except Exception:  # a bug in one handler must not kill the connection
                link.handler_errors += 1
                log.exception("MQTT handler for %s failed", message.topic)

    return DispatchingQueue


class MqttLink:
    """One MQTT connection kept alive: subscribes ``handlers`` topics and publishes.

    Each incoming message is handed to its handler as paho reads it (see ``_dispatching_queue``).

    ``handlers`` maps a topic to ``handler(payload: bytes, received: float)``; they are called in
    the event loop, one message at a time.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        qos: int = 1,
        handlers: dict[str, Callable[[bytes, float], None]] | None = None,
        on_event: Callable[[str, dict], None] | None = None,
        backoff_min: float = 0.2,
        backoff_max: float = 5.0,
        **auth,
    ) -> None:
        self.url, self.qos = url, qos
        self.handlers = handlers or {}
        self.reporter = LinkReporter(name, url, on_event)
        self.status = self.reporter.status
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.client: aiomqtt.Client | None = None
        self._args = client_args(url, role=name, **auth)
        self._args["queue_type"] = _dispatching_queue(self)
        self.handler_errors = 0

    async def run(self) -> None:
        """Connect, subscribe and consume forever; reconnect with backoff on loss."""
        delay = self.backoff_min
        while True:
            try:
                async with aiomqtt.Client(**self._args) as client:
                    for topic in self.handlers:
                        await client.subscribe(topic, qos=self.qos)
                    self.client = client
                    delay = self.backoff_min
                    self.reporter.up()
                    # messages are dispatched as they arrive; this only waits for a disconnect
                    async for _ in client.messages:
                        raise_if_cancelled()
            except aiomqtt.MqttError as exc:
                if asyncio.current_task().cancelling():
                    raise asyncio.CancelledError from exc  # aiomqtt turned our cancel into this
                self.reporter.down(exc)
            finally:
                self.client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.backoff_max)

    async def publish(
        self, topic: str, payload: bytes, *, qos: int | None = None, retain: bool = False
    ) -> None:
        """Publish one message; raises ConnectionError while the broker is unreachable."""
        client = self.client
        if client is None:
            raise ConnectionError(f"MQTT link to {self.url} is down")
        try:
            await client.publish(
                topic, payload, qos=self.qos if qos is None else qos, retain=retain
            )
        except aiomqtt.MqttError as exc:
            raise ConnectionError(f"MQTT publish to {self.url} failed: {exc}") from exc


def mqtt_auth(cfg: MqttConfig | ForwardConfig | Any | None) -> dict:
    """The credential and TLS keywords of :class:`MqttLink` from an ``[mqtt]`` table (or any
    table with those fields: ``[forward]``, a fleet file's ``[ingest]``)."""
    if cfg is None:
        return {}
    return {
        "username": cfg.username,
        "password": cfg.password,
        "tls": cfg.tls,
        "allow_insecure_credentials": cfg.allow_insecure_credentials,
    }


def sensor_link(
    cfg: MqttConfig,
    sensors: Sequence[SensorConfig],
    submit: Callable[[Reading], object],
    *,
    on_event: Callable[[str, dict], None] | None = None,
) -> MqttLink:
    """The twin's MQTT sensor adapter: each message on a sensor topic is decoded and submitted."""
    by_topic: dict[str, list[str]] = {}
    for s in sensors:
        by_topic.setdefault(s.address, []).append(s.name)

    def handler_for(names: list[str]) -> Callable[[bytes, float], None]:
        def handle(payload: bytes, received: float) -> None:
            for name in names:
                submit(decode_payload(name, payload, received, cfg.payload))

        return handle

    return MqttLink(
        "mqtt",
        cfg.url,
        qos=cfg.qos,
        handlers={topic: handler_for(names) for topic, names in by_topic.items()},
        on_event=on_event,
        client_id=cfg.client_id,
        **mqtt_auth(cfg),
        persistent=cfg.session == "persistent",
    )
