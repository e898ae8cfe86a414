"""Bad experiment arguments and output files are refused before a run starts, with the fix."""

from __future__ import annotations

import math
import os

import fmitwin
import fmitwin.models
import numpy as np
import pandas as pd
import pytest
from fmitwin.cli import main
from fmitwin.run_checks import check_output_file, experiment_times


@pytest.fixture(scope="module")
def tank_path():
    return fmitwin.models.path("heated_tank", 2)


@pytest.mark.parametrize("stop", [math.inf, math.nan])
def test_a_stop_time_that_is_not_finite_is_refused(tank_path, stop):
    with pytest.raises(ValueError, match="stop_time: must be a finite number"):
        fmitwin.simulate(tank_path, stop, 1.0)
    system = fmitwin.System()
    system.add("a", tank_path)
    with pytest.raises(ValueError, match="stop_time: must be a finite number"):
        system.simulate(stop, 1.0)


def test_a_step_of_zero_is_refused_not_replaced(tank_path):
    with pytest.raises(ValueError, match="step: must be a positive number"):
        experiment_times(0.0, 10.0, 0.0, default_step=1.0)
    with pytest.raises(ValueError, match="step: must be a positive number"):
        fmitwin.simulate(tank_path, 60.0, 0.0)


def test_a_run_whose_results_cannot_fit_in_memory_is_refused_naming_the_memory(tank_path):
    with pytest.raises(MemoryError, match=r"need 21\.8 TiB \(1e\+12 rows x 3 values\)"):
        fmitwin.simulate(tank_path, 1e12, 1.0)
    system = fmitwin.System()
    system.add("a", tank_path)
    with pytest.raises(MemoryError, match="TiB.*use a larger step or output interval"):
        system.simulate(1e12, 1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stop", "inf"], "stop_time: must be a finite number"),
        (["--stop", "nan"], "stop_time: must be a finite number"),
        (["--step", "0"], "step: must be a positive number"),
        (["--stop", "1e12", "--step", "1"], "of memory available"),
    ],
)
def test_cli_refuses_bad_experiments_without_a_traceback(tank_path, capsys, args, message):
    assert main(["simulate", str(tank_path), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_output_equal_to_the_fmu_is_refused_and_the_fmu_kept(tmp_path, capsys):
    fmu = tmp_path / "tank.fmu"
    fmu.write_bytes(fmitwin.models.path("heated_tank", 2).read_bytes())
    before = fmu.read_bytes()
    assert main(["simulate", str(fmu), "--stop", "60", "-o", str(fmu)]) == 1
    assert "that is the model being simulated" in capsys.readouterr().err
    assert fmu.read_bytes() == before


@pytest.mark.parametrize("where", ["missing_dir", "directory", "unwritable"])
def test_an_output_path_that_cannot_be_written_fails_before_the_run(
    tank_path, tmp_path, capsys, monkeypatch, where
):
    ran = []
    monkeypatch.setattr("fmitwin.simulation.simulate", lambda *a, **k: ran.append(1))
    if where == "missing_dir":
        out, message = tmp_path / "nope" / "out.csv", "does not exist; create it first"
    elif where == "directory":
        out, message = tmp_path, "is a directory; give a file name"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out, message = locked / "out.csv", "cannot write there"
        if os.access(locked, os.W_OK):  # root writes anywhere: a file in place of a folder
            out, message = tmp_path / "file" / "out.csv", "does not exist"
            (tmp_path / "file").write_text("")
    assert main(["simulate", str(tank_path), "--stop", "60", "-o", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert ran == []


def test_a_writable_output_passes_and_the_run_writes_it(tank_path, tmp_path):
    out = tmp_path / "out.csv"
    assert check_output_file(out, inputs=(tank_path,)) == out
    assert main(["simulate", str(tank_path), "--stop", "120", "--step", "60", "-o", str(out)]) == 0
    np.testing.assert_array_equal(pd.read_csv(out)["time"], [0.0, 60.0, 120.0])
