"""load_fmu: model description, FMI 2.0 and 3.0, and the clear errors for bad FMUs."""

from __future__ import annotations

import shutil
import zipfile

import fmitwin
import fmitwin.models
import pytest
from fmitwin.cli import main
from fmitwin.fmu import FmuError


def test_model_lists_variables_states_and_capabilities(tank):
    assert tank.fmi_version in ("2.0", "3.0")
    assert tank.kinds == ("cs", "me")
    T = tank.variables["T"]
    assert (T.causality, T.variability, T.unit, T.start) == ("output", "continuous", "K", 293.15)
    assert T.kind == "real" and T.description
    assert [s.name for s in tank.states] == ["T"]
    assert [d.name for d in tank.derivatives] == ["der(T)"]
    assert [v.name for v in tank.inputs] == ["P_heater"]
    assert {v.name for v in tank.outputs} == {"T", "Q_loss"}
    assert {"m", "c_p", "UA", "T_ambient"} <= {p.name for p in tank.parameters}
    assert tank.default_experiment.stop_time == 36000.0
    assert tank.default_experiment.step_size == 60.0
    for kind in ("cs", "me"):
        caps = tank.capabilities[kind]
        assert caps.can_get_and_set_state and caps.provides_directional_derivatives
        assert caps.can_handle_variable_step


def test_unknown_variable_suggests_closest_names(tank):
    with pytest.raises(KeyError, match="Did you mean: P_heater"):
        tank.variable("P_heatr")


def test_start_value_of_wrong_type_is_rejected(tank):
    with pytest.raises(
        TypeError, match=r"start_values\['m'\]: m is (Real|Float64) and needs a number, got str"
    ):
        tank.check_start_values({"m": "heavy"})
    with pytest.raises(KeyError, match="Did you mean: UA"):
        tank.check_start_values({"UAA": 3.0})
    with pytest.raises(ValueError, match="cannot be set"):
        fmitwin.simulate(tank, 60.0, 60.0, start_values={"C": 1.0})


def test_initialize_failure_quotes_the_fmu_log(tank):
    with pytest.raises(FmuError) as info:
        fmitwin.simulate(tank, 60.0, 60.0, start_values={"m": 0.0})
    message = str(info.value)
    assert "heated_tank" in message and "initializing the FMU failed" in message
    assert "parameter 'm' must be > 0" in message  # the FMU's own log message


def test_not_a_zip(tmp_path):
    bad = tmp_path / "model.fmu"
    bad.write_text("hello")
    with pytest.raises(FmuError, match=r"model\.fmu: not an FMU \(the file is not a zip"):
        fmitwin.load_fmu(bad)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.fmu"):
        fmitwin.load_fmu(tmp_path / "nothere.fmu")


@pytest.mark.parametrize(
    ("member", "content", "problem"),
    [
        ("readme.txt", "no model here", "not an FMU .*no modelDescription.xml"),
        ("modelDescription.xml", "<fmiModelDescription fmiVersion=", "the .* could not be read"),
    ],
    ids=["no model description", "malformed model description"],
)
def test_zip_without_a_readable_model_description(tmp_path, member, content, problem):
    bad = tmp_path / "bad.fmu"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr(member, content)
    with pytest.raises(FmuError, match=f"bad.fmu: {problem}"):
        fmitwin.load_fmu(bad)


def test_directory_without_model_description(tmp_path):
    (tmp_path / "binaries").mkdir()
    with pytest.raises(FmuError, match="has no modelDescription.xml, so it is not an extracted"):
        fmitwin.load_fmu(tmp_path)


def test_fmi1_is_rejected(tmp_path):
    old = tmp_path / "old.fmu"
    with zipfile.ZipFile(old, "w") as z:
        z.writestr(
            "modelDescription.xml",
            '<?xml version="1.0"?><fmiModelDescription fmiVersion="1.0" modelName="m" '
            'modelIdentifier="m" guid="{x}"><ModelVariables/></fmiModelDescription>',
        )
    with pytest.raises(FmuError, match="old.fmu: FMI 1.0 FMUs are not supported.*2.0 or 3.0"):
        fmitwin.load_fmu(old)


def _rezip(source, target, keep):
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            if keep(item.filename):
                dst.writestr(item, src.read(item.filename))


