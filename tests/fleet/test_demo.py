"""``fmitwin serve --demo``: simulated plants on loopback OPC UA, their twins, the API."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
from fmitwin.fleet import load_fleet
from fmitwin.fleet.demo import UA_LIMIT, WEAR_LIMIT, write_demo_fleet
from support.fleet_service import wait_for
from support.live_servers import free_port, wait_for_port


def test_the_demo_fleet_file_is_valid_and_varied(tmp_path):
    path, plants = write_demo_fleet(tmp_path, count=20)
    fleet = load_fleet(path)
    assert len(fleet.assets) == 20
    assert {a.entry.site for a in fleet.assets} == {"north", "south", "east"}
    pumps = [p for p in plants if p.kind == "pump"]
    tanks = [p for p in plants if p.kind == "tank"]
    assert len(pumps) == 15 and len(tanks) == 5
    for varied in ("speed", "valve", "wear", "rated_life"):  # loads and wear
        assert len({p.start_values[varied] for p in pumps}) > 1, varied
    assert len({p.start_values["P_heater"] for p in tanks}) > 1
    assert len({p.ua_rate for p in tanks}) == 5
    assert sum(1 for a in fleet.assets if "sensor-fault" in a.entry.tags) >= 3
    assert len({a.twin.opcua.endpoint for a in fleet.assets}) == 20
    kinds = {p.asset: p.kind for p in plants}
    for asset in fleet.assets:
        indicator, limit = (
            ("wear", WEAR_LIMIT) if kinds[asset.entry.id] == "pump" else ("UA", UA_LIMIT)
        )
        assert asset.prognosis.indicator == indicator
        assert asset.prognosis.failure_threshold == limit
    assert {a.entry.asset_type for a in fleet.assets} == {"centrifugal_pump", "heated_tank"}


def test_serve_demo_runs_plants_and_twins(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fmitwin",
            "serve",
            "--demo",
            "--demo-assets",
            "4",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=60.0)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            twins = wait_for(
                lambda: (
                    (d := client.get("/api/v1/twins").json())
                    # P-03's vibration sensor is faulty (noisy): its twin may go degraded
                    and all(t["lifecycle"] in ("running", "degraded") for t in d)
                    and d
                ),
                60,
                "the four demo twins to run",
            )
            assert sorted(t["id"] for t in twins) == ["P-01", "P-02", "P-03", "TK-01"]
            tank = wait_for(
                lambda: (d := client.get("/api/v1/twins/TK-01").json()).get("states") and d,
                20,
                "an estimate of TK-01",
            )
            assert 250.0 < tank["states"]["T"] < 450.0 and "UA" in tank["states"]
            pump = wait_for(
                lambda: (d := client.get("/api/v1/twins/P-01").json()).get("states") and d,
                20,
                "an estimate of P-01",
            )
            assert 0.0 < pump["states"]["wear"] < 1.0 and 250.0 < pump["states"]["T_bearing"]
            assert client.get("/").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "dashboard on http://127.0.0.1:" in output
    assert "Traceback" not in output
