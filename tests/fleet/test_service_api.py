"""The fleet API's registration, history and maintenance endpoints, over real HTTP against
the real ``fmitwin serve``; the Grafana dashboard against the metrics it serves."""

from __future__ import annotations

import re
import signal

from fmitwin.fleet.grafana import grafana_dashboard
from support.fleet_service import TOKEN, readings, served_fleet, serving, wait_for
from support.live_servers import replay_twin

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_history_pages_the_recorded_estimates(service):
    client, _, _ = service
    first = wait_for(
        lambda: (
            (d := client.get("/api/v1/twins/TK-2/history", params={"limit": 5}).json()).get(
                "total", 0
            )
            > 20
            and d
        ),
        30,
        "TK-2 to record estimates",
    )
    assert first["variables"] == ["temp"] and len(first["estimates"]) == 5
    assert first["next_offset"] == 5
    rows = first["estimates"]
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    assert rows[0]["health"] and rows[0]["sigma"]["temp"] > 0
    second = client.get("/api/v1/twins/TK-2/history", params={"limit": 5, "offset": 5}).json()
    assert second["estimates"][0]["t"] >= rows[-1]["t"]

    # a time range: only estimates inside it
    start, end = rows[1]["t"], rows[3]["t"]
    window = client.get("/api/v1/twins/TK-2/history", params={"start": start, "end": end}).json()
    assert window["total"] == 3 and window["next_offset"] is None
    assert all(start <= r["t"] <= end for r in window["estimates"])

    # mistakes: clear JSON naming the problem and the fix
    unknown = client.get("/api/v1/twins/TK-2/history", params={"variables": "pressure"})
    assert unknown.status_code == 422 and "estimates: ['temp']" in unknown.json()["detail"]
    swapped = client.get("/api/v1/twins/TK-2/history", params={"start": end, "end": start})
    assert swapped.status_code == 422 and "swap them" in swapped.json()["detail"]
    assert client.get("/api/v1/twins/TK-2/history", params={"limit": 0}).status_code == 422
    none = client.get("/api/v1/twins/TK-BROKEN/history")
    assert none.status_code == 409 and "[history] path" in none.json()["detail"]
    assert client.get("/api/v1/twins/NOPE/history").status_code == 404


def test_maintenance_gives_rul_failure_probability_and_advice(service):
    client, _, _ = service
    tk3 = wait_for(
        lambda: (d := client.get("/api/v1/twins/TK-3/maintenance").json())["rul"] is not None and d,
        30,
        "a remaining-life estimate of TK-3",
    )
    assert tk3["rul_low"] <= tk3["rul"] <= tk3["rul_high"]
    assert tk3["rul_quantiles"] and tk3["urgency_rank"] == 1 and tk3["fleet_size"] == 4
    # TK-3 reaches its limit within ~40 s: failure within a 100 s horizon is near certain
    assert tk3["failure_probability"] > 0.5 and tk3["action"].startswith("act now")
    short = client.get("/api/v1/twins/TK-3/maintenance", params={"horizon": 1.0}).json()
    assert short["horizon"] == 1.0 and short["failure_probability"] < tk3["failure_probability"]
    broken = client.get("/api/v1/twins/TK-BROKEN/maintenance").json()
    assert broken["rul"] is None and broken["action"].startswith("none yet")
    assert client.get("/api/v1/twins/TK-3/maintenance", params={"horizon": -1}).status_code == 422
    assert client.get("/api/v1/twins/NOPE/maintenance").status_code == 404


