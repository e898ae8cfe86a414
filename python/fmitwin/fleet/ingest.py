"""Central ingest of edge records: subscribe at QoS 1 on a persistent session and store each
``(twin, id)`` once in SQLite (a record the edge sent again after a lost PUBACK is ignored)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import aiomqtt

from fmitwin.live.mqtt import client_args

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    twin TEXT, id INTEGER, kind TEXT, body TEXT, PRIMARY KEY (twin, id));
"""


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

    def store(self, payload: bytes) -> bool:
        """Store one record; False when it was already stored."""
        doc = json.loads(payload)
        cur = self._db.execute(
            "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)",
            (doc["twin"], int(doc["id"]), doc["kind"], json.dumps(doc["body"])),
        )
        if cur.rowcount == 0:
            self.duplicates += 1
        return cur.rowcount == 1

    def records(self, twin: str) -> list[tuple[int, str, dict]]:
        """A twin's records in arrival order."""
        rows = self._db.execute(
            "SELECT id, kind, body FROM records WHERE twin = ? ORDER BY rowid", (twin,)
        ).fetchall()
        return [(i, k, json.loads(b)) for i, k, b in rows]

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(**self._args) as client:
                    await client.subscribe(f"{self.prefix}/+/+", qos=1)
                    self.subscribed.set()
                    async for _ in client.messages:  # stored as they arrive; waits for a loss
                        pass
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    def close(self) -> None:
        self._db.close()
