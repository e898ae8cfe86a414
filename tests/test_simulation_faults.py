"""NaN outputs and Ctrl-C, on tests/fmus/tolerant.c (co-simulation): its output y turns NaN at
nan_time, and a tiny tolerance makes its internal solver slow enough to interrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import fmitwin
import numpy as np
import pytest


@pytest.fixture(scope="module")
def tolerant(test_fmu) -> Path:
    return test_fmu("tolerant", 2)


def test_nan_outputs_are_reported_with_the_variable_and_time(tolerant):
    with pytest.warns(RuntimeWarning, match=r"y is NaN from t = 0\.5 on"):
        result = fmitwin.simulate(tolerant, start_values={"nan_time": 0.5})
    assert np.isnan(result["y"][-1]) and not np.isnan(result["y"][4])
    with pytest.raises(fmitwin.FmuError, match=r"y is NaN from t = 0\.5"):
        fmitwin.simulate(tolerant, start_values={"nan_time": 0.5}, strict=True)
    system = fmitwin.System()
    system.add("t", tolerant, start_values={"nan_time": 0.5})
    with pytest.warns(RuntimeWarning, match=r"t\.y is NaN from t = 0\.5"):
        system.simulate(1.0, 0.1)
    with pytest.raises(fmitwin.FmuError, match=r"t\.y is NaN"):
        system.simulate(1.0, 0.1, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fmitwin.simulate(tolerant)  # no NaN, no warning


def test_cli_reports_nan_and_fails_with_strict(tolerant, tmp_path):
    command = [sys.executable, "-m", "fmitwin", "simulate", str(tolerant), "--set", "nan_time=0.5"]
    out = tmp_path / "out.csv"
    warned = subprocess.run([*command, "-o", str(out)], capture_output=True, text=True)
    assert warned.returncode == 0 and out.exists()
    assert "warning: y is NaN from t = 0.5" in warned.stderr.replace("tolerant.fmu: ", "")
    strict = subprocess.run([*command, "--strict"], capture_output=True, text=True)
    assert strict.returncode == 1
    assert "y is NaN from t = 0.5" in strict.stderr and "Traceback" not in strict.stderr


def _interrupt_soon() -> threading.Timer:
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_a_long_simulation_and_keeps_its_rows(tolerant):
    # 1e4 steps of about 2 ms each (1e6 internal substeps): interrupted after 0.5 s.
    timer = _interrupt_soon()
    with pytest.raises(fmitwin.SimulationInterrupted) as stopped:
        fmitwin.simulate(tolerant, 1000.0, 0.1, tolerance=1e-14)
    timer.join()
    partial = stopped.value.result
    assert isinstance(stopped.value, KeyboardInterrupt)
    assert 1 < len(partial) < 10001
    np.testing.assert_allclose(np.diff(partial.time), 0.1)
    assert "rows recorded" in str(stopped.value)


def test_ctrl_c_stops_a_long_system_run_and_keeps_its_rows(tolerant):
    system = fmitwin.System()
    system.add("t", tolerant, tolerance=1e-14)
    timer = _interrupt_soon()
    with pytest.raises(fmitwin.SimulationInterrupted) as stopped:
        system.simulate(1000.0, 0.1)
    timer.join()
    partial = stopped.value.result
    assert 1 < len(partial) < 10001
    np.testing.assert_allclose(np.diff(partial.time), 0.1)
