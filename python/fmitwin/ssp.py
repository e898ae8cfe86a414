"""SSP (System Structure and Parameterization 1.0) import and export of a :class:`~fmitwin.System`.

:func:`read_ssp` reads an ``.ssp`` archive (or a bare ``SystemStructure.ssd`` beside its FMUs)
with FMPy's SSP reader (``fmpy.ssp.ssd.read_ssd``, schema-validated) and builds a System from its
components, connections (with their linear transformations), system connectors and parameter
bindings. :func:`write_ssp` writes the system's ``SystemStructure.ssd`` and zips it with the FMUs
under ``resources/``; files it writes validate against the SSP schema and read back to an equal
system.

What fmitwin adds beyond the standard travels in annotations of type ``org.fmitwin``: per
component ``<fmitwin:Instance kind="cs|me" stepMultiple="m"/>`` and, on the description,
``<fmitwin:Experiment step="..." method="...">`` holding ``<fmitwin:Input name="..." value="..."/>``
per system input held constant and ``<fmitwin:Inputs source="resources/inputs.csv"/>`` for the
inputs that vary over time. SSP 1.0 defines no format for signals over time but lets an archive
carry any resource: the table is a CSV file in the archive's ``resources/`` folder, a ``time``
column and one column per input (a time given twice is a step change, as in
:mod:`fmitwin.signals`), its numbers written to round-trip exactly. Other tools ignore them.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import weakref
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree

from fmitwin.archive import ExtractionLimits, extract
from fmitwin.fmu import load_fmu
from fmitwin.signals import read_signals
from fmitwin.system import System

NS = {
    "ssd": "http://ssp-standard.org/SSP1/SystemStructureDescription",
    "ssc": "http://ssp-standard.org/SSP1/SystemStructureCommon",
    "ssv": "http://ssp-standard.org/SSP1/SystemStructureParameterValues",
    "fmitwin": "https://github.com/fmitwin/fmitwin/ssp",
}
ANNOTATION_TYPE = "org.fmitwin"
INPUTS_RESOURCE = "resources/inputs.csv"
_SSV_TYPES = {"real": "Real", "integer": "Integer", "boolean": "Boolean"}


def _q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


# -- reading ---------------------------------------------------------------------------------------


def read_ssp(
    path: str | os.PathLike[str],
    *,
    allow_external_sources: bool = False,
    extraction_limits: ExtractionLimits | None = None,
) -> System:
    """Builds a :class:`System` from an ``.ssp`` archive or a ``.ssd`` file.

    The returned system's ``experiment`` holds the SSD's default experiment (``start_time``,
    ``stop_time``) and fmitwin's ``step`` / ``method`` when present. FMUs of an archive are
    extracted (within ``extraction_limits``, see :class:`fmitwin.archive.ExtractionLimits`) to a
    temporary folder that lives as long as the system. A component whose source lies outside
    the archive (or, for a ``.ssd`` file, outside its folder), through ``..`` or an absolute
    path, is refused unless ``allow_external_sources=True``: an SSP file from elsewhere must
    not load FMUs of its choosing from this machine. Allowed, a relative source is resolved as
    if the archive were a folder beside it (``../x.fmu`` is ``x.fmu`` beside the ``.ssp``).
    """
    from fmpy.ssp.ssd import read_ssd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such SSP file")
    if path.suffix.lower() == ".ssd":
        xml = path.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("SystemStructure.ssd", xml)
        archive: Any = buffer
        resources = path.parent
        extracted = None
    else:
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path}: not an SSP archive (not a zip file)")
        with zipfile.ZipFile(path) as zf:
            if "SystemStructure.ssd" not in zf.namelist():
                raise ValueError(f"{path}: the archive has no SystemStructure.ssd")
            xml = zf.read("SystemStructure.ssd")
        extracted = extract(path, limits=extraction_limits)
        archive = str(path)
        resources = extracted
    try:
        ssd = read_ssd(archive, validate=True)
    except Exception as exc:
        if extracted is not None:
            shutil.rmtree(extracted, ignore_errors=True)
        raise ValueError(f"{path}: invalid SystemStructure.ssd ({exc})") from exc
    try:
        system = _build(
            ssd, etree.fromstring(xml), resources, path, allow_external_sources, extraction_limits
        )
    except BaseException:
        if extracted is not None:
            shutil.rmtree(extracted, ignore_errors=True)
        raise
    if extracted is not None:
        weakref.finalize(system, shutil.rmtree, extracted, True)
    return system


def _build(
    ssd: Any,
    root: Any,
    resources: Path,
    path: Path,
    allow_external: bool,
    limits: ExtractionLimits | None,
) -> System:
    from fmpy.ssp.ssd import Component

    top = ssd.system
    system = System(ssd.name or top.name or path.stem)
    nested = [e.name for e in top.elements if not isinstance(e, Component)]
    if nested:
        raise ValueError(
            f"{path}: elements {', '.join(nested)} are sub-systems or signal dictionaries; "
            "fmitwin reads flat systems of FMU components only"
        )
    xml_system = root.find("ssd:System", NS)
    xml_components = {
        c.get("name"): c for c in xml_system.iterfind("ssd:Elements/ssd:Component", NS)
    }
    for component in top.elements:
        if component.type not in (None, "application/x-fmu-sharedlibrary"):
            raise ValueError(
                f"{path}: component {component.name!r} is of type {component.type!r}; "
                "only FMUs (application/x-fmu-sharedlibrary) are supported"
            )
        fmu_path = (resources / component.source).resolve()
        if not fmu_path.is_relative_to(resources.resolve()):
            if not allow_external:
                raise ValueError(
                    f"{path}: component {component.name!r} refers to {component.source}, "
                    "outside the SSP; read_ssp(..., allow_external_sources=True) loads it if "
                    "you trust this file"
                )
            if path.suffix.lower() != ".ssd":  # as if the archive were a folder beside it
                fmu_path = (path.parent / path.stem / component.source).resolve()
        if not fmu_path.is_file():
            raise FileNotFoundError(
                f"{path}: component {component.name!r} refers to {component.source}, "
                f"which is not there ({fmu_path})"
            )
        annotation = xml_components[component.name].find(
            f"ssd:Annotations/ssc:Annotation[@type='{ANNOTATION_TYPE}']/fmitwin:Instance", NS
        )
        kind = step_multiple = None
        if annotation is not None:
            kind = annotation.get("kind")
            step_multiple = annotation.get("stepMultiple")
        system.add(
            component.name,
            load_fmu(fmu_path, extraction_limits=limits),
            kind=kind,
            step_multiple=int(step_multiple or 1),
            start_values=_parameter_values(component),
        )
    kinds = {c.name: c.kind for c in top.connectors}
    input_targets: dict[str, list[str]] = {}
    xml_connections = list(xml_system.iterfind("ssd:Connections/ssd:Connection", NS))
    for connection, xml in zip(top.connections, xml_connections, strict=True):
        # FMPy looks for the transformation in the ssd namespace; the schema puts it in ssc.
        transform = xml.find("ssc:LinearTransformation", NS)
        if transform is None:
            transform = xml.find("ssd:LinearTransformation", NS)
        factor = float(transform.get("factor", 1.0)) if transform is not None else 1.0
        offset = float(transform.get("offset", 0.0)) if transform is not None else 0.0
        start, end = connection.startElement, connection.endElement
        if start is None and end is None:
            raise ValueError(f"{path}: a connection joins two system connectors; not supported")
        if start is None:
            if kinds.get(connection.startConnector) != "input":
                raise ValueError(f"{path}: {connection.startConnector} is not a system input")
            target = f"{end}.{connection.endConnector}"
            input_targets.setdefault(connection.startConnector, []).append(target)
        elif end is None:
            if kinds.get(connection.endConnector) != "output":
                raise ValueError(f"{path}: {connection.endConnector} is not a system output")
            system.add_output(connection.endConnector, f"{start}.{connection.startConnector}")
        else:
            system.connect(
                f"{start}.{connection.startConnector}",
                f"{end}.{connection.endConnector}",
                factor=factor,
                offset=offset,
            )
    for name, targets in input_targets.items():
        system.add_input(name, targets)
    experiment = root.find("ssd:DefaultExperiment", NS)
    if experiment is not None:
        for attribute, key in (("startTime", "start_time"), ("stopTime", "stop_time")):
            if experiment.get(attribute) is not None:
                system.experiment[key] = float(experiment.get(attribute))
    ours = root.find(
        f"ssd:Annotations/ssc:Annotation[@type='{ANNOTATION_TYPE}']/fmitwin:Experiment", NS
    )
    if ours is not None:
        if ours.get("step") is not None:
            system.experiment["step"] = float(ours.get("step"))
        if ours.get("method") is not None:
            system.experiment["method"] = ours.get("method")
        held: dict[str, Any] = {
            i.get("name"): float(i.get("value")) for i in ours.findall("fmitwin:Input", NS)
        }
        table = ours.find("fmitwin:Inputs", NS)
        if table is not None:
            held.update(_read_inputs(resources, table.get("source", ""), path))
        unknown = sorted(set(held) - set(system.inputs))
        if unknown:
            raise ValueError(
                f"{path}: the experiment gives {', '.join(unknown)}, which are not system inputs"
            )
        if held:
            system.experiment["inputs"] = held
    return system


def _read_inputs(resources: Path, source: str, path: Path) -> dict[str, Any]:
    """name -> (times, values) from the experiment's inputs table (a CSV resource)."""
    file = (resources / source).resolve()
    if not file.is_relative_to(resources.resolve()) or not file.is_file():
        raise ValueError(
            f"{path}: the experiment's inputs table {source!r} is not a file in the SSP"
        )
    with open(file, newline="") as f:
        rows = list(csv.reader(f))
    where = f"{path}: {source}"
    if not rows or rows[0][:1] != ["time"] or len(rows[0]) < 2:
        raise ValueError(f"{where}: the first row must be 'time' and the input names")
    if any(len(row) != len(rows[0]) for row in rows):
        raise ValueError(f"{where}: every row needs {len(rows[0])} numbers")
    try:
        columns = np.array([[float(x) for x in row] for row in rows[1:]], dtype=float)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return read_signals(dict(zip(rows[0], columns.reshape(-1, len(rows[0])).T, strict=True)), where)


