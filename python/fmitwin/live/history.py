"""Durable history of a twin run in SQLite: readings, published estimates and events.

Rows are buffered in memory and committed every ``flush_interval`` seconds (and on close). The
database runs in WAL mode with ``synchronous=FULL``: once a transaction has committed, neither a
crash of the twin nor of the machine loses it, so a crash loses at most the last
``flush_interval`` of data that had not been written yet.

Schema::

    run(key TEXT PRIMARY KEY, value TEXT)          -- twin name, config file, states, start time
    readings(sensor, source_ts, server_ts, received_ts, raw JSON, value, quality, flag, source)
    estimates(t, source_ts, published_at, health, x JSON, sigma JSON)
    residuals(t, published_at, health, sensor, value, sigma, nis)   -- as published (NULL: NaN)
    events(t, kind, details JSON)

Estimates and residuals are indexed by event time ``t``: the twin's OPC UA server answers
``HistoryRead`` from them (:func:`published_values`), across restarts of the twin.

One twin writes a history at a time: ``<path>.lock`` holds an exclusive lock (and the writer's
process id) while the history is open, so a second twin on the same file fails at once with
:class:`HistoryInUse`, before it touches the first one's run metadata.

Every reading is recorded, rejected ones included (with their flag and raw value), so a replay
(:func:`recorded_readings`) feeds the gateway exactly what the adapters delivered.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from fmitwin.live.readings import Flag, Reading

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS readings (
    sensor TEXT, source_ts REAL, server_ts REAL, received_ts REAL, raw TEXT,
    value REAL, quality REAL, flag TEXT, source TEXT);
CREATE TABLE IF NOT EXISTS estimates (
    t REAL, source_ts REAL, published_at REAL, health TEXT, x TEXT, sigma TEXT);
CREATE TABLE IF NOT EXISTS residuals (
    t REAL, published_at REAL, health TEXT, sensor TEXT, value REAL, sigma REAL, nis REAL);
CREATE TABLE IF NOT EXISTS events (t REAL, kind TEXT, details TEXT);
CREATE INDEX IF NOT EXISTS estimates_by_t ON estimates (t);
CREATE INDEX IF NOT EXISTS residuals_by_t ON residuals (sensor, t);
"""


def _json_raw(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, float) and not math.isfinite(raw):
        return json.dumps({"float": repr(raw)})  # keep NaN/inf distinguishable from null
    try:
        return json.dumps(raw)
    except TypeError:
        return json.dumps({"repr": repr(raw)})


def _raw_from_json(text: str) -> Any:
    raw = json.loads(text)
    if isinstance(raw, dict) and set(raw) == {"float"}:
        return float(raw["float"])
    return raw


class HistoryError(ValueError):
    """A history file that cannot be used, with the reason and the fix."""


class HistoryInUse(HistoryError):
    """Another process writes this history."""


