"""Twin TOML loading: the example loads, and every error names the file, line and key."""

from pathlib import Path

import pytest
from fmitwin.live.config import ConfigError, load_config, parse_config
from fmitwin.live.twin import build_filter
from support.live_servers import heated_tank_twin

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "heated_tank_twin.toml"

MINIMAL = """\
[twin]
name = "t"

[model]
process = "random_walk"
states = ["T"]

[filter]
x0 = { T = 300.0 }
P0 = { T = 1.0 }

[mqtt]
url = "mqtt://127.0.0.1:1883"

[sensors.T1]
variable = "T"
source = "mqtt"
topic = "plant/T"
range = [250, 400]
rate = 10
noise = 0.2
"""


def test_example_twin_loads():
    config = load_config(EXAMPLE)
    assert config.model.states == ["T"] and config.model.inputs == ["P_heater"]
    assert [s.name for s in config.measurement_sensors] == ["T_opcua", "T_mqtt"]
    assert [s.name for s in config.input_sensors] == ["heater"]
    assert config.commands_enabled is False  # commands are off by default
    assert config.sensors["T_opcua"].address.startswith("nsu=urn:fmitwin:plant:")


def test_minimal_defaults():
    config = parse_config(MINIMAL, "twin.toml")
    assert config.filter.policy == "merge"
    assert config.sensors["T1"].stale_after == 1.0
    assert config.publish.namespace == "urn:fmitwin:twin:t"
    assert config.history.path is None


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "twin.toml")
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        ("range = [250, 400]", "range = [400, 250]", 19, "sensors.T1.range", "low < high"),
        ("rate = 10", "rate = -1", 20, "sensors.T1.rate", "positive"),
        ("rate = 10", 'rate = "fast"', 20, "sensors.T1.rate", "expected float"),
        ("noise = 0.2", "noise = 0.2\nrnage = 1", 22, "sensors.T1.rnage", "unknown key"),
        ('variable = "T"', 'variable = "X"', 16, "sensors.T1.variable", "not a state"),
        ('source = "mqtt"', 'source = "opcua"', 17, "sensors.T1.source", "[opcua] table"),
        ("x0 = { T = 300.0 }", "x0 = { T = 300.0, Y = 1.0 }", 9, "filter.x0.Y", "not a state"),
        ("P0 = { T = 1.0 }", "P0 = { T = -1.0 }", 10, "filter.P0.T", ">= 0"),
        ("P0 = { T = 1.0 }", "", 8, "filter.P0", "required key is missing"),
        ('url = "mqtt://127.0.0.1:1883"', 'url = "http://x"', 13, "mqtt.url", "mqtt"),
        ("[mqtt]", "[mqtt]\nqos = 3", 13, "mqtt.qos", "0, 1 or 2"),
        ("[mqtt]", '[mqtt]\nsession = "durable"', 13, "mqtt.session", "clean, persistent"),
        ("[mqtt]", '[mqtt]\nsession = "persistent"', 13, "mqtt.session", "client_id ="),
        (
            "[mqtt]",
            '[mqtt]\nsession = "persistent"\nclient_id = "twin-1"\nqos = 0',
            15,
            "mqtt.qos",
            "set qos = 1",
        ),
        ('states = ["T"]', 'states = ["T"]\npolicy = "x"', 7, "model.policy", "unknown key"),
        ('name = "t"', "", 1, "twin.name", "required key is missing"),
        ("[filter]", '[filter]\npolicy = "magic"', 9, "filter.policy", "physical_wins"),
    ],
)
def test_errors_name_line_and_key(old, new, line, key, words):
    assert old in MINIMAL
    exc = _error(MINIMAL.replace(old, new, 1))
    assert exc.line == line, str(exc)
    assert exc.key == key, str(exc)
    assert words in exc.message, str(exc)
    assert str(exc).startswith(f"twin.toml:{line}: [{key}]")


def test_mqtt_session_defaults_to_clean():
    assert parse_config(MINIMAL, "twin.toml").mqtt.session == "clean"
    text = MINIMAL.replace("[mqtt]", '[mqtt]\nsession = "persistent"\nclient_id = "twin-1"')
    mqtt = parse_config(text, "twin.toml").mqtt
    assert (mqtt.session, mqtt.client_id, mqtt.qos) == ("persistent", "twin-1", 1)


