"""SSP export and import of a System: schema-valid, and a round trip that simulates identically."""

import zipfile

import fmitwin.models
import numpy as np
import pytest
from fmitwin.fmu import load_fmu
from fmitwin.ssp import read_ssp, write_ssp
from fmitwin.system import System
from fmpy.ssp.ssd import read_ssd


@pytest.fixture(scope="module")
def plant():
    """Two FMI 2 tanks (one multi-rate) heated by an FMI 3 motor's electric power."""
    tank = load_fmu(fmitwin.models.path("heated_tank"))
    motor = load_fmu(fmitwin.models.path("dc_motor", 3))
    system = System("plant")
    system.add("a", tank, start_values={"T": 350.0, "UA": 35.0})
    system.add("b", tank, step_multiple=2)
    system.add("m", motor, start_values={"R": 1.5})
    system.connect("a.Q_loss", "b.P_heater", factor=0.5, offset=10.0)
    system.connect("m.P_electric", "a.P_heater")
    system.add_input("V", ["m.V"])
    system.add_output("Tb", "b.T")
    system.add_output("w", "m.w")
    return system


def structure(system):
    return (
        system.name,
        {
            n: (i.model.path.name, i.kind, i.step_multiple, i.start_values)
            for n, i in system.instances.items()
        },
        system.connections,
        system.inputs,
        system.outputs,
    )


def test_round_trip_keeps_the_system_and_its_results(plant, tmp_path):
    path = write_ssp(plant, tmp_path / "plant.ssp", stop_time=2.0, step=0.01, method="gauss_seidel")
    read_ssd(str(path), validate=True)  # FMPy's schema validation
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == [
            "SystemStructure.ssd",
            "resources/dc_motor_fmi3.fmu",
            "resources/heated_tank.fmu",
        ]
    back = read_ssp(path)
    assert structure(back) == structure(plant)
    assert back.experiment == {"stop_time": 2.0, "step": 0.01, "method": "gauss_seidel"}
    expected = plant.simulate(1.0, 0.01, method="gauss_seidel", inputs={"V": 12.0})
    result = back.simulate(1.0, 0.01, method="gauss_seidel", inputs={"V": 12.0})
    np.testing.assert_array_equal(result.data, expected.data)
    # and again: exporting the imported system gives the same description
    again = write_ssp(back, tmp_path / "again.ssp")
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(again) as b:
        assert a.read("SystemStructure.ssd") == b.read("SystemStructure.ssd")


def test_reads_a_bare_ssd_beside_its_fmus(plant, tmp_path):
    path = write_ssp(plant, tmp_path / "plant.ssp")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(folder)
    system = read_ssp(folder / "SystemStructure.ssd")
    assert structure(system) == structure(plant)


def test_bad_files_are_rejected_with_the_reason(plant, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such SSP file"):
        read_ssp(tmp_path / "missing.ssp")
    (tmp_path / "text.ssp").write_text("not a zip")
    with pytest.raises(ValueError, match="not an SSP archive"):
        read_ssp(tmp_path / "text.ssp")
    with zipfile.ZipFile(tmp_path / "empty.ssp", "w") as zf:
        zf.writestr("readme.txt", "")
    with pytest.raises(ValueError, match="no SystemStructure.ssd"):
        read_ssp(tmp_path / "empty.ssp")
    good = write_ssp(plant, tmp_path / "plant.ssp")
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tmp_path / "nofmu.ssp", "w") as dst:
        dst.writestr("SystemStructure.ssd", src.read("SystemStructure.ssd"))
    with pytest.raises(
        FileNotFoundError, match=r"component 'a' refers to resources/heated_tank.fmu"
    ):
        read_ssp(tmp_path / "nofmu.ssp")
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tmp_path / "invalid.ssp", "w") as dst:
        xml = src.read("SystemStructure.ssd").replace(b'version="1.0"', b"", 1)
        dst.writestr("SystemStructure.ssd", xml)
    with pytest.raises(ValueError, match="invalid SystemStructure.ssd"):
        read_ssp(tmp_path / "invalid.ssp")
    with pytest.raises(ValueError, match="must end in .ssp"):
        write_ssp(plant, tmp_path / "plant.zip")


