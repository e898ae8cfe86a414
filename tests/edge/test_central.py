"""The central side: a fleet file's [ingest], the per-twin link the ingest keeps, and the real
``fmitwin serve`` storing what a real ``fmitwin run`` forwards, with the edge twin's backlog and
last contact in ``GET /api/v1/twins``, ``GET /api/v1/edge`` and the dashboard's stream."""

import asyncio
import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
from fmitwin.fleet import parse_fleet
from fmitwin.fleet.ingest import Ingest
from fmitwin.live.config import ConfigError
from support.fleet_service import wait_for
from support.live_servers import (
    Mosquitto,
    free_port,
    replay_twin,
    running_broker,
    wait_for_port,
)

FLEET = """\
[fleet]
name = "central"

[templates.edge]
twin = "edge.toml"
asset_type = "tank"

[[assets]]
template = "edge"
id = "EDGE-1"
site = "plant-a"

[ingest]
url = "{url}"
{extra}
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    yield from running_broker(tmp_path_factory.mktemp("edge-central"), Mosquitto)


def edge_file(url: str, csv: str = "readings.csv", speed: float = 1.0) -> str:
    return replay_twin(
        csv,
        name="EDGE-1",
        Q=0.1,
        speed=speed,
        value_range=(250.0, 1000.0),
        extra=f'[history]\npath = "edge.history.db"\n\n[forward]\nurl = "{url}"\n'
        "health_interval = 0.2\n",
    )


def test_ingest_section(tmp_path, monkeypatch):
    (tmp_path / "edge.toml").write_text(edge_file("mqtt://127.0.0.1:1883"))
    fleet = parse_fleet(
        FLEET.format(url="mqtts://central:8883", extra='prefix = "site/"'), tmp_path / "f.toml"
    )
    assert fleet.ingest.url == "mqtts://central:8883" and fleet.ingest.prefix == "site"
    assert fleet.ingest.store == tmp_path / "f.ingest.sqlite"
    assert fleet.ingest.client_id == "fmitwin-ingest-central"
    monkeypatch.setenv("INGEST_PW", "pw")
    for url, extra, key, message in [
        ("http://x", "", "ingest.url", "expected mqtt[s]://host[:port]"),
        ("mqtt://x", 'username = "c"\npassword_env = "INGEST_PW"', "ingest.url", "[ingest.tls]"),
        ("mqtt://x", "stor = 1", "ingest.stor", "unknown key"),
    ]:
        with pytest.raises(ConfigError) as info:
            parse_fleet(FLEET.format(url=url, extra=extra), tmp_path / "f.toml")
        assert info.value.key == key and message in info.value.message, str(info.value)
        assert str(info.value).startswith(f"{tmp_path / 'f.toml'}:{info.value.line}: [{key}]")


def record(twin: str, record_id: int, kind: str, body: dict) -> bytes:
    return json.dumps({"twin": twin, "id": record_id, "kind": kind, "body": body}).encode()


def test_link_reports_latest_health_and_contact(tmp_path):
    ingest = Ingest(tmp_path / "c.db", "mqtt://127.0.0.1:1")
    assert ingest.link("a") is None
    health = {"health": "ok", "at": 5.0, "forward": {"backlog": 7, "dropped": 1, "bytes_sent": 9}}
    assert ingest.store(record("a", 1, "estimate", {"t": 0.0}))
    assert ingest.store(record("a", 2, "health", health))
    first = ingest.link("a")
    assert not ingest.store(record("a", 2, "health", {**health, "forward": {"backlog": 99}}))
    link = ingest.link("a")
    assert (link["records"], link["last_id"], link["health"], link["backlog"]) == (2, 2, "ok", 7)
    assert (link["dropped"], link["bytes_sent"]) == (1, 9)
    assert link["last_contact"] >= first["last_contact"]  # a duplicate is contact too
    assert set(ingest.links()) == {"a"}
    ingest.close()


def test_serve_ingests_a_real_edge_run(broker, tmp_path):
    rows = [f"{i / 20:.2f},T,{300 + 0.01 * i:.2f}" for i in range(20 * 4)]
    (tmp_path / "readings.csv").write_text("ts,sensor,value\n" + "\n".join(rows) + "\n")
    (tmp_path / "edge.toml").write_text(edge_file(broker.url))
    (tmp_path / "fleet.toml").write_text(FLEET.format(url=broker.url, extra=""))
    ingest_cfg = parse_fleet((tmp_path / "fleet.toml").read_text(), tmp_path / "fleet.toml").ingest

    async def open_session() -> None:  # the centre's session exists before any edge sends
        ingest = Ingest.from_config(ingest_cfg)
        task = asyncio.create_task(ingest.run())
        await asyncio.wait_for(ingest.subscribed.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        ingest.close()

    asyncio.run(open_session())
    port = free_port()
    fmitwin = [sys.executable, "-m", "fmitwin"]
    serve = subprocess.Popen(
        [*fmitwin, "serve", "fleet.toml", "--port", str(port), "--start", "none"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=60.0)
        edge = subprocess.run(
            [*fmitwin, "run", "edge.toml", "--no-status"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert edge.returncode == 0, edge.stderr
        assert "forwarded: " in edge.stdout and "bytes sent" in edge.stdout
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            wait_for(
                lambda: (
                    (client.get("/api/v1/edge").json().get("EDGE-1") or {}).get("records", 0) > 40
                ),
                30,
                "the edge twin's records at the centre",
            )
            (twin,) = client.get("/api/v1/twins").json()
            edge_link = twin["edge"]
            assert edge_link["backlog"] is not None and edge_link["last_contact"] > 0
            assert edge_link["bytes_sent"] > 0 and edge_link["health"] is not None
            assert client.get("/api/v1/twins/EDGE-1").json()["edge"]["records"] > 40
            with client.stream("GET", "/api/v1/stream") as events:  # the dashboard's feed
                line = next(line for line in events.iter_lines() if line.startswith("data:"))
            (shown,) = json.loads(line[5:])["twins"]
            assert shown["edge"]["last_contact"] == pytest.approx(edge_link["last_contact"], abs=60)
    finally:
        serve.send_signal(signal.SIGINT)
        output = serve.communicate(timeout=30)[0]
    assert serve.returncode == 0, output
    assert "ingest of edge twins from" in output
    central = Ingest(tmp_path / "fleet.ingest.sqlite", broker.url)
    ids = [r[0] for r in central.records("EDGE-1")]
    assert ids == list(range(1, len(ids) + 1))  # once each, in order
    central.close()
    assert os.path.exists(tmp_path / "edge.history.db")