def test_opcua_node_needs_namespace_uri():
    text = MINIMAL.replace("[mqtt]", '[opcua]\nendpoint = "opc.tcp://127.0.0.1:4840"\n\n[mqtt]')
    text = text.replace('source = "mqtt"\ntopic = "plant/T"', 'source = "opcua"\nnode = "ns=2;s=T"')
    exc = _error(text)
    assert exc.key == "sensors.T1.node" and "nsu=" in exc.message
    assert exc.line == text.splitlines().index('node = "ns=2;s=T"') + 1


def test_syntax_error_names_line():
    exc = _error(MINIMAL.replace("rate = 10", "rate = = 10"))
    assert exc.line == 20 and "not valid TOML" in exc.message


def test_command_limits_validated():
    text = MINIMAL.replace('states = ["T"]', 'states = ["T"]\ninputs = ["P"]') + (
        '\n[commands]\nenabled = true\n\n[commands.heat]\nvariable = "P"\nvia = "mqtt"\n'
        'topic = "plant/cmd/P"\nstate = "T"\nsetpoint = 330\ngain = 10\nmin = 100\nmax = 0\n'
        "max_rate = 5\n"
    )
    exc = _error(text)
    assert exc.key == "commands.heat.max" and "min < max" in exc.message
    assert exc.line == len(text.splitlines()) - 1


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        load_config(tmp_path / "nope.toml")


def test_fmu_states_must_match_the_fmu():
    text = MINIMAL.replace(
        'process = "random_walk"\nstates = ["T"]', 'fmu = "heated_tank"\nstates = ["T"]'
    )
    config = parse_config(text.replace('"T"', '"Temp"').replace("T = ", "Temp = "), "twin.toml")
    with pytest.raises(ConfigError, match=r"\[model.states\] \['Temp'\] do not match .* \['T'\]"):
        build_filter(config)
    ekf, u0 = build_filter(parse_config(text, "twin.toml"))  # the right names build
    assert ekf.dim_x == 1 and u0.shape == (0,)
    wrong_input = text.replace('states = ["T"]', 'states = ["T"]\ninputs = ["Q"]')
    with pytest.raises(ConfigError, match=r"\[model.inputs\] \['Q'\] are not inputs"):
        build_filter(parse_config(wrong_input, "twin.toml"))


def test_unknown_fmu_is_named():
    text = MINIMAL.replace('process = "random_walk"', 'fmu = "no_such_model"')
    with pytest.raises(ConfigError, match=r"\[model.fmu\] neither a file nor a bundled model"):
        build_filter(parse_config(text, "twin.toml"))


# -- twin files that parse but do not fit the FMU or the filter: file:line: [key] and the fix ------

FMU_TWIN = heated_tank_twin(plant_opcua="opc.tcp://127.0.0.1:4840", mqtt=None, process="fmu")


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (("T = 295.0", "T = nan"), "filter.x0.T", "finite number"),
        (("T = 9.0", "T = inf"), "filter.P0.T", "finite number"),
        (("T = 9.0", "T = 0.0"), "filter.P0.T", "must be > 0"),  # was: a Cholesky traceback
        (("127.0.0.1:4840", "127.0.0.1:70000"), "opcua.endpoint", "0..65535"),
        (("parameters = { m = 2.0 }", "parameters = { mass = 2.0 }"), "model.parameters", "mass"),
        (("parameters = { m = 2.0 }", 'parameters = { m = "heavy" }'), "model.parameters", "m"),
        (('fmu = "heated_tank"', 'fmu = "broken.fmu"'), "model.fmu", "not a zip archive"),
    ],
)
def test_a_twin_file_that_does_not_fit_names_line_key_and_fix(tmp_path, edit, key, message):
    from fmitwin.cli import main

    (tmp_path / "broken.fmu").write_text("not a zip archive")
    assert edit[0] in FMU_TWIN
    path = tmp_path / "twin.toml"
    path.write_text(FMU_TWIN.replace(*edit, 1))
    with pytest.raises(ConfigError, match=message) as info:
        build_filter(load_config(path))
    assert info.value.key == key and info.value.line is not None
    assert main(["run", str(path), "--no-status", "--duration", "0"]) == 2  # no traceback


def test_a_twin_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    path = tmp_path / "twin.toml"
    path.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(path)
    assert info.value.line == MINIMAL.count("\n") + 1
