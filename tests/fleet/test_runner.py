"""The fleet runner's twins: the fleet file's, and those the registry keeps a definition of."""

from __future__ import annotations

from fmitwin.fleet import Lifecycle, SqliteRegistry, TwinEntry, load_fleet, register_fleet
from fmitwin.fleet.registry import StoredDefinition
from fmitwin.fleet.runner import FleetRunner, stored_definition
from fmitwin.maintenance.online import Prognosis
from support.live_servers import replay_twin

FLEET = """\
[fleet]
name = "small"

[templates.tank]
twin = "twin.toml"
asset_type = "tank"

[[assets]]
template = "tank"
id = "TK-1"
site = "north"
"""


def api_entry(twin_id: str, folder) -> TwinEntry:
    return TwinEntry(twin_id, twin_id, "tank", "east", str(folder / f"{twin_id}.toml"))


def test_stored_twins_are_recreated_and_the_fleet_file_wins(tmp_path):
    (tmp_path / "twin.toml").write_text(replay_twin("{id}.csv", name="template"))
    (tmp_path / "fleet.toml").write_text(FLEET)
    fleet = load_fleet(tmp_path / "fleet.toml")
    registry = SqliteRegistry(fleet.registry)
    register_fleet(registry, fleet)
    prognosis = Prognosis("temp", 340.0, time_unit=1.0, noise=0.3)
    for twin_id in ("TK-API", "TK-2", "TK-RETIRED"):
        text = replay_twin(str(tmp_path / f"{twin_id}.csv"), name=twin_id)
        source = str(tmp_path / f"{twin_id}.toml")
        registry.register(
            api_entry(twin_id, tmp_path), definition=stored_definition(source, text, prognosis)
        )
    registry.transition("TK-RETIRED", Lifecycle.RETIRED, "scrapped")
    broken = StoredDefinition(str(tmp_path / "TK-BAD.toml"), "[twin]\nname = 3\n")
    registry.register(api_entry("TK-BAD", tmp_path), definition=broken)
    stored = registry.definition("TK-API")
    assert stored.metadata["prognosis"]["max_sigma"] is None  # infinite: stored as null
    assert registry.definition("TK-1") is None  # the fleet file defines it

    # the fleet file now declares TK-2 too: its definition wins, the stored one is dropped
    (tmp_path / "fleet.toml").write_text(
        FLEET + '\n[[assets]]\ntemplate = "tank"\nid = "TK-2"\nsite = "north"\n'
    )
    fleet = load_fleet(tmp_path / "fleet.toml")
    assert register_fleet(registry, fleet).updated == ("TK-2",)
    assert registry.definition("TK-2") is None

    runner = FleetRunner(fleet, registry)
    assert sorted(runner.configs) == ["TK-1", "TK-2", "TK-API"]
    assert runner.configs["TK-2"] is fleet.asset("TK-2").twin
    assert runner.configs["TK-API"].name == "TK-API"
    assert runner._prognoses["TK-API"] == prognosis
    failures, error = runner.failures("TK-BAD")
    assert failures == 0 and "no longer loads" in error and "TK-BAD.toml:2: [twin.name]" in error
    registry.close()
