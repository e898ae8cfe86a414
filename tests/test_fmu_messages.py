"""What an FMU says and what fmitwin says about it: formatted FMI 2 log messages, logging
switched on from simulate / System / the CLI, default outputs without String variables, named
errors for Binary start values, and `fmitwin info` on FMI 3 platforms and scheduled execution."""

from __future__ import annotations

import logging

import fmitwin
import numpy as np
import pytest
from fmitwin.cli import main
from fmitwin.fmu import FmuError, load_fmu
from fmpy import simulate_fmu
from fmus.build import description_only_fmu


@pytest.fixture(scope="module")
def chatty(test_fmu):
    return test_fmu("chatty", 2)


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    return description_only_fmu("scheduled", tmp_path_factory.mktemp("scheduled"))


def test_fmi2_log_messages_are_formatted_with_their_arguments(chatty):
    with pytest.raises(FmuError) as info:
        fmitwin.simulate(chatty, start_values={"fail_at": 0.6})
    assert "[Error] logStatusError: the step from t = 0.5 to 0.75 passes fail_at = 0.6" in str(
        info.value
    )


def test_logging_on_from_simulate_sends_the_fmu_log_to_python_logging(chatty, caplog):
    with caplog.at_level(logging.INFO, logger="fmitwin.fmu"):
        fmitwin.simulate(chatty, logging=True)
    assert "chatty [OK] logAll: instantiated chatty with gain 2.50 and 2 output(s)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fmitwin.fmu"):
        fmitwin.simulate(chatty)  # off by default: the FMU logs nothing
    assert caplog.text == ""


def test_logging_on_per_system_instance(chatty, caplog):
    system = fmitwin.System()
    system.add("loud", chatty, logging=True)
    system.add("quiet", chatty)
    with caplog.at_level(logging.INFO, logger="fmitwin.fmu"):
        system.simulate(1.0, 0.25)
    assert "loud [OK] logAll: instantiated loud with gain" in caplog.text
    assert "quiet" not in caplog.text


def test_cli_log_prints_the_fmu_log(chatty, capsys):
    assert main(["simulate", str(chatty), "--log"]) == 0
    assert (
        "fmu log: chatty [OK] logAll: instantiated chatty with gain 2.50" in capsys.readouterr().err
    )


def test_a_silent_failure_says_how_to_switch_logging_on(tank):
    instance = tank.instantiate()
    try:
        message = str(instance.error("it failed"))
    finally:
        instance.free()
    assert "run it with logging=True (simulate, System.add) or `fmitwin simulate --log`" in message


def test_default_outputs_leave_string_variables_out_and_match_fmpy(chatty):
    result = fmitwin.simulate(chatty)
    assert result.names == ["y"]
    reference = simulate_fmu(str(chatty), output=["y"], step_size=0.25)
    np.testing.assert_array_equal(result["y"], reference["y"])
    np.testing.assert_array_equal(result["y"], 2.5 * result.time)
    with pytest.raises(TypeError, match="outputs: label is String; numeric and Boolean"):
        fmitwin.simulate(chatty, outputs=["label"])


def test_a_binary_start_value_gets_a_named_error(scheduled):
    model = load_fmu(scheduled, require_binary=False)
    with pytest.raises(TypeError, match=r"start_values\['blob'\]: blob is Binary; fmitwin sets"):
        model.check_start_values({"blob": b"\x0a\x0b"})


def test_info_describes_a_scheduled_execution_fmu_and_what_is_not_supported(scheduled, capsys):
    assert main(["info", str(scheduled)]) == 0
    out = capsys.readouterr().out
    assert "Interfaces:  scheduled execution (not supported" in out
    assert "blob  2   parameter    fixed        Binary" in out
    with pytest.raises(FmuError, match="only scheduled execution"):
        load_fmu(scheduled)
    with pytest.raises(FmuError, match="only scheduled execution"):
        load_fmu(scheduled, require_binary=False).instantiate()


@pytest.mark.parametrize(("version", "folder"), [(2, "linux64"), (3, "x86_64-linux")])
def test_info_names_the_platform_folder_in_the_fmi_versions_spelling(test_fmu, version, folder):
    import fmpy

    name = "all_types" if version == 3 else "chatty"
    model = load_fmu(test_fmu(name, version))
    here = fmpy.platform if version == 2 else fmpy.platform_tuple
    assert here == folder or not here.startswith(("x86_64", "linux"))
    assert model.platforms == (here,)
    assert f"Platforms:   {here} (binaries/{here} for this machine: yes)" in model.summary()


def test_messages_use_the_right_article(tank):
    system = fmitwin.System()
    system.add("a", tank)
    system.add("b", tank)
    with pytest.raises(ValueError, match="source: a.P_heater is an input, not an output"):
        system.connect("a.P_heater", "b.P_heater")
    with pytest.raises(ValueError, match="target: b.T is an output, not an input"):
        system.connect("a.T", "b.T")
