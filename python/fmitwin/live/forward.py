"""Edge forwarding: a bounded outbox in the twin's SQLite history, sent to the centre over MQTT.

Each record queued with :meth:`Outbox.put` gets a monotonically increasing id. The
:class:`Forwarder` publishes records in id order at QoS 1 on a persistent session (fixed client
id, clean_session = false), a batch at a time, and marks a batch sent only once every PUBACK of
it arrived; after a reconnect it resumes from the oldest unacknowledged record, so the centre may
see a record twice (it deduplicates by ``(twin, id)``, see :mod:`fmitwin.fleet.ingest`) but never
misses one, unless the outbox overflowed (``limit`` records or ``max_bytes`` of JSON): then the
oldest unsent records are dropped and counted in ``dropped``. ``bytes_sent`` (payload bytes
acknowledged) is kept in the outbox, so it survives restarts.

A running twin feeds its outbox through an :class:`Uplink`, which decides what the centre needs
(``[forward]`` of the twin file): every k-th estimate, at most one per ``min_interval``, only when
a state moved more than its ``deadband`` (or the health changed), a mean/min/max ``summary`` of
every estimate per ``summary_interval``, the events, and a ``health`` record (with the
forwarder's backlog, drops, bytes sent and last contact) every ``health_interval``. The uplink
buffers in memory and commits once per housekeeping tick (one transaction), like the history.

Kinds and bodies (topic ``<prefix>/<twin>/<kind>``, payload ``{"twin", "id", "kind", "body"}``)::

    estimate  {"t", "health", "x": {state: value}, "sigma": {state: value}}
    summary   {"t0", "t1", "n", "mean": {...}, "min": {...}, "max": {...}}
    event     {"t", "kind", "details"}
    health    {"health", "updates", "divergences", "dropped", "late", "at", "forward": {...}}
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt

from fmitwin.live.history import _lock
from fmitwin.live.mqtt import client_args
from fmitwin.live.readings import LinkReporter, raise_if_cancelled

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS outbox_state (key TEXT PRIMARY KEY, value INTEGER);
"""


class Outbox:
    """Records waiting for the centre, in SQLite (the history file or a file of its own)."""

    def __init__(
        self,
        path: str | Path,
        *,
        limit: int = 100_000,
        max_bytes: int | None = None,
        lock: bool = False,
    ) -> None:
        """``lock``: hold ``<path>.lock`` as a history does (an outbox in a file of its own:
        one twin per outbox); in the history file, the history holds it."""
        if limit < 1:
            raise ValueError(f"outbox limit must be at least 1 record, not {limit}")
        self.limit, self.max_bytes = limit, max_bytes
        self.path = Path(path)
        self._lock = _lock(self.path) if lock else None
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._pending_bytes = self._db.execute(
            "SELECT coalesce(sum(length(body)), 0) FROM outbox WHERE id > ?", (self.acked,)
        ).fetchone()[0]

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
    def bytes_sent(self) -> int:
        """Payload bytes the broker acknowledged, over every run of this outbox."""
        return self._state("bytes_sent")

    @property
    def backlog(self) -> int:
        return self._db.execute(
            "SELECT count(*) FROM outbox WHERE id > ?", (self.acked,)
        ).fetchone()[0]

    @property
    def backlog_bytes(self) -> int:
        """JSON bytes of the records waiting."""
        return self._pending_bytes

    def put(self, kind: str, body: dict[str, Any]) -> int:
        """Queue one record; returns its id. A full outbox drops (and counts) its oldest unsent."""
        return self.put_many([(kind, body)])[-1]

    def put_many(self, records: list[tuple[str, dict[str, Any]]]) -> list[int]:
        """Queue records in one transaction; returns their ids."""
        ids = []
        with self._db:
            self._db.execute("BEGIN")
            for kind, body in records:
                text = json.dumps(body, default=str)
                cur = self._db.execute(
                    "INSERT INTO outbox (kind, body) VALUES (?, ?)", (kind, text)
                )
                ids.append(cur.lastrowid)
                self._pending_bytes += len(text)
            self._shed()
        return ids

    def _shed(self) -> None:
        """Drop the oldest unsent records beyond ``limit`` records or ``max_bytes``."""
        acked = self.acked
        rows = self._db.execute(
            "SELECT id, length(body) FROM outbox WHERE id > ? ORDER BY id", (acked,)
        )
        backlog = self.backlog
        first = acked
        for record_id, size in rows:
            over_bytes = self.max_bytes is not None and self._pending_bytes > self.max_bytes
            if backlog <= self.limit and not over_bytes or backlog == 1:
                break
            first, backlog = record_id, backlog - 1
            self._pending_bytes -= size
        if first > acked:
            self._set("dropped", self.dropped + first - acked)  # ids are dense
            self._set("acked", first)
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (first,))

    def pending(self, n: int = 100) -> list[tuple[int, str, str]]:
        return self._db.execute(
            "SELECT id, kind, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (self.acked, n)
        ).fetchall()

    def ack(self, record_id: int, sent: int = 0) -> None:
        """The broker acknowledged every record up to ``record_id`` (``sent`` payload bytes)."""
        with self._db:
            self._db.execute("BEGIN")
            self._pending_bytes -= self._db.execute(
                "SELECT coalesce(sum(length(body)), 0) FROM outbox WHERE id <= ?", (record_id,)
            ).fetchone()[0]
            self._set("acked", max(record_id, self.acked))
            self._set("bytes_sent", self.bytes_sent + sent)
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (record_id,))

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            if self._lock is not None:
                os.close(self._lock)


