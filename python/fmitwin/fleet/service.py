"""The fleet service: a REST API over the registry and the running twins, and Prometheus
metrics, as one ASGI app (FastAPI; its OpenAPI page at ``/docs``).

Every endpoint runs on the event loop of the twins (``async``), so the registry and the live
twins are read and changed from one thread. Reads are open; every write (``POST``) needs
``Authorization: Bearer <token>``. Without a configured token, writes are refused: the service
is read-only until one is set. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from fmitwin.fleet.ingest import Ingest
from fmitwin.fleet.registry import (
    Lifecycle,
    Registry,
    RegistryError,
    TwinEntry,
    TwinRecord,
    rank_by_urgency,
)
from fmitwin.fleet.runner import FleetRunner, TwinSnapshot, stored_definition

__all__ = [
    "NewMaintenance",
    "NewTwin",
    "check_bind_address",
    "create_app",
    "maintenance_advice",
    "snapshot_json",
    "twin_summary",
]

log = logging.getLogger("fmitwin.fleet")

# P(failure within the horizon) from which maintenance is advised, most urgent first.
_ADVICE = (
    (0.5, "act now: failure within the horizon is more likely than not"),
    (0.1, "schedule maintenance within the horizon"),
)


class NewMaintenance(BaseModel):
    """A registered twin's prognosis, as ``[templates.<name>.maintenance]`` of a fleet file."""

    indicator: str = Field(min_length=1, description="the estimated state or parameter")
    failure_threshold: float
    time_unit: float = Field(3600.0, gt=0)
    noise: float = Field(1.0, gt=0)
    max_sigma: float | None = Field(None, gt=0)


class NewTwin(BaseModel):
    """``POST /api/v1/twins``: a twin to register from a twin file on the service's machine."""

    id: str = Field(min_length=1, description="the twin's id, unique in the registry")
    twin: str = Field(min_length=1, description="path of the twin TOML file (on the server)")
    asset_type: str = Field(min_length=1)
    site: str = Field(min_length=1)
    asset_id: str | None = Field(None, description="the asset's id (default: the twin's id)")
    tags: list[str] = []
    maintenance: NewMaintenance | None = Field(
        None, description="how its remaining life is estimated (as a fleet template's)"
    )
    start: bool = Field(False, description="start the twin once registered")


