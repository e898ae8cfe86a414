"""Sensor units are checked against the FMU's and converted (pint): a thermometer in degC feeds
the heated tank's T in K (range checked in degC, noise scaled into R); a unit that cannot be
converted, or an unknown one, is an error at the sensor's unit key."""

import math

import pytest
from fmitwin.live.config import ConfigError, parse_config
from fmitwin.live.twin import Twin, build_filter

TWIN = """
[twin]
name = "tank"

[model]
fmu = "heated_tank"
parameters = {{ m = 2.0, P_heater = 0.0 }}
states = ["T"]
inputs = ["P_heater"]

[filter]
x0 = {{ T = 300.0 }}
P0 = {{ T = 100.0 }}
Q = {{ T = 1e-4 }}
initialize = "x0"

[csv]
path = "readings.csv"
speed = 0

[sensors.T]
variable = "T"
source = "csv"
unit = "{unit}"
range = [0, 100]
rate = 10
noise = 0.1
stale_after = 1000
"""


def test_the_noise_of_a_celsius_sensor_is_the_same_in_kelvin(tmp_path):
    (tmp_path / "readings.csv").write_text("ts,sensor,value\n")
    ekf, _ = build_filter(parse_config(TWIN.format(unit="degC"), tmp_path / "twin.toml"))
    assert ekf.R[0, 0] == pytest.approx(0.1**2)  # a step of 0.1 degC is one of 0.1 K
    ekf, _ = build_filter(parse_config(TWIN.format(unit="mK"), tmp_path / "twin.toml"))
    assert ekf.R[0, 0] == pytest.approx(1e-4**2)  # 0.1 mK


async def test_readings_in_degc_are_converted_to_the_fmus_kelvin(tmp_path):
    rows = ["ts,sensor,value"] + [f"{1000 + 0.1 * k:.1f},T,20.0" for k in range(100)]
    (tmp_path / "readings.csv").write_text("\n".join(rows) + "\n")
    config = parse_config(TWIN.format(unit="degC"), tmp_path / "twin.toml")
    twin = Twin(config, history=None)
    await twin.run()
    assert twin.gateway.stats["T"].accepted == 100  # 20 is inside [0, 100] degC
    assert twin.sync.ekf.x[0] == pytest.approx(293.15, abs=0.1)
    assert math.sqrt(twin.sync.ekf.P[0, 0]) < 0.1


@pytest.mark.parametrize(
    ("unit", "message"), [("W", "cannot be converted"), ("bogons", "unknown unit")]
)
def test_an_unconvertible_or_unknown_unit_is_an_error_at_its_key(tmp_path, unit, message):
    config = parse_config(TWIN.format(unit=unit), tmp_path / "twin.toml")
    with pytest.raises(ConfigError, match=message) as info:
        build_filter(config)
    assert info.value.key == "sensors.T.unit" and info.value.line is not None
