"""``fmitwin fleet grafana``: a dashboard model that Grafana's import accepts."""

from __future__ import annotations

import json

from fmitwin.cli import main

from .test_config import FLEET, TANK_TWIN, write

PANEL_TYPES = {"stat", "table", "timeseries", "bargauge"}


def test_the_dashboard_is_an_importable_grafana_model(tmp_path, capsys):
    write(tmp_path, "tank_twin.toml", TANK_TWIN)
    fleet = write(tmp_path, "fleet.toml", FLEET)
    out = tmp_path / "dashboard.json"
    assert main(["fleet", "grafana", str(fleet), "-o", str(out)]) == 0
    assert "Grafana dashboard of plant-north" in capsys.readouterr().out
    board = json.loads(out.read_text())

    # the import form: one Prometheus data-source input, used by every panel and query
    (source,) = board["__inputs"]
    assert source["type"] == "datasource" and source["pluginId"] == "prometheus"
    uid = "${" + source["name"] + "}"
    assert board["title"] == "plant-north: fleet" and board["uid"] is None
    assert isinstance(board["schemaVersion"], int) and board["time"]["from"].startswith("now-")

    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"site", "asset_type", "twin"}
    assert all(v["datasource"]["uid"] == uid for v in variables.values())

    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["type"] in PANEL_TYPES and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}
        box = panel["gridPos"]
        assert box["x"] >= 0 and box["w"] > 0 and box["x"] + box["w"] <= 24 and box["h"] > 0
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            # every query is filtered by the dashboard's variables
            assert all(f"${name}" in target["expr"] for name in variables)
    # panels do not overlap
    cells = set()
    for panel in board["panels"]:
        box = panel["gridPos"]
        cover = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & cover, panel["title"]
        cells |= cover


def test_grafana_reports_a_bad_fleet_file(tmp_path, capsys):
    fleet = write(tmp_path, "fleet.toml", "[fleet]\nname = 1\n")
    assert main(["fleet", "grafana", str(fleet), "-o", str(tmp_path / "d.json")]) == 1
    assert "fleet.toml:2: [fleet.name] expected str" in capsys.readouterr().err
