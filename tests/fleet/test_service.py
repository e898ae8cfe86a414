"""``fmitwin serve``: many twins in one process, supervised, behind a REST API with token-
protected writes and Prometheus metrics; real HTTP over loopback against the real command."""

from __future__ import annotations

import io
import signal
import subprocess
import sys

from basyx.aas.adapter.json import read_aas_json_file
from fmitwin.fleet import Lifecycle, SqliteRegistry
from support.fleet_service import TOKEN, wait_for


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

    # remaining life from the estimated trend: TK-3 heads for its 340 K limit at 0.5 K/s
    tk3 = wait_for(
        lambda: (d := client.get("/api/v1/twins/TK-3").json())["rul"] is not None and d,
        20,
        "a remaining-life estimate of TK-3",
    )
    truth = (340.0 - tk3["states"]["temp"]) / 0.5
    assert tk3["rul_low"] < truth + 3.0 and tk3["rul_high"] > truth - 3.0
    assert client.get("/api/v1/twins").json()[0]["id"] == "TK-3"  # the most urgent

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

    # the twin as an Asset Administration Shell
    aas = client.get("/api/v1/twins/TK-2/aas")
    assert aas.status_code == 200
    store = read_aas_json_file(io.StringIO(aas.text), failsafe=False)
    assert "urn:fmitwin:aas:TK-2:operational-data" in {o.id for o in store}
    package = client.get("/api/v1/twins/TK-2/aas", params={"format": "aasx"})
    assert package.status_code == 200 and package.content[:2] == b"PK"

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
