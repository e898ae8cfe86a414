"""Many twins in one process: each a supervised task of one event loop, its lifecycle and
condition kept in the registry.

Call order: ``FleetRunner(fleet, registry)``, then ``await runner.run(stop)`` (returns when
``stop`` is set, every twin stopped); while it runs, ``start(id)`` / ``stop(id, reason)`` from
the same loop. A twin that raises is stopped, recorded with the error, and restarted after a
backoff that doubles up to ``max_backoff``; it never stops the others.

The runner's twins are the fleet file's and every twin not retired whose definition the
registry keeps (registered through the API: :func:`stored_definition`); an id that both name
is the fleet file's (the registry drops the stored definition when the fleet file declares it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fmitwin.fleet.config import FleetConfig
from fmitwin.fleet.registry import Lifecycle, Registry, StoredDefinition

if TYPE_CHECKING:
    from fmitwin.maintenance.online import Prognosis, RemainingLife

__all__ = ["FleetRunner", "TwinSnapshot", "stored_definition"]

log = logging.getLogger("fmitwin.fleet")

TRACE_LENGTH = 600  # snapshots kept per twin for the dashboard (10 min at the default 1 s)


@dataclass(frozen=True)
class TwinSnapshot:
    """What a running twin knows now: its estimate and the filter's view of each sensor."""

    health: str
    t: float | None
    states: dict[str, float]
    sigma: dict[str, float]
    sensors: dict[str, dict[str, float]]  # name -> residual, nis, sigma
    counts: dict[str, dict[str, int]]  # name -> received, accepted, rejections by kind
    latency: float | None  # s from the source timestamp to the applied estimate
    measured: dict[str, float]  # sensor -> its last usable reading
    measures: dict[str, str]  # sensor -> the model variable it measures
    events: list[tuple[float, str, dict]]  # the twin's recent events (time, kind, details)


def snapshot(twin: Any) -> TwinSnapshot:
    """The snapshot of a live ``fmitwin.live.twin.Twin``."""
    sync = twin.sync
    estimate = sync.estimate
    states = list(sync.states)
    sensors = {
        name: {"residual": m.last_residual, "nis": m.last_nis, "sigma": m.last_sigma}
        for name, m in sync.monitors.items()
    }
    stats = twin.gateway.stats
    common = {
        "sensors": sensors,
        "counts": twin.gateway.counts(),
        "measured": {name: float(stats[name].last_value) for name in sync.monitors},
        "measures": {name: twin.config.sensors[name].variable for name in sync.monitors},
        "events": list(twin.events)[-20:],
    }
    if estimate is None:
        return TwinSnapshot(sync.health(), None, {}, {}, latency=None, **common)
    return TwinSnapshot(
        health=sync.health(),
        t=float(estimate.t),
        states=dict(zip(states, map(float, estimate.x), strict=True)),
        sigma=dict(zip(states, map(float, estimate.sigma), strict=True)),
        latency=float(estimate.applied_at - estimate.source_ts)
        if math.isfinite(estimate.source_ts)
        else None,
        **common,
    )


def stored_definition(source: str, text: str, prognosis: Prognosis | None) -> StoredDefinition:
    """What the registry keeps of a twin registered without a fleet file: its twin file's
    ``text`` read from ``source``, and its prognosis."""
    metadata: dict[str, object] = {"prognosis": None}
    if prognosis is not None:
        fields = dataclasses.asdict(prognosis)
        if not math.isfinite(fields["max_sigma"]):
            fields["max_sigma"] = None
        metadata["prognosis"] = fields
    return StoredDefinition(source, text, metadata)


def _restored(stored: StoredDefinition) -> tuple[Any, Prognosis | None]:
    """The validated twin and prognosis of a stored definition (ConfigError if it no longer
    loads: a file it names is gone, say)."""
    from fmitwin.live.config import parse_config
    from fmitwin.maintenance.online import Prognosis

    fields = stored.metadata.get("prognosis")
    prognosis = None
    if isinstance(fields, dict):
        prognosis = Prognosis(
            **{**fields, "max_sigma": fields.get("max_sigma") or math.inf}  # type: ignore[arg-type]
        )
    return parse_config(stored.text, stored.source), prognosis


