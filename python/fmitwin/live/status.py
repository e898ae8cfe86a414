"""The live one-screen status of a running twin (rich): links, sensors, states, filter health."""

from __future__ import annotations

import asyncio
import math
import time

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fmitwin.live.twin import Twin

_HEALTH_STYLE = {
    "ok": "green",
    "degraded": "yellow",
    "overloaded": "yellow",
    "diverged": "red",
    "starting": "cyan",
    "stale": "bold red",
    "model_error": "bold red",
}


def _fmt(value: float, spec: str = ".3g") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _forward_text(twin: Twin, now: float) -> str:
    """The edge link to the centre: backlog, drops, bytes sent, time since the last contact."""
    fwd = twin.forward_status()
    if fwd is None:
        return ""
    contact = fwd["last_contact"]
    ago = "never" if contact is None else f"{now - contact:.1f} s ago"
    return (
        f"\nforward backlog {fwd['backlog']} dropped {fwd['dropped']}"
        f" sent {fwd['bytes_sent'] / 1e3:.1f} kB  last contact {ago}"
    )


def render(twin: Twin) -> Group:
    """One screen: header, links, sensors, states, recent events."""
    now = twin.clock()
    sync, gw, pub = twin.sync, twin.gateway, twin.publisher
    health = pub.published_health or sync.health()  # what the twin's servers say
    lat = {k: v * 1e3 for k, v in pub.latency_stats().items() if k != "count"}
    header = Text.assemble(
        (f"twin {twin.config.name}  ", "bold"),
        (health, _HEALTH_STYLE.get(health, "")),
        f"  updates {sync.counters.applied}  divergences {sync.counters.divergences}",
        f"  latency p50 {_fmt(lat['median'], '.1f')} ms p99 {_fmt(lat['p99'], '.1f')} ms",
        f"  buffer {len(gw.buffer)}/{gw.buffer.capacity} dropped {gw.buffer.dropped}",
        f" late {sum(sync.counters.late.values())}",
        _forward_text(twin, time.time()),
    )
    links = Table("link", "state", "reconnects", "outages", "last error", box=None)
    for link in (twin.opcua, twin.mqtt, twin.replay, twin.publish_link, twin.forwarder):
        if link is not None:
            st = link.status
            state = Text("up", "green") if st.connected else Text("DOWN", "bold red")
            outages = str(len(st.outages))
            links.add_row(st.name, state, str(st.reconnects), outages, st.last_error)
    sensors = Table(
        "sensor", "source", "rate/s", "age s", "accepted", "rejected", "residual", "NIS", box=None
    )
    for name, cfg in twin.config.sensors.items():
        st = gw.stats[name]
        age = now - st.last_source_ts if st.last_source_ts is not None else math.nan
        m = sync.monitors.get(name)
        age_text = Text(_fmt(age, ".2f"), "red" if st.stale else "")
        sensors.add_row(
            name,
            cfg.source,
            _fmt(st.rate, ".1f"),
            age_text,
            str(st.accepted),
            str(st.rejected),
            _fmt(m.last_residual) if m else "input",
            _fmt(m.last_nis) if m else "",
        )
    states = Table("state", "estimate", "±σ", box=None)
    est = sync.estimate
    for i, name in enumerate(sync.states):
        if est is None:
            states.add_row(name, "-", "-")
        else:
            states.add_row(name, _fmt(est.x[i], ".5g"), _fmt(est.sigma[i], ".3g"))
    events = Text(
        "\n".join(
            f"{time.strftime('%H:%M:%S', time.localtime(t))} {kind} {details}"[:160]
            for t, kind, details in list(twin.events)[-5:]
        )
    )
    return Group(header, links, sensors, states, events)


async def show(twin: Twin, refresh: float = 0.25) -> None:
    """Keep the status on screen until cancelled."""
    with Live(render(twin), refresh_per_second=1.0 / refresh, transient=False) as live:
        while True:
            await asyncio.sleep(refresh)
            live.update(render(twin))
