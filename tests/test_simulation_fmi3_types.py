"""FMI 3.0 variables of every numeric type as inputs and recorded outputs of fmitwin.simulate,
on a test-only FMU built here from tests/fmus/all_types.c (inputs passed through to outputs of
the same type, a Float32 computed in float32, one state), against FMPy and exact values."""

from __future__ import annotations

from pathlib import Path

import fmitwin
import numpy as np
import pytest
from fmitwin import _core
from fmpy import simulate_fmu
from fmpy.validation import validate_fmu

TYPES = {  # input name -> numpy dtype of its column (FMPy's input format)
    "f64_in": np.float64,
    "f32_in": np.float32,
    "i8_in": np.int8,
    "u8_in": np.uint8,
    "i16_in": np.int16,
    "u16_in": np.uint16,
    "i32_in": np.int32,
    "u32_in": np.uint32,
    "i64_in": np.int64,
    "u64_in": np.uint64,
    "b_in": np.bool_,
    "e_in": np.int64,
}
TIMES = [0.0, 0.5, 0.5, 1.0]  # a step change at t = 0.5
COLUMNS = {  # every type's extremes; UInt64 above 2**63 - 1 (2**64 - 2**11 is a float64 too)
    "f64_in": [0.5, 0.5, 1.5, 2.0],
    "f32_in": [0.25, 0.25, 1.5, -2.75],
    "i8_in": [-128, -128, 127, 5],
    "u8_in": [0, 0, 255, 7],
    "i16_in": [-32768, -32768, 32767, -3],
    "u16_in": [0, 0, 65535, 9],
    "i32_in": [-(2**31), -(2**31), 2**31 - 1, 11],
    "u32_in": [0, 0, 2**32 - 1, 13],
    "i64_in": [-(2**62), -(2**62), 2**53, -17],
    "u64_in": [2**63, 2**63, 2**64 - 2**11, 19],
    "b_in": [False, False, True, False],
    "e_in": [0, 0, 10**12, 1],
}
STOP, STEP = 1.0, 0.25


@pytest.fixture(scope="module")
def all_types(test_fmu) -> Path:
    return test_fmu("all_types", 3)


def _signals() -> np.ndarray:
    dtype = [("time", np.float64)] + [(name, t) for name, t in TYPES.items()]
    rows = list(zip(TIMES, *COLUMNS.values(), strict=True))
    return np.array(rows, dtype=dtype)


def _outputs() -> list[str]:
    return [name.replace("_in", "_out") for name in TYPES] + ["f32_affine"]


def test_the_test_fmu_passes_fmpy_validation(all_types):
    assert validate_fmu(str(all_types)) == []


@pytest.mark.parametrize("kind", ["cs", "me"])
def test_every_numeric_type_is_driven_and_recorded_as_fmpy_does(all_types, kind):
    ours = fmitwin.simulate(all_types, STOP, STEP, kind=kind, inputs=_signals())
    theirs = simulate_fmu(
        str(all_types),
        stop_time=STOP,
        output_interval=STEP,
        fmi_type="CoSimulation" if kind == "cs" else "ModelExchange",
        input=_signals(),
    )
    # FMPy's model exchange also records the instant before each input event: compare the
    # communication points (the first row at each time).
    theirs = theirs[np.unique(theirs["time"], return_index=True)[1]]
    np.testing.assert_array_equal(ours.time, theirs["time"])
    for name in _outputs():
        # FMPy keeps each FMI type; fmitwin widens exactly into float64 / int64 / uint64 columns.
        assert ours[name].dtype == {"f": np.float64, "i": np.int64, "u": np.int64, "b": np.bool_}[
            theirs[name].dtype.kind
        ] or (name == "u64_out" and ours[name].dtype == np.uint64), name
        np.testing.assert_array_equal(ours[name], theirs[name].astype(ours[name].dtype), name)
    if kind == "cs":  # the FMU's own exact step: bit-identical to FMPy
        np.testing.assert_array_equal(ours["x"], theirs["x"])


