"""The run's relative tolerance reaches co-simulation FMUs as FMPy passes it.

tests/fmus/tolerant.c integrates inside doStep with substeps of sqrt(tolerance), as an FMU with an
internal solver does, and reports the tolerance it received: results depend on it, so agreement
with FMPy bit for bit shows that the same tolerance arrived (FMI 2.0 through
fmi2SetupExperiment; tolerant3.c, the same model in FMI 3.0, through
fmi3EnterInitializationMode).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fmitwin
import fmpy
import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def tolerant(test_fmu) -> Path:
    return test_fmu("tolerant", 2)


@pytest.mark.parametrize("version", [2, 3], ids=["fmi2", "fmi3"])
@pytest.mark.parametrize("tolerance", [None, 1e-2, 1e-6])
def test_co_simulation_gets_the_tolerance_fmpy_passes(test_fmu, version, tolerance):
    fmu = test_fmu("tolerant" if version == 2 else "tolerant3", version)
    ours = fmitwin.simulate(fmu, tolerance=tolerance, outputs=["x", "tolerance"])
    theirs = fmpy.simulate_fmu(str(fmu), relative_tolerance=tolerance, output=["x", "tolerance"])
    np.testing.assert_array_equal(ours.time, theirs["time"])
    np.testing.assert_array_equal(ours["x"], theirs["x"])  # bit-identical
    expected = 1e-4 if tolerance is None else tolerance  # default: the DefaultExperiment's
    assert ours["tolerance"][-1] == expected


def test_rtol_is_the_same_setting_for_co_simulation(tolerant):
    by_rtol = fmitwin.simulate(tolerant, rtol=1e-2, outputs=["tolerance"])
    assert by_rtol["tolerance"][-1] == 1e-2
    with pytest.raises(ValueError, match="one setting"):
        fmitwin.simulate(tolerant, tolerance=1e-3, rtol=1e-2)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="positive finite"):
            fmitwin.simulate(tolerant, tolerance=bad)


def test_system_instances_take_their_own_tolerance(tolerant):
    system = fmitwin.System()
    system.add("loose", tolerant, tolerance=1e-2)
    system.add("default", tolerant)
    result = system.simulate(1.0, 0.1, outputs=["loose.tolerance", "default.tolerance"])
    assert result["loose.tolerance"][-1] == 1e-2
    assert result["default.tolerance"][-1] == 1e-4
    with pytest.raises(ValueError, match="positive finite"):
        system.add("bad", tolerant, tolerance=0.0)


def test_cli_tolerance(tolerant, tmp_path):
    out = tmp_path / "out.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fmitwin",
            "simulate",
            str(tolerant),
            "--tolerance",
            "1e-6",
            "-r",
            "x",
            "-r",
            "tolerance",
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    frame = pd.read_csv(out)
    assert frame["tolerance"].iloc[-1] == 1e-6
    theirs = fmpy.simulate_fmu(str(tolerant), relative_tolerance=1e-6, output=["x"])
    np.testing.assert_array_equal(frame["x"].to_numpy(), theirs["x"])
