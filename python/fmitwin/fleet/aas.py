"""A twin as an Asset Administration Shell (AAS v3, with the Eclipse BaSyx Python SDK): an
AASX package or JSON, readable by any AAS tool.

Submodels:

* ``Nameplate``: the asset's identity (Digital Nameplate 2.0 semantics, IDTA 02006-2-0):
  manufacturer, product designation, serial number.
* ``SimulationModels``: the FMU itself, as a file of the package, with its FMI version,
  interfaces, generation tool and variables (element names and semantic ids of IDTA 02005-1-0
  for the model and its file; the variable list is fmitwin's own).
* ``OperationalData``: the twin's current estimate, each state with its standard deviation.
* ``Maintenance``: lifecycle, health, remaining useful life with its 90 % interval and the
  probability of failure within a horizon.

Identifiers are URNs derived from the twin and asset ids (``urn:fmitwin:aas:<twin>``, ...).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import write_aas_json_file

from fmitwin.fleet.registry import TwinEntry, TwinStatus
from fmitwin.fleet.runner import TwinSnapshot
from fmitwin.live.config import TwinConfig

__all__ = ["AasExport", "build_aas", "read_aasx"]

_NAMEPLATE = "https://admin-shell.io/zvei/nameplate/2/0/Nameplate"
_IRDI = {
    "ManufacturerName": "0173-1#02-AAO677#002",
    "ManufacturerProductDesignation": "0173-1#02-AAW338#001",
    "SerialNumber": "0173-1#02-AAM556#002",
}
_SIMULATION = "https://admin-shell.io/idta/SimulationModels/{}/1/0"
_FMITWIN = "urn:fmitwin:semantics:{}"
_FMU_MIME = "application/x-fmu-sharedlibrary"


def _global(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _id_short(name: str) -> str:
    """An AAS idShort (letter first, then letters, digits, underscores) for ``name``."""
    short = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return short if short[:1].isalpha() else f"x{short}"


def _text(id_short: str, value: str, semantic: str | None = None) -> model.MultiLanguageProperty:
    return model.MultiLanguageProperty(
        id_short,
        value=model.MultiLanguageTextType({"en": value}),
        semantic_id=None if semantic is None else _global(semantic),
    )


def _prop(id_short: str, value: object, semantic: str | None = None) -> model.Property:
    kind = float if isinstance(value, float) else int if isinstance(value, int) else str
    if isinstance(value, bool):
        kind = bool
    return model.Property(
        id_short, kind, value, semantic_id=None if semantic is None else _global(semantic)
    )


@dataclass(frozen=True)
class AasExport:
    """The shell, its submodels and the files they reference (the FMU)."""

    shell: model.AssetAdministrationShell
    submodels: tuple[model.Submodel, ...]
    files: aasx.DictSupplementaryFileContainer

    def store(self) -> model.DictIdentifiableStore:
        return model.DictIdentifiableStore([self.shell, *self.submodels])

    def write_aasx(self, path: str | Path) -> Path:
        """The AASX package (the FMU inside it) at ``path``."""
        path = Path(path)
        with aasx.AASXWriter(str(path)) as writer:
            writer.write_aas(self.shell.id, self.store(), self.files, write_json=True)
        return path

    def json(self) -> str:
        """The shell and its submodels as AAS JSON (the FMU referenced by its package path)."""
        out = io.StringIO()
        write_aas_json_file(out, self.store())
        return out.getvalue()


def build_aas(
    twin: TwinConfig,
    fmu_path: Path | None,
    *,
    entry: TwinEntry | None = None,
    status: TwinStatus | None = None,
    lifecycle: str | None = None,
    snapshot: TwinSnapshot | None = None,
    nameplate: Mapping[str, str] | None = None,
    horizon: float = 100.0,
) -> AasExport:
    """The AAS of ``twin``. ``fmu_path`` is its FMU (None for a non-FMU process model);
    ``entry``/``status``/``lifecycle`` come from the registry, ``snapshot`` from the running
    twin; ``nameplate`` may give ``manufacturer`` and ``product``."""
    asset_id = entry.asset_id if entry else twin.name
    twin_id = entry.id if entry else twin.name
    nameplate = dict(nameplate or {})
    submodels = [
        _nameplate(twin_id, asset_id, entry, nameplate),
        _operational(twin_id, snapshot),
        _maintenance(twin_id, status, lifecycle, horizon),
    ]
    files = aasx.DictSupplementaryFileContainer()
    if fmu_path is not None:
        submodels.insert(1, _simulation_models(twin_id, twin, fmu_path, files))
    shell = model.AssetAdministrationShell(
        asset_information=model.AssetInformation(
            asset_kind=model.AssetKind.INSTANCE,
            global_asset_id=f"urn:fmitwin:asset:{asset_id}",
            asset_type=entry.asset_type if entry else None,
        ),
        id_=f"urn:fmitwin:aas:{twin_id}",
        id_short=_id_short(twin_id),
        description=model.MultiLanguageTextType({"en": f"Digital twin {twin_id} (fmitwin)"}),
        submodel={model.ModelReference.from_referable(s) for s in submodels},
    )
    return AasExport(shell, tuple(submodels), files)


def _nameplate(
    twin_id: str, asset_id: str, entry: TwinEntry | None, nameplate: dict[str, str]
) -> model.Submodel:
    product = nameplate.get("product") or (entry.asset_type if entry else "unknown")
    return model.Submodel(
        f"urn:fmitwin:aas:{twin_id}:nameplate",
        id_short="Nameplate",
        semantic_id=_global(_NAMEPLATE),
        submodel_element=[
            _text(
                "ManufacturerName",
                nameplate.get("manufacturer", "unknown"),
                _IRDI["ManufacturerName"],
            ),
            _text(
                "ManufacturerProductDesignation", product, _IRDI["ManufacturerProductDesignation"]
            ),
            _prop("SerialNumber", asset_id, _IRDI["SerialNumber"]),
        ],
    )


def _simulation_models(
    twin_id: str, twin: TwinConfig, fmu_path: Path, files: aasx.DictSupplementaryFileContainer
) -> model.Submodel:
    from fmitwin.fmu import load_fmu

    fmu = load_fmu(fmu_path)
    with fmu_path.open("rb") as f:
        package_path = files.add_file(f"/aasx/files/{fmu_path.name}", f, _FMU_MIME)
    kinds = {"cs": "Co-Simulation", "me": "Model Exchange"}
    variables = model.SubmodelElementCollection(
        "Variables",
        semantic_id=_global(_FMITWIN.format("FmuVariables")),
        value=[
            model.SubmodelElementCollection(
                _id_short(v.name),
                value=[
                    _prop("Name", v.name),
                    _prop("Causality", v.causality),
                    _prop("Type", v.type),
                    *([_prop("Unit", v.unit)] if v.unit else []),
                    *([_prop("Start", str(v.start))] if v.start is not None else []),
                    *([_text("Description", v.description)] if v.description else []),
                ],
            )
            for v in fmu.variables.values()
            if v.causality in ("input", "output", "parameter")
        ],
    )
    description = fmu.description
    version = model.SubmodelElementCollection(
        "ModelFileVersion",
        semantic_id=_global(_SIMULATION.format("ModelFileVersion")),
        value=[
            _prop(
                "ModelVersionId",
                description.version or description.guid or "1",
                _SIMULATION.format("ModelVersionId"),
            ),
            model.File(
                "DigitalFile",
                _FMU_MIME,
                package_path,
                semantic_id=_global(_SIMULATION.format("DigitalFile")),
            ),
        ],
    )
    simulation_model = model.SubmodelElementCollection(
        "SimulationModel",
        semantic_id=_global(_SIMULATION.format("SimulationModel")),
        value=[
            _text("Summary", description.description or fmu.name, _SIMULATION.format("Summary")),
            _prop("ModelName", fmu.name),
            _prop("ModelFileType", f"FMI {fmu.fmi_version}", _SIMULATION.format("ModelFileType")),
            _prop("Interfaces", ", ".join(kinds[k] for k in fmu.kinds)),
            _prop("GenerationTool", description.generationTool or "unknown"),
            _prop("EstimatedStates", ", ".join(twin.filter.estimated(twin.model))),
            model.SubmodelElementCollection(
                "ModelFile",
                semantic_id=_global(_SIMULATION.format("ModelFile")),
                value=[version],
            ),
            variables,
        ],
    )
    return model.Submodel(
        f"urn:fmitwin:aas:{twin_id}:simulation-models",
        id_short="SimulationModels",
        semantic_id=_global(_SIMULATION.format("SimulationModels")),
        submodel_element=[simulation_model],
    )


def _operational(twin_id: str, snapshot: TwinSnapshot | None) -> model.Submodel:
    elements: list[model.SubmodelElement] = []
    if snapshot is not None and snapshot.t is not None:
        elements.append(_prop("Time", float(snapshot.t)))
        elements.append(_prop("Health", snapshot.health))
        for name, value in snapshot.states.items():
            elements.append(
                model.SubmodelElementCollection(
                    _id_short(name),
                    semantic_id=_global(_FMITWIN.format("EstimatedState")),
                    value=[
                        _prop("Name", name),
                        _prop("Value", float(value)),
                        _prop("Sigma", float(snapshot.sigma[name])),
                    ],
                )
            )
    return model.Submodel(
        f"urn:fmitwin:aas:{twin_id}:operational-data",
        id_short="OperationalData",
        semantic_id=_global(_FMITWIN.format("OperationalData")),
        submodel_element=elements,
    )


def _maintenance(
    twin_id: str, status: TwinStatus | None, lifecycle: str | None, horizon: float
) -> model.Submodel:
    elements: list[model.SubmodelElement] = []
    if lifecycle is not None:
        elements.append(_prop("Lifecycle", lifecycle))
    if status is not None:
        if status.health is not None:
            elements.append(_prop("Health", status.health))
        for name, value in (
            ("RemainingUsefulLife", status.rul),
            ("RulLow90", status.rul_low),
            ("RulHigh90", status.rul_high),
        ):
            if value is not None:
                elements.append(_prop(name, float(value)))
        pof = status.probability_of_failure(horizon)
        if pof is not None:
            elements.append(_prop("FailureProbability", float(pof)))
            elements.append(_prop("FailureHorizon", float(horizon)))
    return model.Submodel(
        f"urn:fmitwin:aas:{twin_id}:maintenance",
        id_short="Maintenance",
        semantic_id=_global(_FMITWIN.format("Maintenance")),
        submodel_element=elements,
    )


def read_aasx(
    path: str | Path,
) -> tuple[model.DictIdentifiableStore, aasx.DictSupplementaryFileContainer]:
    """Everything an AASX package holds, read back with BaSyx."""
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    files = aasx.DictSupplementaryFileContainer()
    with aasx.AASXReader(str(path), failsafe=False) as reader:
        reader.read_into(store, files)
    return store, files