def _lock(path: Path) -> int:
    """Hold ``<path>.lock`` exclusively (released when the returned descriptor is closed)."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise HistoryInUse(
            f"history {path} is being written by another twin (process {holder}); give this "
            "twin its own [history] path"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


class History:
    """Append-only recorder; ``record_*`` buffer, ``flush`` commits, ``close`` flushes."""

    def __init__(self, path: str | Path, *, flush_interval: float = 0.25, meta: dict | None = None):
        self.path = Path(path)
        self.flush_interval = flush_interval
        if self.path.is_dir():
            raise HistoryError(f"history path {self.path} is a directory; name a file in it")
        if not self.path.parent.is_dir():
            raise HistoryError(f"history folder {self.path.parent} does not exist; create it")
        self._lock = _lock(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            os.close(self._lock)
            raise HistoryError(f"{self.path} is not an fmitwin history (SQLite): {exc}") from exc
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._readings: list[tuple] = []
        self._estimates: list[tuple] = []
        self._residuals: list[tuple] = []
        self._events: list[tuple] = []
        self.rows_written = 0
        self._last_flush = time.monotonic()
        if meta:
            rows = [(k, json.dumps(v)) for k, v in meta.items()]
            self._db.executemany("INSERT OR REPLACE INTO run VALUES (?, ?)", rows)

    def record_reading(self, r: Reading) -> None:
        self._readings.append(
            (
                r.sensor,
                r.source_ts,
                r.server_ts,
                r.received_ts,
                _json_raw(r.raw),
                r.value if math.isfinite(r.value) else None,
                r.quality,
                str(r.flag),
                r.source,
            )
        )

    def record_estimate(self, est, published_at: float) -> None:
        self._estimates.append(
            (
                est.t,
                est.source_ts,
                published_at,
                est.health,
                json.dumps(est.x.tolist()),
                json.dumps(est.sigma.tolist()),
            )
        )

    def record_residuals(
        self, t: float, published_at: float, health: str, residuals: dict[str, tuple]
    ) -> None:
        """The residuals published at event time ``t``: sensor -> (value, sigma, nis)."""
        for sensor, values in residuals.items():
            finite = [v if math.isfinite(v) else None for v in values]
            self._residuals.append((t, published_at, health, sensor, *finite))

    def record_event(self, kind: str, details: dict, t: float | None = None) -> None:
        t = time.time() if t is None else t
        self._events.append((t, kind, json.dumps(details, default=str)))

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> int:
        """Commit everything buffered in one transaction; returns the number of rows."""
        n = len(self._readings) + len(self._estimates) + len(self._residuals) + len(self._events)
        self._last_flush = time.monotonic()
        if n == 0:
            return 0
        with self._db:  # one transaction: all or nothing
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?)", self._readings)
            self._db.executemany("INSERT INTO estimates VALUES (?,?,?,?,?,?)", self._estimates)
            self._db.executemany("INSERT INTO residuals VALUES (?,?,?,?,?,?,?)", self._residuals)
            self._db.executemany("INSERT INTO events VALUES (?,?,?)", self._events)
        self._readings.clear()
        self._estimates.clear()
        self._residuals.clear()
        self._events.clear()
        self.rows_written += n
        return n

    def close(self) -> None:
        try:
            self.flush()
            self._db.close()
        finally:
            os.close(self._lock)


def _connect_read_only(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise HistoryError(f"history file not found: {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def query(path: str | Path, sql: str, args: tuple = ()) -> list[tuple]:
    """The rows of one read-only SQL query on the history at ``path`` (the schema above); the
    writing twin is not disturbed (WAL) and sees only committed rows (``History.flush``).

    A missing file, or one that is not a complete fmitwin history (empty, truncated, another
    program's database, or older than a table the query names), is a :class:`HistoryError`."""
    db = _connect_read_only(path)
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as exc:  # empty, truncated, or another program's database
        raise HistoryError(
            f"{path} is not a readable fmitwin history ({exc}); replay a file that "
            "`fmitwin run` recorded"
        ) from exc
    finally:
        db.close()


def recorded_readings(path: str | Path) -> list[Reading]:
    """Every recorded reading in arrival order, as the adapters delivered it (for replay).

    Gateway flags are reset to what the adapter knew (Bad status, Uncertain, malformed); range,
    type, NaN and staleness are judged again by the replaying gateway.
    """
    rows = query(
        path,
        "SELECT sensor, source_ts, server_ts, received_ts, raw, quality, flag, source "
        "FROM readings ORDER BY received_ts, rowid",
    )
    out = []
    adapter_flags = {Flag.BAD_STATUS, Flag.UNCERTAIN, Flag.MALFORMED}
    for sensor, source_ts, server_ts, received_ts, raw, quality, flag, source in rows:
        flag = Flag(flag)
        keep = flag in adapter_flags
        out.append(
            Reading(
                sensor,
                _raw_from_json(raw),
                source_ts,
                server_ts,
                received_ts,
                quality if keep else 1.0,
                flag if keep else Flag.OK,
                source=source,
            )
        )
    return out


def recorded_estimates(path: str | Path) -> list[dict]:
    rows = query(
        path, "SELECT t, source_ts, published_at, health, x, sigma FROM estimates ORDER BY rowid"
    )
    keys = ("t", "source_ts", "published_at", "health")
    return [
        {
            **dict(zip(keys, row[:4], strict=True)),
            "x": json.loads(row[4]),
            "sigma": json.loads(row[5]),
        }
        for row in rows
    ]


def recorded_events(path: str | Path, kind: str | None = None) -> list[dict]:
    sql = "SELECT t, kind, details FROM events"
    rows = query(
        path, sql + (" WHERE kind = ?" if kind else "") + " ORDER BY rowid", (kind,) if kind else ()
    )
    return [{"t": t, "kind": k, **json.loads(d)} for t, k, d in rows]


@dataclasses.dataclass(frozen=True)
class Series:
    """One published variable's values in a history: ``table`` "estimates" (``key`` the index
    of the state in x, ``column`` "x" or "sigma") or "residuals" (``key`` the sensor,
    ``column`` "value", "sigma" or "nis")."""

    table: str
    key: int | str
    column: str

    def __post_init__(self) -> None:
        columns = {"estimates": ("x", "sigma"), "residuals": ("value", "sigma", "nis")}
        if self.column not in columns.get(self.table, ()):
            raise ValueError(f"no published series {self.table}.{self.column}")


#: One published value: (rowid, event time t, published_at, health, value)
PublishedValue = tuple[int, float, float, str, float]


def published_values(
    path: str | Path,
    series: Series,
    first: float,
    last: float,
    limit: int,
    after: tuple[float, int] | None = None,
) -> list[PublishedValue]:
    """At most ``limit`` values of ``series`` in event-time order from ``first`` (inclusive)
    towards ``last`` (exclusive); newest first when ``first > last``. Ties in ``t`` keep the
    order of recording. ``after``: (t, rowid) of the last value of the previous page, which
    continues there (a keyset: pages stay exact while the twin records more)."""
    reverse = first > last
    where = "t <= ? AND t > ?" if reverse else "t >= ? AND t < ?"
    args: list = [first, last]
    if series.table == "residuals":
        where += " AND sensor = ?"
        args.append(series.key)
    if after is not None:
        where += " AND (t, rowid) " + ("<" if reverse else ">") + " (?, ?)"
        args += list(after)
    order = " DESC" if reverse else ""
    rows = query(
        path,
        f"SELECT rowid, t, published_at, health, {series.column} FROM {series.table} "
        f"WHERE {where} ORDER BY t{order}, rowid{order} LIMIT ?",
        (*args, limit),
    )
    if series.table == "estimates":
        return [(r, t, p, h, float(json.loads(v)[series.key])) for r, t, p, h, v in rows]
    return [(r, t, p, h, math.nan if v is None else v) for r, t, p, h, v in rows]