@pytest.mark.parametrize("kind", ["cs", "me"])
def test_values_arrive_exactly(all_types, kind):
    result = fmitwin.simulate(all_types, STOP, STEP, kind=kind, inputs=_signals())
    # Discrete inputs hold; an output at a communication point shows the inputs set at the
    # previous one (the right-hand value from t = 0.5 on; the change at t = 1 comes too late).
    for name, column in COLUMNS.items():
        if name in ("f64_in", "f32_in"):
            continue
        out = result[name.replace("_in", "_out")]
        assert [int(v) for v in out] == [column[0]] * 3 + [column[2]] * 2, name
    u64 = result["u64_out"]
    assert u64.dtype == np.uint64 and int(u64[-2]) == 2**64 - 2**11  # no wrap above 2**63 - 1
    # Float32: interpolated, then rounded to float32, recorded widened; f32_affine in float32.
    # Co-simulation shows the inputs of the previous communication point, model exchange the
    # input at the point (before the event at t = 0.5).
    f32 = [0.25, 0.25, 0.25, 1.5, -0.625] if kind == "cs" else [0.25, 0.25, 0.25, -0.625, -2.75]
    f32 = np.array(f32, dtype=np.float32)
    np.testing.assert_array_equal(result["f32_out"], f32.astype(np.float64))
    affine = np.float32(3) * f32 + np.float32(0.1)
    np.testing.assert_array_equal(result["f32_affine"], affine.astype(np.float64))
    # x integrates f64_in: the FMU's Euler step on the values at the communication points, or
    # exactly (0.5 until t = 0.5, then linear from 1.5 to 2.0: right after the step change the
    # solver sees the new value, not the one before it).
    x1 = STEP * (0.5 + 0.5 + 1.5 + 1.75) if kind == "cs" else 0.5 * 0.5 + 0.5 * (1.5 + 2.0) / 2
    assert result["x"][-1] == pytest.approx(x1, rel=1e-9)


def test_uint64_start_value_above_int63_is_recorded_exactly(all_types):
    result = fmitwin.simulate(all_types, STOP, STEP, outputs=["u64_out", "e_out", "f32_affine"])
    assert result["u64_out"].dtype == np.uint64
    assert {int(v) for v in result["u64_out"]} == {2**64 - 1}
    assert result["e_out"].tolist() == [1] * 5
    small = fmitwin.simulate(all_types, STOP, STEP, start_values={"u64_in": 2**64 - 2})
    assert int(small["u64_out"][0]) == 2**64 - 2


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("i8_in", [0, 128], r"i8_in is Int8 \(int8, range -128..127\); 128 is outside"),
        ("u8_in", [-1, 0], r"u8_in is UInt8 \(uint8, range 0..255\)"),
        ("u16_in", [1.0, 2.5], r"u16_in is UInt16 .* whole numbers only; got 2.5"),
        ("i32_in", [np.nan, 0], r"i32_in is Int32 .* whole numbers only; got nan"),
        ("u64_in", [0.0, 2.0**64], r"u64_in is UInt64 \(uint64, range 0..18446744073709551615\)"),
        ("i64_in", np.array([0, 2**53 + 1], dtype=np.int64), r"9007199254740993 .* not exact"),
        ("f32_in", [0.0, 1e39], r"f32_in is Float32 \(finite values up to"),
    ],
)
def test_inputs_outside_their_type_are_refused_naming_the_variable(
    all_types, name, values, message
):
    with pytest.raises(ValueError, match=message):
        fmitwin.simulate(all_types, STOP, STEP, inputs={"time": [0.0, 1.0], name: values})


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"u8_in": 256}, ValueError, r"u8_in is UInt8 \(uint8, range 0..255\); 256 is outside"),
        ({"u64_in": 2**64}, ValueError, r"u64_in is UInt64"),
        ({"i16_in": 2.5}, TypeError, r"i16_in is Int16 and needs an integer"),
        ({"f32_in": -1e39}, ValueError, r"f32_in is Float32"),
    ],
)
def test_start_values_outside_their_type_are_refused(all_types, values, error, message):
    with pytest.raises(error, match=message):
        fmitwin.simulate(all_types, STOP, STEP, start_values=values)


def test_the_compiled_run_checks_the_whole_table_before_setting_anything(all_types):
    # Below simulate()'s own checks: the core refuses the table up front, with nothing set.
    instance = fmitwin.load_fmu(all_types).instantiate("cs")
    try:
        instance.initialize(0.0, STOP)
        sim = instance.simulator
        with pytest.raises(
            _core.FmuError, match=r"Int8 variable with value reference 3 .*-128..127"
        ):
            _core.SimulationRun(
                sim, 0.0, STOP, STEP, True, [0.0, 1.0], [1, 3],
                [_core.ScalarType.float64, _core.ScalarType.int8], [True, False],
                [7.0, 7.0, 5.0, 300.0], [], [], [], [],
            )  # fmt: skip
        assert sim.get_real([1, 21]).tolist() == [0.0, 0.0]
    finally:
        instance.free()


def test_string_variables_are_refused_naming_them(all_types):
    with pytest.raises(TypeError, match=r"outputs: label is String; numeric and Boolean"):
        fmitwin.simulate(all_types, STOP, STEP, outputs=["x", "label"])
    with pytest.raises(TypeError, match=r"inputs: label is String; tables drive numeric"):
        fmitwin.simulate(all_types, STOP, STEP, inputs={"time": [0.0], "label": ["on"]})