def test_register_a_twin_through_the_api(service):
    client, folder, process = service
    readings(folder / "NEW.csv", 305.0)
    (folder / "new_twin.toml").write_text(replay_twin(str(folder / "NEW.csv"), speed=1.0))
    body = {"id": "TK-NEW", "twin": str(folder / "new_twin.toml"), "asset_type": "tank"}
    body |= {"site": "east", "tags": ["api"], "start": True}
    body["maintenance"] = {"indicator": "temp", "failure_threshold": 340.0, "time_unit": 1.0}

    # writes need the token
    assert client.post("/api/v1/twins", json=body).status_code == 401
    # the twin file is validated as `fmitwin run` validates it: file, line and key
    (folder / "bad_twin.toml").write_text("[twin]\nname = 3\n")
    bad_body = body | {"twin": str(folder / "bad_twin.toml")}
    bad = client.post("/api/v1/twins", json=bad_body, headers=AUTH)
    assert bad.status_code == 422
    assert "bad_twin.toml:2: [twin.name] expected str" in bad.json()["detail"]
    missing = client.post("/api/v1/twins", json=body | {"twin": "/no/such.toml"}, headers=AUTH)
    assert missing.status_code == 422 and "cannot read the twin file" in missing.json()["detail"]
    wrong = body | {"maintenance": {"indicator": "UA", "failure_threshold": 1.0}}
    wrong = client.post("/api/v1/twins", json=wrong, headers=AUTH)
    assert wrong.status_code == 422 and "it estimates: temp" in wrong.json()["detail"]
    incomplete = client.post("/api/v1/twins", json={"id": "X"}, headers=AUTH)
    assert incomplete.status_code == 422
    assert {e["loc"][-1] for e in incomplete.json()["detail"]} == {"twin", "asset_type", "site"}
    assert client.get("/api/v1/twins/TK-NEW").status_code == 404  # nothing half-registered

    created = client.post("/api/v1/twins", json=body, headers=AUTH)
    assert created.status_code == 201
    assert created.json()["site"] == "east" and created.json()["tags"] == ["api"]
    duplicate = client.post("/api/v1/twins", json=body, headers=AUTH)
    assert duplicate.status_code == 409 and "already registered" in duplicate.json()["detail"]

    # the same lifecycle as a fleet file's twin: registered, commissioning, running
    wait_for(
        lambda: client.get("/api/v1/twins/TK-NEW").json()["lifecycle"] == "running",
        30,
        "the registered twin to run",
    )
    moves = [e["to"] for e in client.get("/api/v1/twins/TK-NEW/events").json()]
    assert moves[:3] == ["registered", "commissioning", "running"]
    east = client.get("/api/v1/twins", params={"site": "east"}).json()
    assert [t["id"] for t in east] == ["TK-NEW"]
    stopped = client.post("/api/v1/twins/TK-NEW/stop", headers=AUTH).json()
    assert stopped["lifecycle"] == "stopped"

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert TOKEN not in output and "Traceback" not in output


def test_grafana_dashboard_queries_the_served_metrics(service):
    client, _, _ = service
    wait_for(lambda: "fmitwin_sensor_nis{" in client.get("/metrics").text, 30, "sensor metrics")
    served = set(re.findall(r"^# TYPE (\w+) gauge$", client.get("/metrics").text, re.M))
    dashboard = grafana_dashboard("replay-fleet")
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bfmitwin_\w+", target["expr"])
    }
    assert queried and queried <= served
    assert served <= queried  # every exported series is on the dashboard


def test_a_twin_registered_through_the_api_survives_a_restart(tmp_path):
    """The registry keeps an API-registered twin's definition: the restarted service runs it
    again, even with its twin file gone, once; a retired one stays retired and idle."""
    new_twin = tmp_path / "new_twin.toml"
    readings(tmp_path / "NEW.csv", 305.0)
    new_twin.write_text(replay_twin(str(tmp_path / "NEW.csv"), speed=1.0))
    body = {"id": "TK-NEW", "twin": str(new_twin), "asset_type": "tank", "site": "east"}
    body |= {"tags": ["api"], "start": True}
    body["maintenance"] = {"indicator": "temp", "failure_threshold": 340.0, "time_unit": 1.0}
    with served_fleet(tmp_path) as (client, _, _):
        assert client.post("/api/v1/twins", json=body, headers=AUTH).status_code == 201
        old = body | {"id": "TK-OLD", "start": False}
        assert client.post("/api/v1/twins", json=old, headers=AUTH).status_code == 201
        assert client.post("/api/v1/twins/TK-OLD/retire", headers=AUTH).status_code == 200
        wait_for(
            lambda: client.get("/api/v1/twins/TK-NEW").json()["lifecycle"] == "running",
            30,
            "the registered twin to run",
        )
    new_twin.unlink()  # what runs after the restart is the registry's copy

    with serving(tmp_path) as (client, process):
        tk_new = wait_for(
            lambda: (
                (d := client.get("/api/v1/twins/TK-NEW").json())["lifecycle"] == "running"
                and d["running"]
                and d
            ),
            30,
            "the registered twin to run again after the restart",
        )
        assert tk_new["site"] == "east" and tk_new["tags"] == ["api"]
        assert tk_new["states"]["temp"] > 0
        ids = [t["id"] for t in client.get("/api/v1/twins").json()]
        assert sorted(ids) == ["TK-1", "TK-2", "TK-3", "TK-BROKEN", "TK-NEW", "TK-OLD"]
        tk_old = client.get("/api/v1/twins/TK-OLD").json()
        assert tk_old["lifecycle"] == "retired" and tk_old["running"] is False
        moves = [e["reason"] for e in client.get("/api/v1/twins/TK-NEW/events").json()]
        assert "fleet stopped" in moves and moves.count("registered through the API") == 1
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert TOKEN not in output and "Traceback" not in output
