"""Asset Administration Shell export, read back and checked with BaSyx."""

from __future__ import annotations

import io
from pathlib import Path

import fmitwin.models
import pytest
from basyx.aas import model
from basyx.aas.adapter.json import read_aas_json_file
from fmitwin.cli import main
from fmitwin.fleet import SqliteRegistry, TwinEntry
from fmitwin.fleet.aas import build_aas, read_aasx
from fmitwin.live.config import load_config

from .test_registry import NormalRUL

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "heated_tank_twin.toml"


def submodel(store: model.DictIdentifiableStore, id_short: str) -> model.Submodel:
    return next(o for o in store if isinstance(o, model.Submodel) and o.id_short == id_short)


def test_the_aasx_carries_the_fmu_and_the_twin_condition(tmp_path):
    twin = load_config(EXAMPLE)
    fmu = fmitwin.models.path("heated_tank")
    with SqliteRegistry(tmp_path / "r.sqlite") as registry:
        entry = TwinEntry("TK-7", "SN-7731", "heated_tank", "north", str(EXAMPLE))
        registry.register(entry)
        status = registry.update_status("TK-7", health="ok", rul=NormalRUL(120.0, 15.0)).status
    export = build_aas(
        twin,
        fmu,
        entry=entry,
        status=status,
        lifecycle="running",
        nameplate={"manufacturer": "ACME Thermal"},
        horizon=100.0,
    )
    store, files = read_aasx(export.write_aasx(tmp_path / "tk7.aasx"))

    shell = next(o for o in store if isinstance(o, model.AssetAdministrationShell))
    assert shell.id == "urn:fmitwin:aas:TK-7"
    assert shell.asset_information.global_asset_id == "urn:fmitwin:asset:SN-7731"
    assert {ref.get_identifier() for ref in shell.submodel} == {
        "urn:fmitwin:aas:TK-7:nameplate",
        "urn:fmitwin:aas:TK-7:simulation-models",
        "urn:fmitwin:aas:TK-7:operational-data",
        "urn:fmitwin:aas:TK-7:maintenance",
    }
    nameplate = submodel(store, "Nameplate")
    assert nameplate.get_referable("ManufacturerName").value["en"] == "ACME Thermal"
    assert nameplate.get_referable("SerialNumber").value == "SN-7731"

    simulation = submodel(store, "SimulationModels")
    assert simulation.semantic_id.key[0].value == (
        "https://admin-shell.io/idta/SimulationModels/SimulationModels/1/0"
    )
    sim_model = simulation.get_referable("SimulationModel")
    assert sim_model.get_referable("ModelFileType").value == "FMI 2.0"
    digital = (
        sim_model.get_referable("ModelFile")
        .get_referable("ModelFileVersion")
        .get_referable("DigitalFile")
    )
    packaged = io.BytesIO()
    files.write_file(digital.value, packaged)
    assert packaged.getvalue() == Path(fmu).read_bytes()  # the FMU itself, byte for byte
    ua = sim_model.get_referable("Variables").get_referable("UA")
    assert ua.get_referable("Unit").value == "W/K"
    assert ua.get_referable("Causality").value == "parameter"

    maintenance = submodel(store, "Maintenance")
    assert maintenance.get_referable("Lifecycle").value == "running"
    assert maintenance.get_referable("RemainingUsefulLife").value == pytest.approx(120.0)
    assert maintenance.get_referable("FailureProbability").value == pytest.approx(0.0912, abs=0.01)

    # the JSON form reads back too, strictly
    again = read_aas_json_file(io.StringIO(export.json()), failsafe=False)
    assert {o.id for o in again} == {o.id for o in store}


def test_cli_exports_a_twin_file_and_refuses_bad_outputs(tmp_path, capsys):
    out = tmp_path / "tank.aasx"
    assert main(["aas", str(EXAMPLE), "-o", str(out), "--manufacturer", "ACME"]) == 0
    store, _ = read_aasx(out)
    assert submodel(store, "Nameplate").get_referable("ManufacturerName").value["en"] == "ACME"
    assert main(["aas", str(EXAMPLE), "-o", str(tmp_path / "tank.zip")]) == 1
    assert "name a .aasx or .json file" in capsys.readouterr().err
    assert main(["aas", str(EXAMPLE), "-o", str(tmp_path / "nope" / "t.aasx")]) == 1
    assert "does not exist" in capsys.readouterr().err