def test_simulate_command_runs_an_ssp_like_an_fmu(plant, tmp_path):
    import pandas as pd
    from fmitwin.cli import main

    path = write_ssp(plant, tmp_path / "plant.ssp", method="gauss_seidel")
    pd.DataFrame({"time": [0.0, 1.0], "V": [12.0, 24.0]}).to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    code = main(
        [
            "simulate",
            str(path),
            "--stop",
            "0.5",
            "--step",
            "0.01",
            "--set",
            "a.T=340",
            "--input",
            str(tmp_path / "in.csv"),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    expected = plant.simulate(
        0.5,
        0.01,
        method="gauss_seidel",
        start_values={"a.T": 340.0},
        inputs={"V": ([0.0, 1.0], [12.0, 24.0])},
    )
    frame = pd.read_csv(out, index_col="time")
    assert list(frame.columns) == ["Tb", "w"]
    np.testing.assert_array_equal(frame["w"].to_numpy(), expected["w"])
    assert main(["simulate", str(path), "--kind", "me"]) == 1


def test_info_command_describes_an_ssp_system(plant, tmp_path, capsys):
    from fmitwin.cli import main

    path = write_ssp(plant, tmp_path / "plant.ssp", stop_time=60.0, method="gauss_seidel")
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "System plant",
        "Components (3):",
        "  a: HeatedTank (heated_tank.fmu, cs)",
        "    values: T = 350.0, UA = 35.0",
        "  b: HeatedTank (heated_tank.fmu, cs, every 2 steps)",
    ]
    assert "  a.Q_loss * 0.5 + 10 -> b.P_heater" in lines
    assert "  m.P_electric -> a.P_heater" in lines
    assert lines[lines.index("Inputs (1):") + 1] == "  V -> m.V"
    assert "  Tb <- b.T" in lines
    assert "method = 'gauss_seidel'" in lines[-1] and "stop_time = 60.0" in lines[-1]
    assert main(["info", str(tmp_path / "missing.ssp")]) == 1
    assert "missing.ssp" in capsys.readouterr().err


def test_simulate_command_holds_a_system_input_given_by_set(plant, tmp_path, capsys):
    import pandas as pd
    from fmitwin.cli import main

    path = write_ssp(plant, tmp_path / "plant.ssp", method="gauss_seidel")
    out = tmp_path / "out.csv"
    command = ["simulate", str(path), "--stop", "0.5", "--step", "0.01", "-o", str(out)]
    assert main([*command, "--set", "V=24", "--set", "a.T=340"]) == 0
    expected = plant.simulate(
        0.5, 0.01, method="gauss_seidel", start_values={"a.T": 340.0}, inputs={"V": 24.0}
    )
    frame = pd.read_csv(out, index_col="time")
    np.testing.assert_array_equal(frame["w"].to_numpy(), expected["w"])
    np.testing.assert_array_equal(frame["Tb"].to_numpy(), expected["Tb"])
    pd.DataFrame({"time": [0.0], "V": [12.0]}).to_csv(tmp_path / "in.csv", index=False)
    capsys.readouterr()
    assert main([*command, "--set", "V=24", "--input", str(tmp_path / "in.csv")]) == 1
    assert "--set V: the --input file gives V too" in capsys.readouterr().err


def test_stored_inputs_and_method_make_the_shell_run_the_python_run(plant, tmp_path):
    import pandas as pd
    from fmitwin.cli import main

    path = write_ssp(plant, tmp_path / "plant.ssp", method="gauss_seidel", inputs={"V": 24.0})
    assert read_ssp(path).experiment == {"method": "gauss_seidel", "inputs": {"V": 24.0}}
    out = tmp_path / "out.csv"
    assert main(["simulate", str(path), "--stop", "0.5", "--step", "0.01", "-o", str(out)]) == 0
    expected = plant.simulate(0.5, 0.01, method="gauss_seidel", inputs={"V": 24.0})
    frame = pd.read_csv(out, index_col="time")
    np.testing.assert_array_equal(frame["w"].to_numpy(), expected["w"])
    from fmitwin.study import run_study

    study = run_study(
        read_ssp(path), {"a.UA": [35.0]}, stop_time=0.5, step=0.01, workers=0, progress=False
    )
    assert study.table["w.final"].iloc[0] == expected["w"][-1]
    # a sampled input replaces the stored one, as --set does
    sampled = run_study(
        read_ssp(path), {"V": [12.0]}, stop_time=0.5, step=0.01, workers=0, progress=False
    )
    other = plant.simulate(0.5, 0.01, method="gauss_seidel", inputs={"V": 12.0})
    assert sampled.table["w.final"].iloc[0] == other["w"][-1]
    with pytest.raises(KeyError, match="no system input P .system inputs: V"):
        write_ssp(plant, tmp_path / "bad.ssp", inputs={"P": 1.0})


def test_inputs_over_time_are_stored_and_the_shell_run_is_the_python_run(plant, tmp_path):
    import pandas as pd
    from fmitwin.cli import main
    from fmitwin.study import run_study

    motor = load_fmu(fmitwin.models.path("dc_motor", 3))
    system = System("driven")
    system.add("m", motor)
    system.add_input("V", ["m.V"])
    system.add_input("load", ["m.tau_load"])
    system.add_output("w", "m.w")
    # a step change at t = 0.2 (the time given twice), a ramp, and a constant load
    volts = ([0.0, 0.2, 0.2, 0.5], [12.0, 12.0, 24.0, 30.0 + 1 / 3])
    path = write_ssp(system, tmp_path / "driven.ssp", inputs={"V": volts, "load": 0.01})
    read_ssd(str(path), validate=True)
    with zipfile.ZipFile(path) as zf:
        assert "resources/inputs.csv" in zf.namelist()
        assert zf.read("resources/inputs.csv").decode().splitlines()[0] == "time,V"
    back = read_ssp(path)
    stored = back.experiment["inputs"]
    assert stored["load"] == 0.01
    np.testing.assert_array_equal(stored["V"][0], volts[0])
    np.testing.assert_array_equal(stored["V"][1], volts[1])  # 30 + 1/3 to the last bit
    expected = system.simulate(0.5, 0.01, inputs={"V": volts, "load": 0.01})
    python_run = back.simulate(0.5, 0.01, inputs=stored)
    np.testing.assert_array_equal(python_run["w"], expected["w"])
    out = tmp_path / "out.csv"
    assert main(["simulate", str(path), "--stop", "0.5", "--step", "0.01", "-o", str(out)]) == 0
    shell_run = pd.read_csv(out, index_col="time")
    np.testing.assert_array_equal(shell_run["w"].to_numpy(), expected["w"])
    study = run_study(back, {"m.R": [1.2]}, stop_time=0.5, step=0.01, workers=0, progress=False)
    assert study.table["w.final"].iloc[0] == expected["w"][-1]
    # written again from the read system, the same archive content
    again = write_ssp(back, tmp_path / "again.ssp")
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(again) as b:
        assert a.read("resources/inputs.csv") == b.read("resources/inputs.csv")
    # inputs that vary at different times cannot share the one table
    with pytest.raises(ValueError, match="'load' varies at other times than 'V'"):
        write_ssp(system, tmp_path / "bad.ssp", inputs={"V": volts, "load": ([0, 1], [0, 0.1])})


def test_simulate_command_names_what_an_unknown_set_name_could_be(plant, tmp_path, capsys):
    from fmitwin.cli import main

    path = write_ssp(plant, tmp_path / "plant.ssp")
    for name in ("X", "a.X", "q.UA"):
        assert main(["simulate", str(path), "--stop", "0.1", "--set", f"{name}=1"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"fmitwin simulate: --set {name}: plant.ssp has no input or variable")
        assert "system inputs: V; parameters: a.m, a.c_p, a.UA," in err and "m.R" in err
        assert f"`fmitwin info {path}` lists all" in err
    assert main(["simulate", str(path), "--stop", "0.1", "--set", "a.ua=1"]) == 1
    assert "(did you mean a.UA, b.UA?)" in capsys.readouterr().err


def test_the_readme_cascade_gives_the_same_numbers_from_the_shell(tmp_path, monkeypatch):
    import pandas as pd
    from fmitwin.cli import main

    monkeypatch.chdir(tmp_path)
    tank = load_fmu(fmitwin.models.path("heated_tank"))
    system = System("cascade")  # README.md, "Couple FMUs into a system", as written there
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank)
    system.connect("a.Q_loss", "b.P_heater")
    system.add_input("P", "a.P_heater")
    run = system.simulate(3600.0, 60.0, method="gauss_seidel", inputs={"P": 2000.0})
    write_ssp(system, "cascade.ssp", method="gauss_seidel", inputs={"P": 2000.0})
    command = "simulate cascade.ssp --stop 3600 --step 60 -o cascade.csv"
    assert main(command.split()) == 0
    shell = pd.read_csv("cascade.csv", index_col="time")
    assert shell["a.T"].iloc[-1] == run["a.T"][-1]  # 348.01 K, not 333.45 as without the inputs
    np.testing.assert_array_equal(shell["b.T"].to_numpy(), run["b.T"])


def test_a_broken_inputs_table_is_refused_naming_the_file(plant, tmp_path):
    path = write_ssp(plant, tmp_path / "plant.ssp", inputs={"V": ([0.0, 1.0], [12.0, 24.0])})
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    cases = {
        b"time,V\n0.0,12.0\n1.0\n": "every row needs 2 numbers",
        b"time,V\n0.0,12.0\n1.0,twelve\n": "could not convert",
        b"time,V\n1.0,12.0\n0.0,24.0\n": "'time' must be finite and non-decreasing",
        b"time,W\n0.0,12.0\n": "gives W, which are not system inputs",
    }
    for text, message in cases.items():
        broken = tmp_path / "broken.ssp"
        with zipfile.ZipFile(broken, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, text if name == "resources/inputs.csv" else data)
        with pytest.raises(ValueError, match=message) as info:
            read_ssp(broken)
        assert "broken.ssp" in str(info.value)
