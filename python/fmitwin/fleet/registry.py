"""The twin registry: which twins exist, for which assets, in which lifecycle state, in what
condition; every lifecycle transition recorded with its time and reason.

Lifecycle (``ALLOWED`` lists every legal move)::

    registered -> commissioning -> running <-> degraded
                        |              |          |
                        +------------> stopped <--+ -> retired
    registered -> retired;  stopped -> commissioning (restart)

``Registry`` is the interface; ``SqliteRegistry`` keeps it in one SQLite file (write-ahead log,
each change one transaction, so a process killed at any instant leaves the file consistent and
every committed change in it). A server database can implement the same interface later.

A twin registered without a fleet file (through the API) keeps its definition in the registry
too (:class:`StoredDefinition`: the twin file's text and its registration metadata), so a
restarted service re-creates it. Its fleet-file twins are defined by the fleet file: when a
fleet file declares an id that has a stored definition, the fleet file wins
(``update_entry`` with another ``definition`` drops the stored one).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = [
    "ALLOWED",
    "Lifecycle",
    "Registry",
    "RegistryError",
    "SqliteRegistry",
    "StoredDefinition",
    "Transition",
    "TwinEntry",
    "TwinRecord",
    "TwinStatus",
]


class Lifecycle(StrEnum):
    REGISTERED = "registered"
    COMMISSIONING = "commissioning"
    RUNNING = "running"
    DEGRADED = "degraded"
    STOPPED = "stopped"
    RETIRED = "retired"


ALLOWED: dict[Lifecycle, frozenset[Lifecycle]] = {
    Lifecycle.REGISTERED: frozenset({Lifecycle.COMMISSIONING, Lifecycle.RETIRED}),
    Lifecycle.COMMISSIONING: frozenset({Lifecycle.RUNNING, Lifecycle.STOPPED}),
    Lifecycle.RUNNING: frozenset({Lifecycle.DEGRADED, Lifecycle.STOPPED}),
    Lifecycle.DEGRADED: frozenset({Lifecycle.RUNNING, Lifecycle.STOPPED}),
    Lifecycle.STOPPED: frozenset({Lifecycle.COMMISSIONING, Lifecycle.RETIRED}),
    Lifecycle.RETIRED: frozenset(),
}

# Twin health (as the live synchronizer reports it) that moves a running twin to degraded.
_UNHEALTHY = frozenset({"degraded", "diverged"})
# The RUL distribution is kept as these quantiles, enough to answer P(failure within H).
_QUANTILES = tuple(np.round(np.linspace(0.01, 0.99, 33), 6))


class RegistryError(ValueError):
    """A registry request that cannot be honoured: unknown or duplicate id, illegal transition."""


@dataclass(frozen=True)
class TwinEntry:
    """What is registered: the twin, its asset and where its definition lives.

    ``definition`` is the twin file, or ``fleet.toml#<asset id>`` for a twin of a fleet file.
    """

    id: str
    asset_id: str
    asset_type: str
    site: str
    definition: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredDefinition:
    """A twin's definition kept in the registry: ``text`` of the twin file read from ``source``
    (which names it in errors and anchors its relative paths), and ``metadata`` given at
    registration (JSON values, e.g. how its remaining life is estimated)."""

    source: str
    text: str
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TwinStatus:
    """The twin's latest condition. ``rul_quantiles`` are (probability, RUL) pairs."""

    health: str | None = None
    rul: float | None = None
    rul_low: float | None = None
    rul_high: float | None = None
    rul_quantiles: tuple[tuple[float, float], ...] = ()
    updated_at: float | None = None

    def probability_of_failure(self, horizon: float) -> float | None:
        """P(RUL <= horizon), interpolated in the stored quantiles; None without an estimate."""
        if not self.rul_quantiles:
            return None
        q, values = np.array(self.rul_quantiles).T
        if horizon <= 0:
            return 0.0
        if horizon < values[0]:  # below the lowest quantile: linear from P(RUL <= 0) = 0
            return float(q[0] * horizon / values[0])
        return float(np.interp(horizon, values, q))  # held at the top quantile beyond it