def check_bind_address(host: str, *, allow_remote: bool) -> None:
    """Refuse a non-loopback bind unless ``allow_remote``; warn naming the exposure if so."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return
    if not allow_remote:
        raise ValueError(
            f"--host {host} would expose the fleet API beyond this machine; bind 127.0.0.1, "
            "or pass --allow-remote (and set a token) to serve other hosts"
        )
    log.warning("the fleet API listens on %s: reachable from other hosts on that network", host)


def create_app(
    registry: Registry,
    runner: FleetRunner | None = None,
    *,
    token: str | None = None,
    horizon: float = 100.0,
    ingest: Ingest | None = None,
) -> FastAPI:
    """The app. ``horizon``: default horizon of "probability of failure within". ``ingest``:
    the store of records forwarded by edge twins; each twin's ``edge`` link (backlog, last
    contact, :meth:`Ingest.link`) is then served with it, and ``GET /api/v1/edge`` lists them."""
    app = FastAPI(
        title="fmitwin fleet",
        summary="Registry, lifecycle and live condition of a fleet of digital twins.",
        version="1",
    )

    def authorised(request: Request) -> None:
        if token is None:
            raise HTTPException(403, "writes are disabled: start the service with a token")
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
            raise HTTPException(
                401,
                "a write needs 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def record(twin_id: str) -> TwinRecord:
        try:
            return registry.get(twin_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/v1/twins")
    async def list_twins(
        site: str | None = None,
        asset_type: Annotated[str | None, Query(alias="type")] = None,
        tag: str | None = None,
        lifecycle: Annotated[list[Lifecycle] | None, Query()] = None,
        rul_below: float | None = None,
        failure_above: float | None = None,
        horizon: Annotated[float, Query(gt=0)] = horizon,
    ) -> list[dict[str, Any]]:
        """Twins matching every filter, most urgent first (P(failure within horizon))."""
        chosen = registry.query(
            site=site,
            asset_type=asset_type,
            tag=tag,
            lifecycle=lifecycle,
            rul_below=rul_below,
            failure_within=None if failure_above is None else (horizon, failure_above),
        )
        ranked = rank_by_urgency(chosen, horizon)
        return [with_edge(twin_summary(r, horizon)) for r in ranked]

    def with_edge(summary: dict[str, Any]) -> dict[str, Any]:
        if ingest is not None:
            summary["edge"] = ingest.link(summary["id"])
        return summary

    @app.get("/api/v1/edge")
    async def edge_links() -> dict[str, dict[str, Any]]:
        """Every twin that forwarded records to this service's ingest, registered or not: its
        backlog and drops (as its latest health reported them), bytes sent, last contact."""
        if ingest is None:
            raise HTTPException(409, "this service runs no ingest; add [ingest] to the fleet file")
        return ingest.links()

    @app.get("/api/v1/twins/{twin_id}")
    async def get_twin(twin_id: str) -> dict[str, Any]:
        """The twin's entry and condition; with its live estimate when it runs."""
        out = with_edge(twin_summary(record(twin_id), horizon))
        snap = runner.snapshot(twin_id) if runner is not None else None
        out["running"] = snap is not None
        if snap is not None:
            out.update(snapshot_json(snap))
        if runner is not None:
            failures, error = runner.failures(twin_id)
            out.update(failures=failures, last_error=error)
        return out

    @app.get("/api/v1/twins/{twin_id}/events")
    async def events(twin_id: str) -> list[dict[str, Any]]:
        """Lifecycle transitions, oldest first."""
        record(twin_id)
        return [
            {
                "at": m.at,
                "from": m.source and m.source.value,
                "to": m.target.value,
                "reason": m.reason,
            }
            for m in registry.transitions(twin_id)
        ]

    @app.get("/api/v1/twins/{twin_id}/aas")
    async def aas(twin_id: str, format: str = "json") -> Response:
        """The twin as an Asset Administration Shell: AAS JSON, or ``format=aasx`` for the
        AASX package with the FMU inside."""
        from fmitwin.fleet.aas import build_aas
        from fmitwin.live.twin import resolve_fmu

        current = record(twin_id)
        if runner is None or twin_id not in runner.configs:
            raise HTTPException(409, f"this service has no twin definition for {twin_id!r}")
        if format not in ("json", "aasx"):
            raise HTTPException(422, f"format={format!r}: expected json or aasx")
        twin = runner.configs[twin_id]
        export = build_aas(
            twin,
            resolve_fmu(twin) if twin.model.process == "fmu" else None,
            entry=current.entry,
            status=current.status,
            lifecycle=current.lifecycle.value,
            snapshot=runner.snapshot(twin_id),
            horizon=horizon,
        )
        if format == "json":
            return Response(export.json(), media_type="application/json")
        with tempfile.TemporaryDirectory() as folder:
            content = export.write_aasx(Path(folder) / f"{twin_id}.aasx").read_bytes()
        return Response(
            content,
            media_type="application/asset-administration-shell-package",
            headers={"Content-Disposition": f'attachment; filename="{twin_id}.aasx"'},
        )

    def move(twin_id: str, target: Lifecycle, reason: str) -> dict[str, Any]:
        record(twin_id)
        try:
            registry.transition(twin_id, target, reason)
        except RegistryError as exc:
            raise HTTPException(409, str(exc)) from None
        return twin_summary(registry.get(twin_id), horizon)

    @app.post("/api/v1/twins/{twin_id}/start", dependencies=[Depends(authorised)])
    async def start(twin_id: str) -> dict[str, Any]:
        record(twin_id)
        if runner is None:
            raise HTTPException(409, "this service runs no twins (registry only)")
        try:
            runner.start(twin_id, reason="started through the API")
        except (KeyError, RegistryError) as exc:
            raise HTTPException(409, str(exc)) from None
        return twin_summary(registry.get(twin_id), horizon)

    @app.post("/api/v1/twins/{twin_id}/stop", dependencies=[Depends(authorised)])
    async def stop(twin_id: str) -> dict[str, Any]:
        record(twin_id)
        if runner is not None and runner.snapshot(twin_id) is not None:
            await runner.stop(twin_id, reason="stopped through the API")
            return twin_summary(registry.get(twin_id), horizon)
        return move(twin_id, Lifecycle.STOPPED, "stopped through the API")

    @app.post("/api/v1/twins/{twin_id}/retire", dependencies=[Depends(authorised)])
    async def retire(twin_id: str) -> dict[str, Any]:
        return move(twin_id, Lifecycle.RETIRED, "retired through the API")

    @app.post("/api/v1/twins", status_code=201, dependencies=[Depends(authorised)])
    async def register(new: NewTwin) -> dict[str, Any]:
        """Register a twin from a twin file, validated as ``fmitwin run`` validates it; it
        starts ``registered`` (or is started at once with ``start: true``). The registry keeps
        the file's text and this registration, so a restarted service runs the twin again."""
        from fmitwin.live.config import ConfigError, load_config, parse_config

        path = Path(new.twin).expanduser().resolve()
        try:
            load_config(path)  # its errors for an unreadable or non-UTF-8 file
            text = path.read_text(encoding="utf-8")
            twin = parse_config(text, path)  # what is stored is what runs
        except ConfigError as exc:
            raise HTTPException(422, f"{exc}; fix the twin file and post again") from None
        except OSError as exc:
            raise HTTPException(422, f"cannot read the twin file {path}: {exc}") from None
        prognosis = twin.maintenance  # the twin file's [maintenance], unless the request has one
        if new.maintenance is not None:
            from fmitwin.maintenance.online import Prognosis

            m = new.maintenance
            estimated = twin.filter.estimated(twin.model)
            if m.indicator not in estimated:
                raise HTTPException(
                    422,
                    f"maintenance.indicator {m.indicator!r} is not estimated by the twin; it "
                    f"estimates: {', '.join(estimated)}",
                )
            prognosis = Prognosis(
                m.indicator,
                m.failure_threshold,
                m.time_unit,
                m.noise,
                math.inf if m.max_sigma is None else m.max_sigma,
            )
        entry = TwinEntry(
            id=new.id,
            asset_id=new.asset_id or new.id,
            asset_type=new.asset_type,
            site=new.site,
            definition=str(path),
            tags=tuple(new.tags),
        )
        try:
            registry.get(new.id)
        except RegistryError:
            pass
        else:
            raise HTTPException(409, f"twin id {new.id!r} is already registered; choose another id")
        try:
            registry.register(
                entry,
                reason="registered through the API",
                definition=stored_definition(str(path), text, prognosis),
            )
        except RegistryError as exc:
            raise HTTPException(422, str(exc)) from None
        if runner is not None:
            runner.add(new.id, twin, prognosis)
            if new.start:
                runner.start(new.id, reason="started through the API")
        return twin_summary(registry.get(new.id), horizon)

    @app.get("/api/v1/twins/{twin_id}/history")
    async def history(
        twin_id: str,
        start: float | None = None,
        end: float | None = None,
        variables: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """The twin's recorded estimates with sigma, ``start <= t <= end`` (the twin's time),
        oldest first, ``limit`` from ``offset``; ``next_offset`` is null on the last page."""
        from fmitwin.live.history import HistoryError
        from fmitwin.live.history import query as query_history

        record(twin_id)
        if runner is None or twin_id not in runner.configs:
            raise HTTPException(409, f"this service has no twin definition for {twin_id!r}")
        twin = runner.configs[twin_id]
        if twin.history.path is None:
            raise HTTPException(
                409,
                f"twin {twin_id!r} records no history; add [history] path = ... to its twin file",
            )
        if start is not None and end is not None and end < start:
            raise HTTPException(422, f"end={end:g} is before start={start:g}; swap them")
        names = twin.filter.estimated(twin.model)
        chosen = names if variables is None else variables
        unknown = [v for v in chosen if v not in names]
        if unknown:
            raise HTTPException(
                422, f"unknown variables {unknown}; twin {twin_id!r} estimates: {names}"
            )
        if not twin.history.path.is_file():
            raise HTTPException(404, f"twin {twin_id!r} has recorded nothing yet; start it")
        within = " WHERE t >= ? AND t <= ?"
        bounds = (-math.inf if start is None else start, math.inf if end is None else end)
        try:
            ((total,),) = query_history(
                twin.history.path, "SELECT count(*) FROM estimates" + within, bounds
            )
            page = query_history(
                twin.history.path,
                "SELECT t, health, x, sigma FROM estimates" + within + " ORDER BY rowid"
                " LIMIT ? OFFSET ?",
                (*bounds, limit, offset),
            )
        except HistoryError as exc:
            raise HTTPException(409, str(exc)) from None
        index = [names.index(v) for v in chosen]

        def pick(values: str) -> dict[str, float | None]:
            decoded = json.loads(values)
            return _finite_map({names[i]: decoded[i] for i in index})

        return {
            "twin": twin_id,
            "variables": chosen,
            "total": total,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
            "estimates": [
                {"t": t, "health": health, "x": pick(x), "sigma": pick(sigma)}
                for t, health, x, sigma in page
            ],
        }

    @app.get("/api/v1/twins/{twin_id}/maintenance")
    async def maintenance(
        twin_id: str, horizon: Annotated[float, Query(gt=0)] = horizon
    ) -> dict[str, Any]:
        """Health, RUL with its 90 % interval and distribution, probability of failure within
        ``horizon``, rank in the fleet by urgency, and the recommended action."""
        current = record(twin_id)
        active = [r for r in registry.query() if r.lifecycle is not Lifecycle.RETIRED]
        ranked = [r.id for r in rank_by_urgency(active, horizon)]
        out = twin_summary(current, horizon)
        rank = ranked.index(twin_id) + 1 if twin_id in ranked else None
        out.update(
            urgency_rank=rank,
            fleet_size=len(ranked),
            action=maintenance_advice(out["failure_probability"], current.lifecycle),
        )
        return out

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text format: condition of every twin, and its sensors when it runs."""
        return PlainTextResponse(
            generate_latest(_collect(registry, runner, horizon)), media_type=CONTENT_TYPE_LATEST
        )

    from fmitwin.fleet.dashboard import mount_dashboard

    mount_dashboard(app, registry, runner, horizon, edge=with_edge)
    return app


def twin_summary(r: TwinRecord, horizon: float) -> dict[str, Any]:
    """A twin's registry entry and condition, as the API serves it."""
    s = r.status
    return {
        "id": r.id,
        "asset_id": r.entry.asset_id,
        "asset_type": r.entry.asset_type,
        "site": r.entry.site,
        "tags": list(r.entry.tags),
        "lifecycle": r.lifecycle.value,
        "health": s.health,
        "rul": _finite(s.rul),
        "rul_low": _finite(s.rul_low),
        "rul_high": _finite(s.rul_high),
        "rul_quantiles": [list(q) for q in s.rul_quantiles],
        "failure_probability": s.probability_of_failure(horizon),
        "horizon": horizon,
        "updated_at": s.updated_at,
    }


def maintenance_advice(failure_probability: float | None, lifecycle: Lifecycle) -> str:
    """The recommended action for a twin's probability of failure within the horizon."""
    if lifecycle is Lifecycle.RETIRED:
        return "none: the twin is retired"
    if failure_probability is None:
        return "none yet: no remaining-life estimate (the twin needs a maintenance indicator)"
    for threshold, advice in _ADVICE:
        if failure_probability >= threshold:
            return advice
    return "no action: failure within the horizon is unlikely"


def snapshot_json(snap: TwinSnapshot) -> dict[str, Any]:
    """A running twin's snapshot, as the API serves it (non-finite numbers as null)."""
    return {
        "t": snap.t,
        "health": snap.health,
        "states": _finite_map(snap.states),
        "sigma": _finite_map(snap.sigma),
        "sensors": {k: _finite_map(v) for k, v in snap.sensors.items()},
        "measured": _finite_map(snap.measured),
        "measures": snap.measures,
        "counts": {k: {str(f): n for f, n in v.items()} for k, v in snap.counts.items()},
        "latency": snap.latency,
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _finite_map(values: dict[str, float]) -> dict[str, float | None]:
    return {k: _finite(v) for k, v in values.items()}


def _collect(registry: Registry, runner: FleetRunner | None, horizon: float) -> CollectorRegistry:
    """A fresh Prometheus registry holding the fleet's current values."""
    out = CollectorRegistry()
    labels = ["twin", "site", "asset_type"]
    lifecycle = Gauge(
        "fmitwin_twin_lifecycle",
        "1 for the twin's lifecycle state",
        [*labels, "state"],
        registry=out,
    )
    health = Gauge(
        "fmitwin_twin_health", "1 for the twin's health", [*labels, "health"], registry=out
    )
    rul = Gauge("fmitwin_twin_rul", "median remaining useful life", labels, registry=out)
    rul_low = Gauge(
        "fmitwin_twin_rul_low", "lower end of the 90 % RUL interval", labels, registry=out
    )
    rul_high = Gauge(
        "fmitwin_twin_rul_high", "upper end of the 90 % RUL interval", labels, registry=out
    )
    pof = Gauge(
        "fmitwin_twin_failure_probability",
        f"probability of failure within {horizon:g}",
        labels,
        registry=out,
    )
    readings = Gauge(
        "fmitwin_sensor_readings", "readings received", [*labels, "sensor"], registry=out
    )
    rejected = Gauge(
        "fmitwin_sensor_rejections",
        "readings rejected, by kind",
        [*labels, "sensor", "kind"],
        registry=out,
    )
    nis = Gauge(
        "fmitwin_sensor_nis",
        "last normalised innovation squared",
        [*labels, "sensor"],
        registry=out,
    )
    latency = Gauge(
        "fmitwin_twin_latency_seconds", "source timestamp to applied estimate", labels, registry=out
    )
    for r in registry.query():
        key = (r.id, r.entry.site, r.entry.asset_type)
        for state in Lifecycle:
            lifecycle.labels(*key, state.value).set(float(r.lifecycle is state))
        if r.status.health is not None:
            health.labels(*key, r.status.health).set(1.0)
        for gauge, value in (
            (rul, r.status.rul),
            (rul_low, r.status.rul_low),
            (rul_high, r.status.rul_high),
            (pof, r.status.probability_of_failure(horizon)),
        ):
            if value is not None:
                gauge.labels(*key).set(value)
        snap = runner.snapshot(r.id) if runner is not None else None
        if snap is None:
            continue
        if snap.latency is not None:
            latency.labels(*key).set(snap.latency)
        for sensor, counts in snap.counts.items():
            readings.labels(*key, sensor).set(counts.get("received", 0))
            for kind, count in counts.items():
                if kind not in ("received", "accepted"):
                    rejected.labels(*key, sensor, str(kind)).set(count)
        for sensor, values in snap.sensors.items():
            if math.isfinite(values["nis"]):
                nis.labels(*key, sensor).set(values["nis"])
    return out