def inputs_table(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """System inputs (name -> constant or (times, values), as an SSP's experiment holds them) as
    one table: a ``time`` column and one column per input, constants repeated. The inputs that
    vary over time must share their times (as the SSP's inputs table does)."""
    signals = read_signals(inputs, "inputs")
    varying = {n: t for n, (t, _) in signals.items() if t.size > 1}
    times = next(iter(varying.values()), np.zeros(1))
    for name, t in varying.items():
        if not np.array_equal(t, times):
            raise ValueError(
                f"inputs: {name!r} varies at other times than {next(iter(varying))!r}; give the "
                "inputs that vary as one table (a 'time' column and one column per input)"
            )
    return {
        "time": times,
        **{n: v if n in varying else np.full(times.size, v[0]) for n, (_, v) in signals.items()},
    }


def _parameter_values(component: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for binding in component.parameterBindings:
        prefix = binding.prefix or ""
        for parameter_set in binding.parameterValues:
            for p in parameter_set.parameters:
                name = p.name[len(prefix) :] if prefix and p.name.startswith(prefix) else p.name
                values[name] = _typed(p.type, p.value)
    return values


def _typed(type_name: str, text: str) -> Any:
    if type_name == "Real":
        return float(text)
    if type_name in ("Integer", "Enumeration"):
        return int(text)
    if type_name == "Boolean":
        return text.strip().lower() in ("true", "1")
    return text


# -- writing ---------------------------------------------------------------------------------------


def write_ssp(
    system: System,
    path: str | os.PathLike[str],
    *,
    start_time: float | None = None,
    stop_time: float | None = None,
    step: float | None = None,
    method: str | None = None,
    inputs: Any = None,
) -> Path:
    """Writes ``system`` as an SSP archive at ``path`` (the FMUs are copied into it).

    The default experiment (start_time, stop_time) and fmitwin's step/method default to the
    system's ``experiment``; ``inputs`` (the system inputs over time, in any form
    :meth:`System.simulate` takes: constants, (times, values) pairs, a table with a ``time``
    column; step changes included) are stored with them, so that ``fmitwin simulate system.ssp``
    runs the same experiment. ``read_ssp`` puts them in ``experiment["inputs"]``: name ->
    constant, or (times, values) for an input that varies. The inputs that vary must share
    their times (one table).
    """
    path = Path(path)
    if path.suffix.lower() != ".ssp":
        raise ValueError(f"path: {path} must end in .ssp")
    experiment = dict(system.experiment)
    for key, value in (
        ("start_time", start_time),
        ("stop_time", stop_time),
        ("step", step),
        ("method", method),
        ("inputs", inputs),
    ):
        if value is not None:
            experiment[key] = value
    if "inputs" in experiment:
        unknown = set(experiment["inputs"]) - set(system.inputs)
        if unknown:
            raise KeyError(
                f"inputs: no system input {', '.join(sorted(unknown))} "
                f"(system inputs: {', '.join(system.inputs) or 'none'})"
            )
        experiment["inputs"] = {
            n: float(v[0]) if t.size == 1 else (t, v)
            for n, (t, v) in read_signals(experiment["inputs"], "inputs").items()
        }
        inputs_table(experiment["inputs"])  # refuses inputs varying at different times
    sources: dict[Path, str] = {}
    for inst in system.instances.values():
        if inst.model.path not in sources:
            stem = inst.model.path.stem
            name = f"resources/{stem}.fmu"
            n = 1
            while name in sources.values():
                n += 1
                name = f"resources/{stem}_{n}.fmu"
            sources[inst.model.path] = name
    xml = etree.tostring(
        _description(system, sources, experiment),
        xml_declaration=True,
        encoding="UTF-8",
        pretty_print=True,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("SystemStructure.ssd", xml)
        varying = _varying(experiment)
        if varying:
            zf.writestr(INPUTS_RESOURCE, _csv(varying))
        for fmu_path, name in sources.items():
            zf.write(fmu_path, name)
    return path


def _description(system: System, sources: dict[Path, str], experiment: dict[str, Any]) -> Any:
    E = etree.Element
    S = etree.SubElement
    root = E(
        _q("ssd", "SystemStructureDescription"),
        nsmap={k: v for k, v in NS.items() if k != "fmitwin"},
        version="1.0",
        name=system.name,
        generationTool="fmitwin",
    )
    xml_system = S(root, _q("ssd", "System"), name=system.name)
    if system.inputs or system.outputs:
        connectors = S(xml_system, _q("ssd", "Connectors"))
        for name, targets in system.inputs.items():
            _connector(connectors, name, "input", system.variable(targets[0], argument="inputs"))
        for name, source in system.outputs.items():
            _connector(connectors, name, "output", system.variable(source, argument="outputs"))
    elements = S(xml_system, _q("ssd", "Elements"))
    for inst in system.instances.values():
        component = S(
            elements,
            _q("ssd", "Component"),
            name=inst.name,
            type="application/x-fmu-sharedlibrary",
            source=sources[inst.model.path],
        )
        used = _used_variables(system, inst.name)
        if used:
            connectors = S(component, _q("ssd", "Connectors"))
            for variable_name in used:
                v = inst.model.variable(variable_name)
                _connector(connectors, v.name, v.causality, v)
        if inst.start_values:
            values = S(
                S(S(component, _q("ssd", "ParameterBindings")), _q("ssd", "ParameterBinding")),
                _q("ssd", "ParameterValues"),
            )
            parameter_set = S(values, _q("ssv", "ParameterSet"), version="1.0", name="start values")
            parameters = S(parameter_set, _q("ssv", "Parameters"))
            for name, value in inst.start_values.items():
                v = inst.model.variable(name)
                tag = _SSV_TYPES.get(v.kind, "String")
                text = str(value).lower() if isinstance(value, bool) else repr(value)
                if tag == "String":
                    text = str(value)
                S(S(parameters, _q("ssv", "Parameter"), name=name), _q("ssv", tag), value=text)
        annotation = S(
            S(component, _q("ssd", "Annotations")), _q("ssc", "Annotation"), type=ANNOTATION_TYPE
        )
        etree.SubElement(
            annotation,
            _q("fmitwin", "Instance"),
            nsmap={"fmitwin": NS["fmitwin"]},
            kind=inst.kind,
            stepMultiple=str(inst.step_multiple),
        )
    links = (
        [(c.source, c.target, c) for c in system.connections]
        + [(None, t, name) for name, targets in system.inputs.items() for t in targets]
        + [(s, None, name) for name, s in system.outputs.items()]
    )
    if links:
        connections = S(xml_system, _q("ssd", "Connections"))
        for source, target, what in links:
            attributes = {}
            if source is None:
                attributes["startConnector"] = what
            else:
                attributes["startElement"], attributes["startConnector"] = source.split(".", 1)
            if target is None:
                attributes["endConnector"] = what
            else:
                attributes["endElement"], attributes["endConnector"] = target.split(".", 1)
            xml = S(connections, _q("ssd", "Connection"), **attributes)
            if source and target and (what.factor != 1.0 or what.offset != 0.0):
                S(
                    xml,
                    _q("ssc", "LinearTransformation"),
                    factor=repr(what.factor),
                    offset=repr(what.offset),
                )
    if "start_time" in experiment or "stop_time" in experiment:
        attributes = {}
        if "start_time" in experiment:
            attributes["startTime"] = repr(float(experiment["start_time"]))
        if "stop_time" in experiment:
            attributes["stopTime"] = repr(float(experiment["stop_time"]))
        S(root, _q("ssd", "DefaultExperiment"), **attributes)
    if {"step", "method", "inputs"} & set(experiment):
        annotation = S(
            S(root, _q("ssd", "Annotations")), _q("ssc", "Annotation"), type=ANNOTATION_TYPE
        )
        attributes = {}
        if "step" in experiment:
            attributes["step"] = repr(float(experiment["step"]))
        if "method" in experiment:
            attributes["method"] = str(experiment["method"])
        ours = etree.SubElement(
            annotation, _q("fmitwin", "Experiment"), nsmap={"fmitwin": NS["fmitwin"]}, **attributes
        )
        inputs = experiment.get("inputs", {})
        for name, value in inputs.items():
            if not isinstance(value, tuple):
                S(ours, _q("fmitwin", "Input"), name=name, value=repr(value))
        if any(isinstance(value, tuple) for value in inputs.values()):
            S(ours, _q("fmitwin", "Inputs"), source=INPUTS_RESOURCE)
    return root


def _varying(experiment: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The table of the experiment's inputs that vary over time (empty: none do)."""
    inputs = {n: v for n, v in experiment.get("inputs", {}).items() if isinstance(v, tuple)}
    return inputs_table(inputs) if inputs else {}


def _csv(table: Mapping[str, np.ndarray]) -> str:
    """The table as CSV, each number as Python's repr (it reads back to the same float)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(table)
    writer.writerows(zip(*([repr(float(x)) for x in c] for c in table.values()), strict=True))
    return text.getvalue()


def _connector(parent: Any, name: str, kind: str, variable: Any) -> None:
    kind = {"parameter": "parameter", "input": "input", "output": "output"}.get(kind, "output")
    connector = etree.SubElement(parent, _q("ssd", "Connector"), name=name, kind=kind)
    tag = _SSV_TYPES.get(variable.kind)
    if tag is not None:
        attributes = {"unit": variable.unit} if tag == "Real" and variable.unit else {}
        etree.SubElement(connector, _q("ssc", tag), **attributes)


def _used_variables(system: System, instance: str) -> list[str]:
    """Variables of ``instance`` referenced by connections or system connectors, in order."""
    names: list[str] = []
    ends = [e for c in system.connections for e in (c.source, c.target)]
    ends += [t for targets in system.inputs.values() for t in targets]
    ends += list(system.outputs.values())
    for end in ends:
        inst, variable = end.split(".", 1)
        if inst == instance and variable not in names:
            names.append(variable)
    return names
