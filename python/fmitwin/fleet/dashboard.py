"""The fleet dashboard: an overview page and a page per twin, updated live by server-sent
events; every script and style is served by the package (Plotly.js from the plotly wheel), so
it works with no Internet access."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from scipy.stats import chi2

from fmitwin.fleet.registry import Lifecycle, Registry, RegistryError, rank_by_urgency
from fmitwin.fleet.runner import FleetRunner

__all__ = ["mount_dashboard"]

_STATIC = {
    "dashboard.css": "text/css",
    "overview.js": "text/javascript",
    "twin.js": "text/javascript",
}
TRACE_POINTS = 300  # points of the per-twin plot


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _page(name: str) -> str:
    return resources.files("fmitwin.fleet").joinpath("static", name).read_text(encoding="utf-8")


def mount_dashboard(
    app: FastAPI,
    registry: Registry,
    runner: FleetRunner | None,
    horizon: float,
    *,
    interval: float = 1.0,
    edge: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Add the pages, their assets and the event streams to ``app``; ``edge`` adds a twin
    summary's edge link (backlog, last contact) when the service runs an ingest."""
    from fmitwin.fleet.service import snapshot_json, twin_summary

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def overview() -> HTMLResponse:
        return HTMLResponse(_page("overview.html"))

    @app.get("/twins/{twin_id}", response_class=HTMLResponse, include_in_schema=False)
    async def twin_page(twin_id: str) -> HTMLResponse:
        try:
            registry.get(twin_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        return HTMLResponse(_page("twin.html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name == "plotly.min.js":
            return FileResponse(_plotly_js(), media_type="text/javascript")
        if name not in _STATIC:
            raise HTTPException(404, f"no static file {name!r}")
        path = resources.files("fmitwin.fleet").joinpath("static", name)
        return FileResponse(str(path), media_type=_STATIC[name])

    def fleet_view() -> dict[str, Any]:
        records = [r for r in registry.query() if r.lifecycle is not Lifecycle.RETIRED]
        twins = [twin_summary(r, horizon) for r in rank_by_urgency(records, horizon)]
        if edge is not None:
            twins = [edge(twin) for twin in twins]
        if runner is not None:
            for twin in twins:
                twin["failures"], twin["last_error"] = runner.failures(twin["id"])
                twin["running"] = runner.snapshot(twin["id"]) is not None
        return {"horizon": horizon, "twins": twins}

    def twin_view(twin_id: str) -> dict[str, Any]:
        record = registry.get(twin_id)
        view: dict[str, Any] = {"twin": twin_summary(record, horizon), "running": False}
        if runner is not None:
            view["failures"], view["last_error"] = runner.failures(twin_id)
        view["transitions"] = [
            {
                "at": m.at,
                "from": m.source and m.source.value,
                "to": m.target.value,
                "reason": m.reason,
            }
            for m in registry.transitions(twin_id)
        ]
        if runner is None:
            return view
        trace = runner.trace(twin_id)[-TRACE_POINTS:]
        view["trace"] = [snapshot_json(s) for s in trace]
        snap = runner.snapshot(twin_id)
        view["running"] = snap is not None
        if snap is not None:
            view["events"] = [
                {"t": t, "kind": kind, "details": _jsonable(details)}
                for t, kind, details in snap.events
            ]
            gate = runner.fleet.asset(twin_id).twin.filter.gate_probability
            view["nis_gate"] = float(chi2.ppf(gate, 1))
        return view

    async def stream(view) -> AsyncIterator[str]:
        while True:
            yield f"data: {json.dumps(view(), allow_nan=False)}\n\n"
            await asyncio.sleep(interval)

    @app.get("/api/v1/stream", include_in_schema=False)
    async def fleet_stream() -> StreamingResponse:
        """Server-sent events: the ranked fleet view, every ``interval`` seconds."""
        return StreamingResponse(stream(fleet_view), media_type="text/event-stream")

    @app.get("/api/v1/twins/{twin_id}/stream", include_in_schema=False)
    async def twin_stream(twin_id: str) -> StreamingResponse:
        """Server-sent events: the twin's condition, trace and events."""
        try:
            registry.get(twin_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        return StreamingResponse(stream(lambda: twin_view(twin_id)), media_type="text/event-stream")


def _jsonable(value: Any) -> Any:
    """Event details as JSON carries them: non-finite numbers as null, other objects as text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)
