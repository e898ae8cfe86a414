"""``fmitwin serve --demo``: simulated plants on loopback OPC UA, their twins, the API."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
from fmitwin.fleet import load_fleet
from fmitwin.fleet.demo import UA_LIMIT, write_demo_fleet
from support.fleet_service import wait_for
from support.live_servers import free_port, wait_for_port


def test_the_demo_fleet_file_is_valid_and_varied(tmp_path):
    path, plants = write_demo_fleet(tmp_path, count=20)
    fleet = load_fleet(path)
    assert len(fleet.assets) == 20
    assert {a.entry.site for a in fleet.assets} == {"north", "south", "east"}
    assert len({p.heater_power for p in plants}) > 1 and len({p.ua_rate for p in plants}) == 20
    assert sum(1 for a in fleet.assets if "sensor-fault" in a.entry.tags) >= 3
    assert len({a.twin.opcua.endpoint for a in fleet.assets}) == 20
    assert all(
        a.prognosis.indicator == "UA" and a.prognosis.failure_threshold == UA_LIMIT
        for a in fleet.assets
    )


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
            "3",
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
                    and all(t["lifecycle"] == "running" for t in d)
                    and d
                ),
                60,
                "the three demo twins to run",
            )
            assert len(twins) == 3
            detail = wait_for(
                lambda: (d := client.get("/api/v1/twins/TK-01").json()).get("states") and d,
                20,
                "an estimate of TK-01",
            )
            assert 250.0 < detail["states"]["T"] < 450.0 and "UA" in detail["states"]
            assert client.get("/").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "dashboard on http://127.0.0.1:" in output
    assert "Traceback" not in output