@dataclass
class _Supervised:
    task: asyncio.Task | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    twin: Any = None
    failures: int = 0
    last_error: str | None = None
    trace: deque = field(default_factory=lambda: deque(maxlen=TRACE_LENGTH))
    remaining_life: RemainingLife | None = None


class FleetRunner:
    """Runs a fleet file's twins, supervised, on the current event loop."""

    def __init__(
        self,
        fleet: FleetConfig,
        registry: Registry,
        *,
        status_interval: float = 1.0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        twin_factory: Callable[[Any], Any] | None = None,
    ) -> None:
        """``twin_factory(config)`` builds a twin (default ``fmitwin.live.twin.Twin``)."""
        self.fleet = fleet
        self.registry = registry
        self.status_interval = status_interval
        self.backoff, self.max_backoff = backoff, max_backoff
        if twin_factory is None:
            from fmitwin.live.twin import Twin

            twin_factory = Twin
        self._factory = twin_factory
        self._twins: dict[str, _Supervised] = {}
        self.configs = {a.entry.id: a.twin for a in fleet.assets}
        self._prognoses = {a.entry.id: a.prognosis for a in fleet.assets}
        self._unloadable: dict[str, str] = {}  # stored definitions that no longer load
        self._restore()

    # --- control ------------------------------------------------------------------------

    def add(self, twin_id: str, twin: Any, prognosis: Prognosis | None = None) -> None:
        """Run ``twin`` (a validated twin definition) as ``twin_id`` too, e.g. one registered
        through the API; start it with :meth:`start`."""
        if twin_id in self.configs:
            raise KeyError(f"{twin_id!r} already has a twin definition in this service")
        self.configs[twin_id] = twin
        self._prognoses[twin_id] = prognosis

    def _restore(self) -> None:
        """Add the twins the registry keeps a definition of (not retired, not the fleet's)."""
        from fmitwin.live.config import ConfigError

        for record in self.registry.query():
            if record.lifecycle is Lifecycle.RETIRED or record.id in self.configs:
                continue
            stored = self.registry.definition(record.id)
            if stored is None:
                continue  # declared by a fleet file: that file defines it
            try:
                twin, prognosis = _restored(stored)
            except ConfigError as exc:
                self._unloadable[record.id] = f"its stored definition no longer loads: {exc}"
                log.warning("twin %s is not run: %s", record.id, self._unloadable[record.id])
                continue
            self.add(record.id, twin, prognosis)

    async def run(self, stop: asyncio.Event, *, start: str = "active") -> None:
        """Run until ``stop`` is set. ``start``: "active" starts the twins whose lifecycle
        says they should run (commissioning, running, degraded), "all" every twin not retired,
        "none" nothing (start them with :meth:`start`)."""
        if start not in ("active", "all", "none"):
            raise ValueError(f"start={start!r}: expected 'active', 'all' or 'none'")
        for twin_id in self.configs:
            state = self.registry.get(twin_id).lifecycle
            active = state in (Lifecycle.COMMISSIONING, Lifecycle.RUNNING, Lifecycle.DEGRADED)
            if (start == "active" and active) or (start == "all" and state != Lifecycle.RETIRED):
                self.start(twin_id, reason="fleet started")
        await stop.wait()
        await asyncio.gather(
            *(self.stop(twin_id, "fleet stopped") for twin_id in list(self._twins)),
            return_exceptions=True,
        )

    def start(self, twin_id: str, reason: str = "started") -> None:
        """Start (or restart) a twin's supervised task; a running one is left as it is."""
        if twin_id in self._unloadable:
            raise KeyError(f"{twin_id!r} cannot start: {self._unloadable[twin_id]}")
        if twin_id not in self.configs:
            raise KeyError(f"{twin_id!r} is not a twin of {self.fleet.file}")
        current = self._twins.get(twin_id)
        if current is not None and current.task is not None and not current.task.done():
            return
        prognosis, remaining_life = self._prognoses[twin_id], None
        if prognosis is not None:
            from fmitwin.maintenance.online import RemainingLife  # the package imports pandas

            remaining_life = RemainingLife(prognosis)
        supervised = _Supervised(remaining_life=remaining_life)
        self._twins[twin_id] = supervised
        self._enter(twin_id, Lifecycle.COMMISSIONING, reason)
        supervised.task = asyncio.get_running_loop().create_task(
            self._supervise(twin_id, supervised), name=f"twin {twin_id}"
        )

    async def stop(self, twin_id: str, reason: str = "stopped") -> None:
        """Stop a twin and wait for it; its lifecycle becomes ``stopped`` with ``reason``."""
        supervised = self._twins.get(twin_id)
        if supervised is None or supervised.task is None:
            return
        supervised.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await supervised.task
        self._enter(twin_id, Lifecycle.STOPPED, reason)

    # --- reading ------------------------------------------------------------------------

    def snapshot(self, twin_id: str) -> TwinSnapshot | None:
        """The running twin's snapshot; None when it is not running."""
        supervised = self._twins.get(twin_id)
        if supervised is None or supervised.twin is None or supervised.task is None:
            return None
        if supervised.task.done():
            return None
        return snapshot(supervised.twin)

    def trace(self, twin_id: str) -> list[TwinSnapshot]:
        """The twin's snapshots, one per status interval, oldest first (bounded)."""
        supervised = self._twins.get(twin_id)
        return [] if supervised is None else list(supervised.trace)

    def failures(self, twin_id: str) -> tuple[int, str | None]:
        """How often the twin failed since it was started, and its last error."""
        supervised = self._twins.get(twin_id)
        if supervised is None:
            return (0, self._unloadable.get(twin_id))
        return (supervised.failures, supervised.last_error)

    def running(self) -> list[str]:
        return [i for i in self._twins if self.snapshot(i) is not None]

    # --- supervision --------------------------------------------------------------------

    async def _supervise(self, twin_id: str, supervised: _Supervised) -> None:
        delay = self.backoff
        while not supervised.stop.is_set():
            started = time.monotonic()
            try:
                supervised.twin = self._factory(self.configs[twin_id])
                run = asyncio.create_task(supervised.twin.run(supervised.stop))
                while True:
                    done, _ = await asyncio.wait({run}, timeout=self.status_interval)
                    self._report(twin_id, supervised)
                    if done:
                        break
                run.result()
                if not supervised.stop.is_set():  # the twin ended by itself (replay over)
                    self._enter(twin_id, Lifecycle.STOPPED, "the twin's source ended")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any twin fault is isolated and reported
                supervised.failures += 1
                supervised.last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() - started > 10 * self.max_backoff:
                    delay = self.backoff  # it had run well for a while: start the backoff again
                log.warning(
                    "twin %s failed (%s); restart in %.1f s", twin_id, supervised.last_error, delay
                )
                self._enter(
                    twin_id,
                    Lifecycle.STOPPED,
                    f"failed: {supervised.last_error}; restart in {delay:g} s",
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(supervised.stop.wait(), timeout=delay)
                if supervised.stop.is_set():
                    return
                delay = min(2 * delay, self.max_backoff)
                self._enter(
                    twin_id, Lifecycle.COMMISSIONING, f"restart after failure {supervised.failures}"
                )

    def _report(self, twin_id: str, supervised: _Supervised) -> None:
        """Registry status from the twin's snapshot (kept in its trace); the first estimate
        makes it ``running``."""
        current = snapshot(supervised.twin)
        if current.t is not None:
            supervised.trace.append(current)
        health = current.health
        if health != "starting":
            if self.registry.get(twin_id).lifecycle is Lifecycle.COMMISSIONING:
                self._enter(twin_id, Lifecycle.RUNNING, "first estimate")
            rul = None
            if supervised.remaining_life is not None:
                rul = supervised.remaining_life.update(current.t, current.states, current.sigma)
            self.registry.update_status(twin_id, health=health, rul=rul)

    def _enter(self, twin_id: str, target: Lifecycle, reason: str) -> None:
        """Move to ``target`` unless already there (stop after a failure, say)."""
        current = self.registry.get(twin_id).lifecycle
        if current is target:
            return
        if target is Lifecycle.COMMISSIONING and current in (Lifecycle.RUNNING, Lifecycle.DEGRADED):
            # it was running when its process ended (killed, say): record the stop first
            self.registry.transition(twin_id, Lifecycle.STOPPED, "found running at start-up")
        elif current is Lifecycle.REGISTERED and target is Lifecycle.STOPPED:
            return
        self.registry.transition(twin_id, target, reason)
