"""Every bundled FMU: FMPy validation, simulation in ME and CS under FMI 2 and 3, directional
derivatives against finite differences, FMU state save/restore, and rejected bad input."""

from __future__ import annotations

import zipfile

import fmitwin.models
import numpy as np
import pytest
from _models_support import MODELS, VERSIONS, instance, instantiate, unpacked
from fmpy import simulate_fmu
from fmpy.fmi1 import FMICallException
from fmpy.validation import validate_fmu

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


def _operating_point(inst):
    """Nudges inputs off their start values so that derivatives are checked somewhere generic."""
    for variable in inst.inputs:
        low, high = _range(inst, variable)
        inst.set(**{variable: low + 0.37 * (high - low)})


def _range(inst, name):
    variable = next(v for v in inst.description.modelVariables if v.name == name)
    start = float(variable.start)
    low = float(variable.min) if variable.min is not None else start - 1.0
    high = float(variable.max) if variable.max is not None else max(start, low) + 1.0 + abs(start)
    return low, high


@pytest.mark.parametrize(("name", "version"), CASES)
def test_directional_derivatives_match_finite_differences(name, version):
    with instance(name, version) as inst:
        _operating_point(inst)
        inst.fmu.enterContinuousTimeMode()
        x0 = np.array([inst.get(s)[0] for s in inst.states])
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
        _operating_point(inst)
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
def test_out_of_range_input_is_rejected_and_changes_nothing(name, version):
    with instance(name, version, "CoSimulation") as inst:
        variable = next(
            v for v in inst.description.modelVariables if v.causality == "input" and v.min
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
