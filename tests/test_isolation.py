"""isolate=True: an FMU that segfaults, aborts or hangs becomes an FmuError with its log, and
the caller lives on; an isolated run gives exactly the in-process result."""

from __future__ import annotations

import logging

import fmitwin
import numpy as np
import pytest
from fmitwin.cli import main
from fmitwin.fmu import FmuError


@pytest.fixture(scope="module")
def crashy(test_fmu):
    return test_fmu("crashy", 2)


@pytest.mark.parametrize(("mode", "signal"), [(1, "SIGSEGV"), (2, "SIGABRT")])
def test_a_crashing_fmu_becomes_an_error_with_its_log(crashy, mode, signal):
    with pytest.raises(FmuError) as info:
        fmitwin.simulate(crashy, isolate=True, start_values={"mode": mode, "fail_at": 0.6})
    message = str(info.value)
    assert f"the FMU crashed the worker process ({signal})" in message
    assert f"[Warning] logStatusWarning: mode {mode}: failing in the step from t = 0.5" in message


def test_a_hanging_fmu_is_stopped_at_the_timeout(crashy):
    with pytest.raises(
        FmuError, match=r"(?s)did not finish within timeout=4 s \(stopped\).*mode 3"
    ):
        fmitwin.simulate(
            crashy, isolate=True, timeout=4.0, start_values={"mode": 3, "fail_at": 0.6}
        )


def test_an_isolated_run_equals_the_in_process_run_and_keeps_errors(test_fmu, caplog):
    chatty = test_fmu("chatty", 2)
    expected = fmitwin.simulate(chatty, start_values={"gain": 4.0})
    with caplog.at_level(logging.INFO, logger="fmitwin.fmu"):
        result = fmitwin.simulate(chatty, start_values={"gain": 4.0}, isolate=True, logging=True)
    np.testing.assert_array_equal(result.data, expected.data)
    assert "instantiated chatty with gain 4.00" in caplog.text
    with pytest.raises(FmuError, match="passes fail_at = 0.6"):
        fmitwin.simulate(chatty, start_values={"fail_at": 0.6}, isolate=True)
    with pytest.raises(ValueError, match="timeout: applies to isolated runs only"):
        fmitwin.simulate(chatty, timeout=1.0)


def test_an_isolated_system_reports_the_crash(crashy, tank):
    system = fmitwin.System()
    system.add("ok", tank)
    system.add("bad", crashy, start_values={"mode": 1, "fail_at": 0.6})
    with pytest.raises(FmuError, match=r"(?s)system .system.: the FMU crashed .*SIGSEGV.*mode 1"):
        system.simulate(1.0, 0.25, isolate=True)


def test_cli_isolate_prints_the_crash_without_a_traceback(crashy, capsys):
    code = main(["simulate", str(crashy), "--isolate", "--set", "mode=2", "--set", "fail_at=0.6"])
    err = capsys.readouterr().err
    assert code == 1 and "SIGABRT" in err and "Traceback" not in err