class Forwarder:
    """Publish an :class:`Outbox` to ``<prefix>/<twin>/<kind>`` and report the link's state
    (``status``, as every link of the twin; ``on_event`` gets its ``link_down``/``link_up``)."""

    def __init__(
        self,
        outbox: Outbox,
        url: str,
        *,
        twin: str,
        client_id: str,
        prefix: str = "fmitwin/fleet",
        backoff_max: float = 5.0,
        on_event: Callable[[str, dict], None] | None = None,
        **auth,
    ) -> None:
        self.outbox, self.twin, self.prefix = outbox, twin, prefix
        self.backoff_max = backoff_max
        self._args = client_args(url, client_id=client_id, persistent=True, role="forward", **auth)
        self.reporter = LinkReporter("forward", url, on_event)
        self.status = self.reporter.status
        self.last_contact: float | None = None
        self.wake = asyncio.Event()

    def stats(self) -> dict[str, Any]:
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
                    self.reporter.up()
                    await self._drain(client)
            except aiomqtt.MqttError as exc:  # the record in flight stays unacknowledged
                if asyncio.current_task().cancelling():
                    raise asyncio.CancelledError from exc  # aiomqtt turned our cancel into this
                self.reporter.down(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.backoff_max)

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            raise_if_cancelled()
            batch = self.outbox.pending()
            if not batch:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 0.2)
                except TimeoutError:
                    pass
                continue
            # the batch goes out pipelined, in id order on one connection (so the broker keeps
            # that order), and is acknowledged in the outbox once every PUBACK of it arrived
            payloads = [
                (
                    f"{self.prefix}/{self.twin}/{kind}",
                    json.dumps(
                        {"twin": self.twin, "id": i, "kind": kind, "body": json.loads(body)}
                    ).encode(),
                )
                for i, kind, body in batch
            ]
            results = await asyncio.gather(
                *(client.publish(topic, payload, qos=1) for topic, payload in payloads),
                return_exceptions=True,
            )
            if failed := [r for r in results if isinstance(r, BaseException)]:
                raise failed[0]  # nothing of the batch is acknowledged: all of it goes again
            self.outbox.ack(batch[-1][0], sum(len(p) for _, p in payloads))
            self.last_contact = time.time()


def _values(names: list[str], values) -> dict[str, float | None]:
    """A vector by name, non-finite entries as null (JSON has no NaN)."""
    return {n: (float(v) if math.isfinite(v) else None) for n, v in zip(names, values, strict=True)}


class Uplink:
    """What the twin forwards (see the module doc): decimated, deadbanded estimates, summaries,
    events and health, buffered until :meth:`flush` commits them to the outbox."""

    def __init__(
        self,
        outbox: Outbox,
        states: list[str],
        *,
        every: int = 1,
        min_interval: float = 0.0,
        deadband: dict[str, float] | None = None,
        summary_interval: float = 0.0,
    ) -> None:
        self.outbox, self.states = outbox, states
        self.every, self.min_interval, self.summary_interval = every, min_interval, summary_interval
        band = deadband or {}
        self._band = [band.get(s, 0.0) for s in states]
        self._seen = 0  # estimates offered
        self._sent: tuple[float, list[float], str] | None = None  # t, x, health last sent
        self._summary: dict[str, Any] | None = None
        self._buffer: list[tuple[str, dict[str, Any]]] = []

    def _queue(self, kind: str, body: dict[str, Any]) -> None:
        self._buffer.append((kind, body))

    def estimate(self, t: float, x, sigma, health: str) -> bool:
        """Offer one estimate; True when it is forwarded."""
        x = [float(v) for v in x]
        self._summarize(t, x)
        self._seen += 1
        if self._sent is not None:
            last_t, last_x, last_health = self._sent
            if (self._seen - 1) % self.every or t - last_t < self.min_interval:
                return False
            moved = any(
                not abs(a - b) <= band  # NaN counts as moved
                for a, b, band in zip(x, last_x, self._band, strict=True)
            )
            if not moved and health == last_health:
                return False
        self._sent = (t, x, health)
        body = {"t": t, "health": health, "x": _values(self.states, x)}
        body["sigma"] = _values(self.states, sigma)
        self._queue("estimate", body)
        return True

    def _summarize(self, t: float, x: list[float]) -> None:
        if self.summary_interval <= 0:
            return
        s = self._summary
        if s is not None and t - s["t0"] >= self.summary_interval:
            self._close_summary()
            s = None
        if s is None:
            self._summary = {"t0": t, "t1": t, "n": 1, "sum": x[:], "min": x[:], "max": x[:]}
            return
        s["t1"], s["n"] = t, s["n"] + 1
        s["sum"] = [a + b for a, b in zip(s["sum"], x, strict=True)]
        s["min"] = [min(a, b) for a, b in zip(s["min"], x, strict=True)]
        s["max"] = [max(a, b) for a, b in zip(s["max"], x, strict=True)]

    def _close_summary(self) -> None:
        s, self._summary = self._summary, None
        if s is None:
            return
        mean = [v / s["n"] for v in s["sum"]]
        body = {"t0": s["t0"], "t1": s["t1"], "n": s["n"], "mean": _values(self.states, mean)}
        body.update(min=_values(self.states, s["min"]), max=_values(self.states, s["max"]))
        self._queue("summary", body)

    def event(self, kind: str, details: dict, t: float) -> None:
        self._queue("event", {"t": t, "kind": kind, "details": details})

    def health(self, body: dict[str, Any]) -> None:
        self._queue("health", body)

    def flush(self, *, final: bool = False) -> int:
        """Commit what is buffered to the outbox (``final``: the open summary too)."""
        if final:
            self._close_summary()
        n = len(self._buffer)
        if n:
            self.outbox.put_many(self._buffer)
            self._buffer = []
        return n
