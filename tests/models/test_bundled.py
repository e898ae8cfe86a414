"""Every bundled FMU: FMPy validation, simulation in ME and CS under FMI 2 and 3, directional
derivatives against finite differences, FMU state save/restore, and rejected bad input."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import fmitwin.models
import numpy as np
import pytest
from fmpy import extract, simulate_fmu
from fmpy.build import build_platform_binary
from fmpy.fmi1 import FMICallException
from fmpy.validation import validate_fmu
from support.bundled_models import (
    MODELS,
    OPERATING_POINTS,
    VERSIONS,
    instance,
    instantiate,
    unpacked,
)

CASES = [(name, version) for name in MODELS for version in VERSIONS]


def test_available_lists_every_model():
    assert fmitwin.models.available() == sorted(MODELS)


def test_path_names_the_fmi_version():
    assert fmitwin.models.path("heated_tank").name == "heated_tank.fmu"
    assert fmitwin.models.path("heated_tank", fmi_version=3).name == "heated_tank_fmi3.fmu"


def test_path_rejects_unknown_names_with_suggestions():
    with pytest.raises(ValueError, match=r"'heated_tnak'.*did you mean 'heated_tank'"):
        fmitwin.models.path("heated_tnak")


def test_path_rejects_unknown_fmi_versions():
    with pytest.raises(ValueError, match="fmi_version=1 is not supported: use 2 or 3"):
        fmitwin.models.path("heated_tank", fmi_version=1)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_fmpy_validation_passes(name, version):
    path = fmitwin.models.path(name, version)
    assert validate_fmu(str(path)) == []
    description = unpacked(name, version)[1]
    assert description.fmiVersion == f"{version}.0"
    for kind in (description.modelExchange, description.coSimulation):
        assert kind.modelIdentifier == name
        assert kind.canGetAndSetFMUstate
        assert kind.canSerializeFMUstate
        if version == 2:
            assert kind.providesDirectionalDerivative
        else:  # FMPy keeps FMI 3's plural attribute only in the XML
            assert kind.providesAdjointDerivatives
            assert 'providesDirectionalDerivatives="true"' in _model_description_xml(path)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_inputs_carry_a_start_value_and_no_initial_attribute(name, version):
    # FMI 2.0 and 3.0 both forbid `initial` on inputs; importers such as libcosim reject it.
    root = ET.fromstring(_model_description_xml(fmitwin.models.path(name, version)))
    inputs = [v for v in root.iter() if v.get("causality") == "input"]
    assert inputs
    for variable in inputs:
        assert "initial" not in variable.attrib, variable.get("name")
        start = variable.get("start") or next(iter(variable), variable).get("start")
        assert start is not None, variable.get("name")


def _model_description_xml(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("modelDescription.xml").decode()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
def test_fmi2_and_fmi3_agree(name, fmi_type):
    results = [
        simulate_fmu(str(fmitwin.models.path(name, v)), fmi_type=fmi_type, relative_tolerance=1e-9)
        for v in VERSIONS
    ]
    assert results[0].dtype.names == results[1].dtype.names
    for column in results[0].dtype.names:
        assert np.all(np.isfinite(results[0][column]))
        if fmi_type == "CoSimulation":  # the same binary code: bit-identical
            np.testing.assert_array_equal(results[0][column], results[1][column])
        else:
            np.testing.assert_allclose(results[0][column], results[1][column], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_directional_derivatives_match_finite_differences(name, version):
    with instance(name, version) as inst:
        inst.set(**OPERATING_POINTS[name])
        inst.fmu.enterContinuousTimeMode()
        # Off the start values too, so that every term of the Jacobian is exercised.
        x0 = np.array([inst.get(s)[0] for s in inst.states])
        x0 += 0.21 * np.maximum(1.0, np.abs(x0))
        inst.set_continuous_states(x0)
        unknowns = inst.derivatives + inst.outputs
        knowns = inst.states + inst.inputs
        analytic = np.column_stack(
            [inst.directional(unknowns, knowns, np.eye(len(knowns))[j]) for j in range(len(knowns))]
        )

        def evaluate(j, delta):
            x = x0.copy()
            if j < len(x0):
                x[j] += delta
            inst.set_continuous_states(x)
            if j >= len(x0):
                base = inst.get(knowns[j])[0]
                inst.fmu.enterEventMode()
                inst.set(**{knowns[j]: base + delta})
                values = inst.get(*unknowns)
                inst.set(**{knowns[j]: base})
                inst.fmu.enterContinuousTimeMode()
                return values
            return inst.get(*unknowns)

        for j, known in enumerate(knowns):
            value = inst.get(known)[0]
            delta = 1e-6 * max(1.0, abs(value))
            fd = (evaluate(j, delta) - evaluate(j, -delta)) / (2 * delta)
            scale = np.maximum(np.abs(analytic[:, j]), np.abs(fd)).max() + 1e-12
            np.testing.assert_allclose(
                analytic[:, j], fd, rtol=1e-6, atol=1e-7 * scale, err_msg=f"d/d{known}"
            )
        inst.set_continuous_states(x0)
        if version == 3:  # the adjoint is the transpose of the same Jacobian
            seed = np.linspace(0.5, 1.5, len(unknowns))
            adjoint = inst.fmu.getAdjointDerivative(
                [inst.vr[u] for u in unknowns],
                [inst.vr[k] for k in knowns],
                list(seed),
                nSensitivity=len(knowns),
            )
            np.testing.assert_allclose(adjoint, seed @ analytic, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_fmu_state_restores_exactly(name, version):
    description = unpacked(name, version)[1]
    step = float(description.defaultExperiment.stepSize)
    with instance(name, version, "CoSimulation") as inst:
        inst.set(**OPERATING_POINTS[name])
        watched = inst.states + inst.outputs
        t = 0.0
        for _ in range(5):
            inst.fmu.doStep(t, step)
            t += step
        saved_time = t
        state = inst.get_state()
        before = inst.get(*watched)
        first = []
        for _ in range(5):
            inst.fmu.doStep(t, step)
            t += step
            first.append(inst.get(*watched))
        inst.set_state(state)
        np.testing.assert_array_equal(inst.get(*watched), before)
        restored = inst.deserialize(inst.serialize(state))
        inst.free_state(state)
        t = saved_time
        for expected in first:
            inst.fmu.doStep(t, step)
            t += step
            np.testing.assert_array_equal(inst.get(*watched), expected)
        inst.set_state(restored)
        np.testing.assert_array_equal(inst.get(*watched), before)
        inst.free_state(restored)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_out_of_range_value_is_rejected_and_changes_nothing(name, version):
    with instance(name, version, "CoSimulation") as inst:
        variable = next(
            v
            for v in inst.description.modelVariables
            if v.variability == "tunable" and v.min is not None
        )
        before = inst.get(variable.name)
        with pytest.raises(FMICallException):
            inst.set(**{variable.name: float(variable.min) - 1.0})
        np.testing.assert_array_equal(inst.get(variable.name), before)
        assert any(
            f"Cannot set '{variable.name}'" in m and "it must lie in" in m for m in inst.messages
        )


@pytest.mark.parametrize(("name", "version"), CASES)
def test_fixed_parameter_after_initialization_is_rejected(name, version):
    with instance(name, version, "CoSimulation") as inst:
        before = inst.get("cs_max_step")
        with pytest.raises(FMICallException):
            inst.set(cs_max_step=1.0)
        np.testing.assert_array_equal(inst.get("cs_max_step"), before)
        assert any("it is a fixed parameter" in m for m in inst.messages)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_wrong_guid_refuses_to_instantiate_and_says_why(name, version):
    with pytest.raises(Exception, match="(?i)failed to instantiate"):
        instantiate(name, version, guid="{00000000-0000-0000-0000-000000000000}")


@pytest.mark.parametrize(("name", "version"), CASES)
def test_doStep_must_continue_from_the_current_time(name, version):
    with instance(name, version, "CoSimulation") as inst:
        with pytest.raises(FMICallException):
            inst.fmu.doStep(5.0, 1.0)
        assert any("communication points must follow each other" in m for m in inst.messages)


@pytest.mark.parametrize("version", VERSIONS)
def test_fmu_state_of_another_interface_is_rejected(version):
    with (
        instance("heated_tank", version) as me,
        instance("heated_tank", version, "CoSimulation") as cs,
    ):
        state = me.get_state()
        with pytest.raises(FMICallException):
            cs.set_state(state)
        me.free_state(state)
        assert any("restore it into an instance of the same interface" in m for m in cs.messages)


@pytest.mark.parametrize("version", VERSIONS)
def test_fmu_rebuilds_from_its_sources_with_fmpy(version, tmp_path):
    """The FMUs carry their C sources: FMPy's build tooling recompiles them (as on a platform we
    ship no binary for) into a binary that simulates bit-identically."""
    shipped = fmitwin.models.path("centrifugal_pump", version)
    directory = Path(extract(str(shipped), unzipdir=str(tmp_path / "fmu")))
    shutil.rmtree(directory / "binaries")
    (tmp_path / "build").mkdir()
    build_platform_binary(directory, build_dir=tmp_path / "build")
    rebuilt = simulate_fmu(str(directory), fmi_type="CoSimulation")
    reference = simulate_fmu(str(shipped), fmi_type="CoSimulation")
    for column in reference.dtype.names:
        np.testing.assert_array_equal(rebuilt[column], reference[column])
    assert (directory / "documentation" / "CentrifugalPump.mo").is_file()


def test_missing_fmus_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(fmitwin.models, "_model_directories", lambda: [tmp_path / "models"])
    with pytest.raises(FileNotFoundError, match="reinstall fmitwin with 'pip install .'"):
        fmitwin.models.path("heated_tank")


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_value_reference_is_an_error_naming_the_range(version):
    with instance("dc_motor", version) as inst:
        with pytest.raises(FMICallException):
            inst.fmu.getReal([999]) if version == 2 else inst.fmu.getFloat64([999])
        assert any("Value reference 999 does not exist" in m for m in inst.messages)


@pytest.mark.parametrize(("name", "version"), CASES)
def test_reset_returns_to_the_start_values(name, version):
    step = float(unpacked(name, version)[1].defaultExperiment.stepSize)
    with instance(name, version, "CoSimulation") as inst:
        watched = inst.states + inst.outputs
        fresh = inst.get(*watched)
        inst.set(**OPERATING_POINTS[name])
        inst.fmu.doStep(0.0, step)
        inst.fmu.terminate()
        inst.fmu.reset()
        if version == 2:
            inst.fmu.setupExperiment(startTime=0.0)
            inst.fmu.enterInitializationMode()
        else:
            inst.fmu.enterInitializationMode(startTime=0.0)
        inst.fmu.exitInitializationMode()
        np.testing.assert_array_equal(inst.get(*watched), fresh)
