"""Fleet files: templates instantiated per asset, errors naming file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fmitwin.fleet import (
    Lifecycle,
    SqliteRegistry,
    load_fleet,
    register_fleet,
)
from fmitwin.live.config import ConfigError

TANK_TWIN = """\
[twin]
name = "template"

[model]
fmu = "heated_tank"
parameters = { m = 0.5 }
states = ["T"]
inputs = ["P_heater"]

[filter]
x0 = { T = 293.15 }
P0 = { T = 4.0 }
Q = { T = 0.001 }

[opcua]
endpoint = "opc.tcp://127.0.0.1:4840"

[sensors.T]
variable = "T"
source = "opcua"
node = "nsu=urn:fmitwin:plant:{id};s=T"
unit = "K"
range = [250.0, 450.0]
rate = 20.0
noise = 0.2

[sensors.heater]
variable = "P_heater"
source = "opcua"
node = "nsu=urn:fmitwin:plant:{id};s=P_heater"
unit = "W"
range = [0.0, 5000.0]
rate = 1.0
noise = 5.0

[history]
path = "history/{id}.sqlite"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    write(tmp_path, "tank_twin.toml", TANK_TWIN)
    return tmp_path


MASSES = [round(0.4 + 0.01 * i, 2) for i in range(50)]
FLEET = f"""\
[fleet]
name = "plant-north"

[templates.tank]
twin = "tank_twin.toml"
asset_type = "heated_tank"
tags = ["thermal"]

[[assets]]
template = "tank"
id = "TK-{{n:02d}}"
count = 50
site = "north"
vars = {{ port = 4840, mass = {MASSES} }}
set = {{ "opcua.endpoint" = "opc.tcp://127.0.0.1:{{port}}", "model.parameters.m" = "{{mass}}" }}

[[assets]]
template = "tank"
id = "TK-SPARE"
asset_id = "SN-7731"
site = "south"
tags = ["spare"]
"""


def test_a_template_is_instantiated_per_asset_with_its_parameters(folder):
    fleet = load_fleet(write(folder, "fleet.toml", FLEET))
    assert fleet.name == "plant-north"
    assert fleet.registry == folder / "fleet.registry.sqlite"
    assert len(fleet.assets) == 51
    first, tenth, spare = fleet.asset("TK-01"), fleet.asset("TK-10"), fleet.asset("TK-SPARE")
    assert first.twin.name == "TK-01"
    assert first.twin.model.parameters["m"] == pytest.approx(0.4)
    assert tenth.twin.model.parameters["m"] == pytest.approx(0.49)
    assert isinstance(tenth.twin.model.parameters["m"], float)
    assert tenth.twin.opcua.endpoint == "opc.tcp://127.0.0.1:4840"
    assert tenth.twin.sensors["T"].address == "nsu=urn:fmitwin:plant:TK-10;s=T"
    assert tenth.twin.history.path == folder / "history" / "TK-10.sqlite"
    assert tenth.entry.asset_type == "heated_tank" and tenth.entry.site == "north"
    assert tenth.entry.tags == ("thermal",) and tenth.entry.asset_id == "TK-10"
    assert spare.entry.asset_id == "SN-7731" and spare.entry.tags == ("thermal", "spare")
    assert spare.twin.model.parameters["m"] == 0.5  # the template's own value


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize(
    ("change", "fragment", "key", "message"),
    [
        (("count = 50", "count = 0"), "count = 0", "assets.0.count", "positive number"),
        (('id = "TK-{n:02d}"', 'id = "TK"'), 'id = "TK"', "assets.0.id", "needs {n}"),
        (
            (f"mass = {MASSES}", "mass = [0.4]"),
            "mass = [0.4]",
            "assets.0.vars.mass",
            "expected 50 values",
        ),
        (
            ('template = "tank"', 'template = "pump"'),
            'template = "pump"',
            "assets.0.template",
            "expected one of tank",
        ),
        (
            ('"{mass}"', '"{masss}"'),
            "masss",
            "assets.0.set.model.parameters.m",
            "unknown placeholder {masss}",
        ),
        (
            ('"model.parameters.m"', '"model.states.m"'),
            "model.states",
            "assets.0.set.model.states.m",
            "not a table",
        ),
        (
            ('site = "south"', 'site = "south"\ncolour = 1'),
            "colour",
            "assets.1.colour",
            "unknown key",
        ),
        (('id = "TK-SPARE"', 'id = "TK-07"'), 'id = "TK-07"', "assets.1.id", "declared twice"),
    ],
)
def test_fleet_file_errors_name_the_line_and_key(folder, change, fragment, key, message):
    text = FLEET.replace(*change)
    path = write(folder, "fleet.toml", text)
    with pytest.raises(ConfigError) as error:
        load_fleet(path)
    assert error.value.file == str(path)
    assert error.value.line == line_of(text, fragment)
    assert error.value.key == key
    assert message in error.value.message