def test_no_binary_for_this_platform_lists_platforms(tmp_path):
    # Move the binary to another platform's folder and drop the sources.
    source = fmitwin.models.path("heated_tank", 2)
    foreign = tmp_path / "foreign.fmu"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(foreign, "w") as dst:
        for item in src.infolist():
            name = item.filename
            if name.startswith("sources/") or name.endswith("/"):
                continue
            if name.startswith("binaries/"):
                name = f"binaries/win64/{name.rsplit('/', 1)[-1].replace('.so', '.dll')}"
            dst.writestr(name, src.read(item.filename))
    with pytest.raises(FmuError, match=r"no binary for this platform .*binaries for: win64"):
        fmitwin.load_fmu(foreign)
    info = fmitwin.load_fmu(foreign, require_binary=False)  # the description is still readable
    assert info.platforms == ("win64",)


def test_source_only_fmu_offers_and_performs_compilation(tmp_path):
    source_only = tmp_path / "source_only.fmu"
    _rezip(fmitwin.models.path("heated_tank", 2), source_only, lambda n: "binaries/" not in n)
    with pytest.raises(FmuError, match=r"ships its C sources.*load_fmu\(path, compile=True\)"):
        fmitwin.load_fmu(source_only)
    if shutil.which("cmake") is None:
        pytest.fail("cmake is needed to compile FMU sources (FMPy's build tooling)")
    compiled = fmitwin.load_fmu(source_only, compile=True)
    result = fmitwin.simulate(compiled, 600.0, 60.0, inputs={"time": [0.0], "P_heater": [1000.0]})
    reference = fmitwin.simulate(
        fmitwin.models.path("heated_tank", 2),
        600.0,
        60.0,
        inputs={"time": [0.0], "P_heater": [1000.0]},
    )
    assert (result["T"] == reference["T"]).all()


def test_kind_not_offered(tmp_path):
    me_only = tmp_path / "me_only.fmu"
    with zipfile.ZipFile(fmitwin.models.path("heated_tank", 2)) as src:
        xml = src.read("modelDescription.xml").decode()
    start = xml.index("<CoSimulation")
    end = xml.index(">", xml.index("</CoSimulation>") if "</CoSimulation>" in xml else start) + 1
    _rezip(fmitwin.models.path("heated_tank", 2), me_only, lambda n: n != "modelDescription.xml")
    with zipfile.ZipFile(me_only, "a") as dst:
        dst.writestr("modelDescription.xml", xml[:start] + xml[end:])
    model = fmitwin.load_fmu(me_only)
    assert model.kinds == ("me",)
    with pytest.raises(FmuError, match="does not support co-simulation.*kind='me'"):
        model.instantiate("cs")


def test_info_command_prints_summary(capsys, tank):
    assert main(["info", str(tank.path)]) == 0
    out = capsys.readouterr().out
    assert f"HeatedTank (FMI {tank.fmi_version})" in out
    assert "co-simulation (variable step, get/set state, directional derivatives)" in out
    assert "States (1): T [K]" in out
    assert "P_heater" in out and "Electric heater power" in out


def test_assignments_parse_into_each_variables_type(tank):
    from fmitwin.fmi_types import parse_assignments

    values = parse_assignments(["m=2.5", "UA=3"], tank.variable)
    assert values == {"m": 2.5, "UA": 3.0} and all(type(v) is float for v in values.values())
    with pytest.raises(ValueError, match=r"--set m: m is (Real|Float64); 'heavy' is not a number"):
        parse_assignments(["m=heavy"], tank.variable)
    with pytest.raises(ValueError, match="--set: expected NAME=VALUE, got 'm'"):
        parse_assignments(["m"], tank.variable)


def test_assignments_parse_integers_and_booleans(test_fmu):
    from fmitwin.fmi_types import parse_assignments

    model = fmitwin.load_fmu(test_fmu("all_types", 3))
    names = {v.type: v.name for v in model.variables.values() if v.causality == "input"}
    values = parse_assignments([f"{names['Int16']}=-7", f"{names['Boolean']}=TRUE"], model.variable)
    assert values == {names["Int16"]: -7, names["Boolean"]: True}
    with pytest.raises(ValueError, match="is not an integer"):
        parse_assignments([f"{names['Int16']}=1.5"], model.variable)
