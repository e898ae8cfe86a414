"""``fmitwin serve``: many twins in one process, supervised, behind a REST API with token-
protected writes and Prometheus metrics; real HTTP over loopback against the real command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fmitwin.fleet import Lifecycle, SqliteRegistry
from support.live_servers import free_port, wait_for_port

TOKEN = "s3cret-token-for-writes"

REPLAY_TWIN = """\
[twin]
name = "template"

[model]
process = "random_walk"
states = ["temp"]

[filter]
x0 = { temp = 290.0 }
P0 = { temp = 100.0 }
Q = { temp = 0.001 }

[csv]
path = "{id}.csv"
speed = 1.0

[sensors.T]
variable = "temp"
source = "csv"
range = [250, 400]
rate = 10
noise = 0.2
"""

FLEET = """\
[fleet]
name = "replay-fleet"

[templates.tank]
twin = "twin.toml"
asset_type = "tank"

[[assets]]
template = "tank"
id = "TK-{n}"
count = 3
site = "north"

[[assets]]
template = "tank"
id = "TK-BROKEN"
site = "south"
set = { "csv.path" = "no-such-file.csv" }
"""


def readings(path: Path, truth: float, seconds: float = 60.0) -> None:
    t0 = 1_800_000_000.0
    rng = np.random.default_rng(1)
    rows = ["ts,sensor,value,quality"] + [
        f"{t0 + 0.1 * i:.3f},T,{truth + 0.2 * rng.standard_normal():.4f},good"
        for i in range(int(seconds * 10))
    ]
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture
def service(tmp_path):
    (tmp_path / "twin.toml").write_text(REPLAY_TWIN)
    (tmp_path / "fleet.toml").write_text(FLEET)
    for n, truth in ((1, 300.0), (2, 310.0), (3, 320.0)):
        readings(tmp_path / f"TK-{n}.csv", truth)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fmitwin",
            "serve",
            str(tmp_path / "fleet.toml"),
            "--port",
            str(port),
            "--token-env",
            "FLEET_TOKEN",
        ],
        env={**os.environ, "FLEET_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=60.0)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            yield client, tmp_path, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_fleet_runs_supervised_behind_the_api(service):
    client, folder, process = service

    def twins():
        return {t["id"]: t for t in client.get("/api/v1/twins").json()}

    wait_for(
        lambda: all(twins()[f"TK-{n}"]["lifecycle"] == "running" for n in (1, 2, 3)),
        30,
        "the three replay twins to run",
    )
    listing = twins()
    assert set(listing) == {"TK-1", "TK-2", "TK-3", "TK-BROKEN"}
    assert listing["TK-2"]["site"] == "north" and listing["TK-2"]["health"] == "ok"

    # the live estimate, with its sigma and per-sensor residuals
    tk2 = wait_for(
        lambda: (d := client.get("/api/v1/twins/TK-2").json())["states"] and d, 10, "estimate"
    )
    assert tk2["running"] is True
    assert abs(tk2["states"]["temp"] - 310.0) < 3 * tk2["sigma"]["temp"] + 0.5
    assert tk2["counts"]["T"]["accepted"] > 0

    # a broken twin is isolated: reported, retried with backoff, the others unaffected
    broken = wait_for(
        lambda: (d := client.get("/api/v1/twins/TK-BROKEN").json())["failures"] >= 2 and d,
        30,
        "two failures of the broken twin",
    )
    assert "no-such-file.csv" in broken["last_error"]
    reasons = [e["reason"] for e in client.get("/api/v1/twins/TK-BROKEN/events").json()]
    assert any(r.startswith("failed: ") and "restart in" in r for r in reasons)
    assert any(r.startswith("restart after failure") for r in reasons)
    assert all(twins()[f"TK-{n}"]["lifecycle"] == "running" for n in (1, 2, 3))

    # writes need the token; reads don't
    assert client.post("/api/v1/twins/TK-1/stop").status_code == 401
    wrong = client.post("/api/v1/twins/TK-1/stop", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    stopped = client.post("/api/v1/twins/TK-1/stop", headers=auth)
    assert stopped.status_code == 200 and stopped.json()["lifecycle"] == "stopped"
    assert client.get("/api/v1/twins/TK-1").json()["running"] is False
    conflict = client.post("/api/v1/twins/TK-2/retire", headers=auth)
    assert conflict.status_code == 409 and "cannot go from running to retired" in conflict.text
    assert client.post("/api/v1/twins/TK-1/retire", headers=auth).json()["lifecycle"] == "retired"
    assert client.post("/api/v1/twins/TK-1/start", headers=auth).status_code == 409
    assert client.get("/api/v1/twins/NOPE").status_code == 404

    # filters
    south = client.get("/api/v1/twins", params={"site": "south"}).json()
    assert [t["id"] for t in south] == ["TK-BROKEN"]
    retired = client.get("/api/v1/twins", params={"lifecycle": "retired"}).json()
    assert [t["id"] for t in retired] == ["TK-1"]

    # Prometheus metrics
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert (
        'fmitwin_twin_lifecycle{asset_type="tank",site="north",state="running",twin="TK-2"} 1.0'
        in text
    )
    assert 'fmitwin_sensor_readings{asset_type="tank",sensor="T",site="north",twin="TK-2"}' in text
    assert "fmitwin_twin_latency_seconds" in text

    # the token never appears in what the service says; SIGTERM stops every twin cleanly
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert TOKEN not in output
    assert "Traceback" not in output

    # every transition is in the registry file, after the process ended
    with SqliteRegistry(folder / "fleet.registry.sqlite") as registry:
        moves = [(m.source, m.target) for m in registry.transitions("TK-2")]
        assert moves[:4] == [
            (None, Lifecycle.REGISTERED),
            (Lifecycle.REGISTERED, Lifecycle.COMMISSIONING),
            (Lifecycle.COMMISSIONING, Lifecycle.RUNNING),
            (Lifecycle.RUNNING, Lifecycle.STOPPED),
        ]
        assert registry.transitions("TK-2")[-1].reason == "fleet stopped"


def test_serve_refuses_a_public_bind_and_reports_bad_files(tmp_path):
    (tmp_path / "fleet.toml").write_text("[fleet]\nname = 1\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fmitwin",
            "serve",
            str(tmp_path / "fleet.toml"),
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "would expose the fleet API beyond this machine" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "fmitwin", "serve", str(tmp_path / "fleet.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "fleet.toml:2: [fleet.name] expected str" in result.stderr
    assert "Traceback" not in result.stderr