@dataclass(frozen=True)
class TwinRecord:
    entry: TwinEntry
    lifecycle: Lifecycle
    registered_at: float
    status: TwinStatus = field(default_factory=TwinStatus)

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass(frozen=True)
class Transition:
    """One lifecycle move; ``source`` is None for the registration itself."""

    twin_id: str
    source: Lifecycle | None
    target: Lifecycle
    at: float
    reason: str


class Registry(Protocol):
    """The registry interface. Every method is one atomic change or one consistent read."""

    def register(
        self,
        entry: TwinEntry,
        reason: str = "registered",
        *,
        definition: StoredDefinition | None = None,
    ) -> TwinRecord: ...

    def definition(self, twin_id: str) -> StoredDefinition | None: ...

    def update_entry(self, entry: TwinEntry) -> TwinRecord: ...

    def get(self, twin_id: str) -> TwinRecord: ...

    def transition(self, twin_id: str, target: Lifecycle | str, reason: str) -> Transition: ...

    def update_status(
        self,
        twin_id: str,
        *,
        health: str | None = None,
        rul: object | None = None,
        at: float | None = None,
    ) -> TwinRecord: ...

    def transitions(self, twin_id: str) -> list[Transition]: ...

    def query(self, **criteria: object) -> list[TwinRecord]: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS twins (
    id TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL,
    asset_type TEXT NOT NULL,
    site TEXT NOT NULL,
    definition TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    registered_at REAL NOT NULL,
    health TEXT,
    rul REAL,
    rul_low REAL,
    rul_high REAL,
    rul_quantiles TEXT,
    status_at REAL
);
CREATE TABLE IF NOT EXISTS twin_tags (
    twin_id TEXT NOT NULL REFERENCES twins(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (twin_id, tag)
);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    twin_id TEXT NOT NULL REFERENCES twins(id),
    source TEXT,
    target TEXT NOT NULL,
    at REAL NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_twin ON transitions(twin_id, seq);
CREATE TABLE IF NOT EXISTS definitions (
    twin_id TEXT PRIMARY KEY REFERENCES twins(id),
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL
);
"""


class SqliteRegistry:
    """``Registry`` in one SQLite file (``":memory:"`` for a throw-away one).

    Several processes may open the same file: each change is an immediate transaction.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a killed process loses nothing committed; only a power cut can
            # lose the last transactions, never consistency.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.row_factory = sqlite3.Row
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RegistryError(
                f"cannot open the registry {self.path}: {exc}; give a writable path to a new "
                "file or an existing fmitwin registry"
            ) from exc

    # --- writes -------------------------------------------------------------------------

    def register(
        self,
        entry: TwinEntry,
        reason: str = "registered",
        *,
        definition: StoredDefinition | None = None,
    ) -> TwinRecord:
        """Add a twin in state ``registered``, with its ``definition`` when given (in the same
        transaction); a duplicate id is refused."""
        _check_entry(entry)
        metadata = None if definition is None else _metadata_json(definition)
        now = time.time()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM twins WHERE id = ?", (entry.id,)).fetchone():
                raise RegistryError(
                    f"twin id {entry.id!r} is already registered; choose another id, or "
                    "update_entry() to change its asset, site, type or tags"
                )
            db.execute(
                "INSERT INTO twins (id, asset_id, asset_type, site, definition, lifecycle,"
                " registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    entry.asset_id,
                    entry.asset_type,
                    entry.site,
                    entry.definition,
                    Lifecycle.REGISTERED.value,
                    now,
                ),
            )
            self._write_tags(db, entry)
            if definition is not None:
                db.execute(
                    "INSERT INTO definitions (twin_id, source, text, metadata) VALUES (?, ?, ?, ?)",
                    (entry.id, definition.source, definition.text, metadata),
                )
            self._record(db, entry.id, None, Lifecycle.REGISTERED, now, reason)
        return self.get(entry.id)

    def update_entry(self, entry: TwinEntry) -> TwinRecord:
        """Change a registered twin's asset, type, site, definition or tags. Another
        ``definition`` drops the stored one (a fleet file taking over an API-registered id)."""
        _check_entry(entry)
        with self._transaction() as db:
            if self._row(db, entry.id)["definition"] != entry.definition:
                db.execute("DELETE FROM definitions WHERE twin_id = ?", (entry.id,))
            db.execute(
                "UPDATE twins SET asset_id = ?, asset_type = ?, site = ?, definition = ?"
                " WHERE id = ?",
                (entry.asset_id, entry.asset_type, entry.site, entry.definition, entry.id),
            )
            db.execute("DELETE FROM twin_tags WHERE twin_id = ?", (entry.id,))
            self._write_tags(db, entry)
        return self.get(entry.id)

    def transition(self, twin_id: str, target: Lifecycle | str, reason: str) -> Transition:
        """Move a twin to ``target``; an illegal move names the legal ones."""
        target = _lifecycle(target)
        if not reason or not reason.strip():
            raise RegistryError("a lifecycle transition needs a reason (who or what moved it)")
        with self._transaction() as db:
            source = Lifecycle(self._row(db, twin_id)["lifecycle"])
            if target not in ALLOWED[source]:
                legal = ", ".join(sorted(ALLOWED[source])) or "none (retired is final)"
                raise RegistryError(
                    f"twin {twin_id!r} cannot go from {source} to {target}; from {source} it "
                    f"can go to: {legal}"
                )
            return self._move(db, twin_id, source, target, reason)

    def update_status(
        self,
        twin_id: str,
        *,
        health: str | None = None,
        rul: object | None = None,
        at: float | None = None,
    ) -> TwinRecord:
        """Record the twin's latest health and remaining-life distribution.

        ``rul`` is anything with ``quantile(q)`` and ``interval(level)`` (the
        ``fmitwin.maintenance`` RUL distributions). A running twin whose health turns
        ``degraded`` or ``diverged`` becomes ``degraded``; a degraded twin whose health is
        ``ok`` again returns to ``running`` (both transitions recorded).
        """
        at = time.time() if at is None else float(at)
        with self._transaction() as db:
            row = self._row(db, twin_id)
            if health is not None:
                db.execute(
                    "UPDATE twins SET health = ?, status_at = ? WHERE id = ?",
                    (health, at, twin_id),
                )
            if rul is not None:
                quantiles = _rul_quantiles(rul)
                low, high = (float(v) for v in rul.interval(0.9))  # type: ignore[attr-defined]
                db.execute(
                    "UPDATE twins SET rul = ?, rul_low = ?, rul_high = ?, rul_quantiles = ?,"
                    " status_at = ? WHERE id = ?",
                    (float(rul.quantile(0.5)), low, high, json.dumps(quantiles), at, twin_id),  # type: ignore[attr-defined]
                )
            lifecycle = Lifecycle(row["lifecycle"])
            if lifecycle is Lifecycle.RUNNING and health in _UNHEALTHY:
                self._move(db, twin_id, lifecycle, Lifecycle.DEGRADED, f"health {health}")
            elif lifecycle is Lifecycle.DEGRADED and health == "ok":
                self._move(db, twin_id, lifecycle, Lifecycle.RUNNING, "health ok again")
        return self.get(twin_id)

    # --- reads --------------------------------------------------------------------------

    def get(self, twin_id: str) -> TwinRecord:
        return self._record_of(self._row(self._db, twin_id))

    def definition(self, twin_id: str) -> StoredDefinition | None:
        """The twin's stored definition; None for a twin defined elsewhere (a fleet file)."""
        self._row(self._db, twin_id)
        row = self._db.execute(
            "SELECT source, text, metadata FROM definitions WHERE twin_id = ?", (twin_id,)
        ).fetchone()
        if row is None:
            return None
        return StoredDefinition(row["source"], row["text"], json.loads(row["metadata"]))

    def transitions(self, twin_id: str) -> list[Transition]:
        """Every lifecycle move of the twin, oldest first (its registration included)."""
        self._row(self._db, twin_id)
        rows = self._db.execute(
            "SELECT source, target, at, reason FROM transitions WHERE twin_id = ? ORDER BY seq",
            (twin_id,),
        ).fetchall()
        return [
            Transition(twin_id, None if s is None else Lifecycle(s), Lifecycle(t), at, reason)
            for s, t, at, reason in rows
        ]

    def query(
        self,
        *,
        site: str | None = None,
        asset_type: str | None = None,
        tag: str | None = None,
        lifecycle: Lifecycle | str | Iterable[Lifecycle | str] | None = None,
        health: str | Iterable[str] | None = None,
        rul_below: float | None = None,
        failure_within: tuple[float, float] | None = None,
    ) -> list[TwinRecord]:
        """The twins matching every given criterion, ordered by id.

        ``rul_below``: median RUL below this; ``failure_within=(H, p)``: probability of failure
        within horizon H above p. Twins without an RUL estimate match neither.
        """
        where, args = [], []
        for column, value in (("site", site), ("asset_type", asset_type)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if tag is not None:
            where.append("id IN (SELECT twin_id FROM twin_tags WHERE tag = ?)")
            args.append(tag)
        if lifecycle is not None:
            states = [lifecycle] if isinstance(lifecycle, str) else list(lifecycle)
            where.append(f"lifecycle IN ({', '.join('?' * len(states))})")
            args.extend(_lifecycle(s).value for s in states)
        if health is not None:
            values = [health] if isinstance(health, str) else list(health)
            where.append(f"health IN ({', '.join('?' * len(values))})")
            args.extend(values)
        if rul_below is not None:
            where.append("rul < ?")
            args.append(float(rul_below))
        sql = "SELECT * FROM twins" + (" WHERE " + " AND ".join(where) if where else "")
        records = [self._record_of(r) for r in self._db.execute(sql + " ORDER BY id", args)]
        if failure_within is not None:
            horizon, probability = failure_within
            records = [
                r
                for r in records
                if (pof := r.status.probability_of_failure(horizon)) is not None
                and pof > probability
            ]
        return records

    def ranked(self, horizon: float) -> list[TwinRecord]:
        """Every twin not retired, most urgent first: highest probability of failure within
        ``horizon``, then shortest median RUL; twins without an estimate last."""
        return rank_by_urgency(
            [r for r in self.query() if r.lifecycle is not Lifecycle.RETIRED], horizon
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------

    def _transaction(self) -> _Immediate:
        return _Immediate(self._db)

    @staticmethod
    def _row(db: sqlite3.Connection, twin_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM twins WHERE id = ?", (twin_id,)).fetchone()
        if row is None:
            known = [r[0] for r in db.execute("SELECT id FROM twins ORDER BY id LIMIT 6")]
            hint = f"registered: {', '.join(known)}" if known else "the registry is empty"
            raise RegistryError(f"unknown twin id {twin_id!r}; {hint}")
        return row

    def _record_of(self, row: sqlite3.Row) -> TwinRecord:
        tags = tuple(
            t
            for (t,) in self._db.execute(
                "SELECT tag FROM twin_tags WHERE twin_id = ? ORDER BY tag", (row["id"],)
            )
        )
        quantiles = json.loads(row["rul_quantiles"]) if row["rul_quantiles"] else []
        return TwinRecord(
            entry=TwinEntry(
                row["id"],
                row["asset_id"],
                row["asset_type"],
                row["site"],
                row["definition"],
                tags,
            ),
            lifecycle=Lifecycle(row["lifecycle"]),
            registered_at=row["registered_at"],
            status=TwinStatus(
                health=row["health"],
                rul=row["rul"],
                rul_low=row["rul_low"],
                rul_high=row["rul_high"],
                rul_quantiles=tuple((float(q), float(v)) for q, v in quantiles),
                updated_at=row["status_at"],
            ),
        )

    def _move(
        self,
        db: sqlite3.Connection,
        twin_id: str,
        source: Lifecycle,
        target: Lifecycle,
        reason: str,
    ) -> Transition:
        now = time.time()
        db.execute("UPDATE twins SET lifecycle = ? WHERE id = ?", (target.value, twin_id))
        return self._record(db, twin_id, source, target, now, reason)

    @staticmethod
    def _record(
        db: sqlite3.Connection,
        twin_id: str,
        source: Lifecycle | None,
        target: Lifecycle,
        at: float,
        reason: str,
    ) -> Transition:
        db.execute(
            "INSERT INTO transitions (twin_id, source, target, at, reason) VALUES (?, ?, ?, ?, ?)",
            (twin_id, None if source is None else source.value, target.value, at, reason),
        )
        return Transition(twin_id, source, target, at, reason)

    @staticmethod
    def _write_tags(db: sqlite3.Connection, entry: TwinEntry) -> None:
        db.executemany(
            "INSERT INTO twin_tags (twin_id, tag) VALUES (?, ?)",
            [(entry.id, t) for t in sorted(set(entry.tags))],
        )


def rank_by_urgency(records: Sequence[TwinRecord], horizon: float) -> list[TwinRecord]:
    """Most urgent first: P(failure within horizon) descending, then median RUL ascending;
    records without an RUL estimate keep their order at the end."""

    def key(record: TwinRecord) -> tuple[int, float, float]:
        pof = record.status.probability_of_failure(horizon)
        if pof is None:
            return (1, 0.0, 0.0)
        return (0, -pof, record.status.rul if record.status.rul is not None else np.inf)

    return sorted(records, key=key)


class _Immediate:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): one atomic change that
    holds the write lock from its first read, so concurrent writers never interleave."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, kind: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")


def _lifecycle(value: Lifecycle | str) -> Lifecycle:
    try:
        return Lifecycle(value)
    except ValueError:
        names = ", ".join(s.value for s in Lifecycle)
        raise RegistryError(f"unknown lifecycle state {value!r}; expected one of {names}") from None


def _check_entry(entry: TwinEntry) -> None:
    for name in ("id", "asset_id", "asset_type", "site", "definition"):
        value = getattr(entry, name)
        if not isinstance(value, str) or not value.strip():
            raise RegistryError(f"twin {name} must be a non-empty string, got {value!r}")
    if not all(isinstance(t, str) and t for t in entry.tags):
        raise RegistryError(f"twin tags must be non-empty strings, got {entry.tags!r}")


def _metadata_json(definition: StoredDefinition) -> str:
    try:
        return json.dumps(definition.metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"a stored definition's metadata must be JSON values (finite numbers), got "
            f"{definition.metadata!r}: {exc}"
        ) from None


def _rul_quantiles(rul: object) -> list[tuple[float, float]]:
    """The distribution's finite quantiles (upper ones are infinite when the asset may never
    fail that surely; P(failure within H) then holds at the last finite one)."""
    try:
        values = [float(rul.quantile(float(q))) for q in _QUANTILES]  # type: ignore[attr-defined]
    except AttributeError:
        raise RegistryError(
            "rul must be a remaining-life distribution with quantile(q) and interval(level) "
            f"(fmitwin.maintenance), got {type(rul).__name__}"
        ) from None
    if any(np.isnan(values)):
        raise RegistryError(f"the RUL distribution has NaN quantiles: {values}")
    return [
        (float(q), v)
        for q, v in zip(_QUANTILES, np.maximum.accumulate(values), strict=True)
        if np.isfinite(v)
    ]
