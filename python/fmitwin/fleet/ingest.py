"""Central ingest of edge records: subscribe at QoS 1 on a persistent session and store each
``(twin, id)`` once in SQLite (a record the edge sent again after a lost PUBACK is ignored).

Per twin the store keeps its link (:meth:`Ingest.link`): the records stored, the last id, when
the centre last heard from it, and, from the twin's latest forwarded ``health`` record, its
health and its forwarder's backlog, drops and bytes sent. ``fmitwin serve`` runs the ingest when
the fleet file has an ``[ingest]`` table (:func:`parse_ingest`)::

    [ingest]  url, prefix, store, client_id, username, password_env | password_file,
              allow_insecure_credentials, [ingest.tls]
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmitwin.live.config import TlsConfig, _broker_credentials, _broker_url, _topic_part
from fmitwin.live.config import _Section as Section

# aiomqtt (the live extra) is imported where a client is made: a fleet file parses without it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    twin TEXT, id INTEGER, kind TEXT, body TEXT, PRIMARY KEY (twin, id));
CREATE TABLE IF NOT EXISTS links (
    twin TEXT PRIMARY KEY, records INTEGER, last_id INTEGER, received_at REAL,
    health TEXT, backlog INTEGER, dropped INTEGER, bytes_sent INTEGER, reported_at REAL);
"""
_LINK = ("records", "last_id", "last_contact", "health", "backlog", "dropped", "bytes_sent")


@dataclass(frozen=True)
class IngestConfig:
    """A fleet file's ``[ingest]``: the broker the edges forward to, and the central store."""

    url: str
    store: Path
    client_id: str
    prefix: str = "fmitwin/fleet"
    username: str | None = None
    password: str | None = None
    tls: TlsConfig | None = None
    allow_insecure_credentials: bool = False


def parse_ingest(section: Section | None, fleet_name: str, fleet_file: Path) -> IngestConfig | None:
    """Validate ``[ingest]`` (credentials and TLS as the twin file's ``[mqtt]``)."""
    if section is None:
        return None
    url = _broker_url(section)
    username, password, tls = _broker_credentials(section, fleet_file.parent, url)
    prefix = section.get("prefix", str, "fmitwin/fleet").strip("/")
    _topic_part(section, "prefix", prefix)
    store = section.get("store", str, f"{fleet_file.stem}.ingest.sqlite")
    result = IngestConfig(
        url=url,
        store=fleet_file.parent / store,
        client_id=section.get("client_id", str, f"fmitwin-ingest-{fleet_name}"),
        prefix=prefix,
        username=username,
        password=password,
        tls=tls,
        allow_insecure_credentials=section.get("allow_insecure_credentials", bool, False),
    )
    section.finish()
    return result


class Ingest:
    """The central store; ``run()`` consumes ``<prefix>/+/+`` until cancelled.

    The broker queues records for the ingest's session only once it exists: the first
    subscription (``subscribed``) must precede the edges' first records."""

    def __init__(
        self,
        path: str | Path,
        url: str,
        *,
        client_id: str = "fmitwin-ingest",
        prefix: str = "fmitwin/fleet",
        **auth,
    ) -> None:
        self.prefix = prefix
        self._db = sqlite3.connect(Path(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        from fmitwin.live.mqtt import client_args

        self._args = client_args(url, client_id=client_id, persistent=True, role="ingest", **auth)
        self._args["queue_type"] = self._storing_queue()
        self.duplicates = 0
        self.subscribed = asyncio.Event()  # the broker keeps our session from here on

    def _storing_queue(self) -> type[asyncio.Queue]:
        """aiomqtt's message "queue", storing each record in paho's read callback: the record is
        committed before paho sends its PUBACK, so a crash of the ingest never loses one."""
        ingest = self

        class StoringQueue(asyncio.Queue):
            def put_nowait(self, message) -> None:
                ingest.store(message.payload)

        return StoringQueue

    @classmethod
    def from_config(cls, cfg: IngestConfig) -> Ingest:
        from fmitwin.live.mqtt import mqtt_auth

        return cls(cfg.store, cfg.url, client_id=cfg.client_id, prefix=cfg.prefix, **mqtt_auth(cfg))

    def store(self, payload: bytes) -> bool:
        """Store one record and update its twin's link (one transaction); False when it was
        already stored."""
        doc = json.loads(payload)
        twin, record_id, kind, body = doc["twin"], int(doc["id"]), doc["kind"], doc["body"]
        with self._db:
            self._db.execute("BEGIN")
            cur = self._db.execute(
                "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)",
                (twin, record_id, kind, json.dumps(body)),
            )
            new = cur.rowcount == 1
            self._db.execute(
                "INSERT INTO links (twin, records, last_id, received_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (twin) DO UPDATE SET records = records + excluded.records,"
                " last_id = max(last_id, excluded.last_id), received_at = excluded.received_at",
                (twin, int(new), record_id, time.time()),
            )
            if new and kind == "health":
                forward = body.get("forward") or {}
                self._db.execute(
                    "UPDATE links SET health = ?, backlog = ?, dropped = ?, bytes_sent = ?,"
                    " reported_at = ? WHERE twin = ?",
                    (
                        body.get("health"),
                        forward.get("backlog"),
                        forward.get("dropped"),
                        forward.get("bytes_sent"),
                        body.get("at"),
                        twin,
                    ),
                )
        if not new:
            self.duplicates += 1
        return new

    def link(self, twin: str) -> dict[str, Any] | None:
        """What the centre knows of a twin's link: records stored, the last id, the time of the
        last contact (central clock), and as its latest health reported: health, backlog, drops
        and bytes sent (None until a health record came). None: nothing received from it."""
        return self.links().get(twin)

    def links(self) -> dict[str, dict[str, Any]]:
        """:meth:`link` of every twin heard from."""
        rows = self._db.execute(
            "SELECT twin, records, last_id, received_at, health, backlog, dropped, bytes_sent"
            " FROM links ORDER BY twin"
        )
        return {row[0]: dict(zip(_LINK, row[1:], strict=True)) for row in rows}

    def records(self, twin: str) -> list[tuple[int, str, dict]]:
        """A twin's records in arrival order."""
        rows = self._db.execute(
            "SELECT id, kind, body FROM records WHERE twin = ? ORDER BY rowid", (twin,)
        ).fetchall()
        return [(i, k, json.loads(b)) for i, k, b in rows]

    async def run(self) -> None:
        import aiomqtt

        while True:
            try:
                async with aiomqtt.Client(**self._args) as client:
                    await client.subscribe(f"{self.prefix}/+/+", qos=1)
                    self.subscribed.set()
                    async for _ in client.messages:  # stored as they arrive; waits for a loss
                        pass
            except aiomqtt.MqttError as exc:
                if asyncio.current_task().cancelling():
                    raise asyncio.CancelledError from exc  # aiomqtt turned our cancel into this
                await asyncio.sleep(0.2)

    def close(self) -> None:
        self._db.close()
