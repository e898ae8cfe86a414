"""Edge forwarding: a bounded outbox in the twin's SQLite history, sent to the centre over MQTT.

Each record queued with :meth:`Outbox.put` gets a monotonically increasing id. The
:class:`Forwarder` publishes records in id order at QoS 1 on a persistent session (fixed client
id, clean_session = false) and marks a record sent only once its PUBACK arrived; after a
reconnect it resumes from the oldest unacknowledged record, so the centre may see a record twice
(it deduplicates by ``(twin, id)``, see :mod:`fmitwin.fleet.ingest`) but never misses one, unless
the outbox overflowed: then the oldest unsent records are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiomqtt

from fmitwin.live.mqtt import client_args

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS outbox_state (key TEXT PRIMARY KEY, value INTEGER);
"""


class Outbox:
    """Records waiting for the centre, in SQLite (the history file or a file of its own)."""

    def __init__(self, path: str | Path, *, limit: int = 100_000) -> None:
        if limit < 1:
            raise ValueError(f"outbox limit must be at least 1 record, not {limit}")
        self.limit = limit
        self._db = sqlite3.connect(Path(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.bytes_sent = 0

    def _state(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM outbox_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def _set(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO outbox_state VALUES (?, ?)", (key, value))

    @property
    def acked(self) -> int:
        """The id of the last record the broker acknowledged (0: none yet)."""
        return self._state("acked")

    @property
    def dropped(self) -> int:
        """Records dropped unsent because the outbox was full."""
        return self._state("dropped")

    @property
    def backlog(self) -> int:
        return self._db.execute(
            "SELECT count(*) FROM outbox WHERE id > ?", (self.acked,)
        ).fetchone()[0]

    def put(self, kind: str, body: dict[str, Any]) -> int:
        """Queue one record; returns its id. A full outbox drops (and counts) its oldest unsent."""
        with self._db:
            self._db.execute("BEGIN")
            cur = self._db.execute(
                "INSERT INTO outbox (kind, body) VALUES (?, ?)",
                (kind, json.dumps(body, default=str)),
            )
            acked = self.acked
            over = self.backlog - self.limit
            if over > 0:
                self._set("dropped", self.dropped + over)
                self._set("acked", acked + over)  # ids are dense: skip the oldest `over`
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (self.acked,))
        return cur.lastrowid

    def pending(self, n: int = 100) -> list[tuple[int, str, str]]:
        return self._db.execute(
            "SELECT id, kind, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (self.acked, n)
        ).fetchall()

    def ack(self, record_id: int) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._set("acked", record_id)
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (record_id,))

    def close(self) -> None:
        self._db.close()


class Forwarder:
    """Publish an :class:`Outbox` to ``<prefix>/<twin>/<kind>`` and report the link's state."""

    def __init__(
        self,
        outbox: Outbox,
        url: str,
        *,
        twin: str,
        client_id: str,
        prefix: str = "fmitwin/fleet",
        backoff_max: float = 5.0,
        **auth,
    ) -> None:
        self.outbox, self.twin, self.prefix = outbox, twin, prefix
        self.backoff_max = backoff_max
        self._args = client_args(url, client_id=client_id, persistent=True, role="forward", **auth)
        self.last_contact: float | None = None
        self.wake = asyncio.Event()

    def status(self) -> dict[str, Any]:
        """Backlog, drops, bytes sent and the time of the last PUBACK (no credentials)."""
        return {
            "backlog": self.outbox.backlog,
            "dropped": self.outbox.dropped,
            "bytes_sent": self.outbox.bytes_sent,
            "last_contact": self.last_contact,
        }

    async def run(self) -> None:
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(**self._args) as client:
                    delay = 0.2
                    self.last_contact = time.time()
                    await self._drain(client)
            except aiomqtt.MqttError:
                pass  # the record in flight stays unacknowledged and is sent again
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.backoff_max)

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            batch = self.outbox.pending()
            if not batch:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 0.2)
                except TimeoutError:
                    pass
                continue
            for record_id, kind, body in batch:
                payload = json.dumps(
                    {"twin": self.twin, "id": record_id, "kind": kind, "body": json.loads(body)}
                ).encode()
                await client.publish(f"{self.prefix}/{self.twin}/{kind}", payload, qos=1)
                self.outbox.ack(record_id)  # publish returned: the broker's PUBACK arrived
                self.outbox.bytes_sent += len(payload)
                self.last_contact = time.time()