def test_an_override_that_breaks_the_twin_names_the_fleet_file(folder):
    text = FLEET.replace('"model.parameters.m" = "{mass}"', '"sensors.T.rate" = -5.0')
    path = write(folder, "fleet.toml", text)
    with pytest.raises(ConfigError) as error:
        load_fleet(path)
    # the twin-file validation of the sensor, located at the fleet file's override
    assert error.value.file == str(path)
    assert error.value.line == line_of(text, '"sensors.T.rate"')
    assert error.value.key == "sensors.T.rate"


def test_a_template_mistake_names_the_twin_file(folder):
    write(folder, "tank_twin.toml", TANK_TWIN.replace("rate = 20.0", "rate = -1.0"))
    with pytest.raises(ConfigError) as error:
        load_fleet(write(folder, "fleet.toml", FLEET))
    assert error.value.file == str(folder / "tank_twin.toml")
    assert error.value.line == line_of(TANK_TWIN, "rate = 20.0")
    assert error.value.key == "sensors.T.rate"


def test_a_prognosis_must_use_an_estimated_quantity(folder):
    text = FLEET.replace(
        'tags = ["thermal"]\n',
        'tags = ["thermal"]\n[templates.tank.maintenance]\n'
        'indicator = "UA"\nfailure_threshold = 80\n',
    )
    path = write(folder, "fleet.toml", text)
    with pytest.raises(ConfigError) as error:
        load_fleet(path)
    assert error.value.key == "templates.tank.maintenance.indicator"
    assert "'UA' is not estimated by twin TK-01; it estimates: T" in error.value.message
    fleet = load_fleet(write(folder, "fleet.toml", text.replace('"UA"', '"T"')))
    assert fleet.asset("TK-03").prognosis.failure_threshold == 80.0


def test_a_template_without_maintenance_uses_the_twin_file_s(folder):
    twin = TANK_TWIN + '\n[maintenance]\nindicator = "T"\nfailure_threshold = 350\nhorizon = 24\n'
    write(folder, "tank_twin.toml", twin)
    prognosis = load_fleet(write(folder, "fleet.toml", FLEET)).asset("TK-03").prognosis
    assert (prognosis.indicator, prognosis.failure_threshold, prognosis.horizon) == ("T", 350, 24)


def test_a_missing_template_file_is_named(folder):
    path = write(folder, "fleet.toml", FLEET.replace("tank_twin.toml", "pump_twin.toml"))
    with pytest.raises(ConfigError, match=r"fleet.toml:5: \[templates.tank.twin\] twin file not"):
        load_fleet(path)


def test_registering_a_fleet_is_idempotent_and_reports_changes(folder):
    fleet = load_fleet(write(folder, "fleet.toml", FLEET))
    with SqliteRegistry(fleet.registry) as registry:
        report = register_fleet(registry, fleet)
        assert len(report.added) == 51 and not report.updated
        assert registry.get("TK-07").lifecycle is Lifecycle.REGISTERED
        assert registry.get("TK-07").entry.definition == f"{fleet.file}#TK-07"
        registry.transition("TK-07", "commissioning", "started")

        smaller = load_fleet(
            write(
                folder,
                "fleet.toml",
                FLEET.replace("count = 50", "count = 40")
                .replace(f"mass = {MASSES}", f"mass = {MASSES[:40]}")
                .replace('site = "south"', 'site = "east"'),
            )
        )
        report = register_fleet(registry, smaller)
        assert report.added == () and report.updated == ("TK-SPARE",)
        assert len(report.unchanged) == 40
        assert report.undeclared == tuple(f"TK-{n:02d}" for n in range(41, 51))
        assert registry.get("TK-SPARE").entry.site == "east"
        assert registry.get("TK-07").lifecycle is Lifecycle.COMMISSIONING  # untouched
