"""A twin whose sensor measures an FMU output rather than a state: the heated tank's heat loss
Q_loss = UA (T - T_amb) is the only measurement, and the filter recovers the tank temperature
through the FMU's measurement function h(x) (its output), fed through Gateway -> Synchronizer."""

import numpy as np
import pytest
from fmitwin.live.config import ConfigError, parse_config
from fmitwin.live.gateway import Gateway
from fmitwin.live.readings import Reading
from fmitwin.live.synchronizer import Synchronizer, SyncSettings
from fmitwin.live.twin import build_filter

T0 = 1_800_000_000.0
MASS, C_P, UA, T_AMB, POWER = 0.5, 4186.0, 40.0, 293.15, 2000.0

TWIN = """\
[twin]
name = "heat-loss meter"

[model]
fmu = "heated_tank"
parameters = { m = 0.5, P_heater = 2000.0 }
states = ["T"]
inputs = ["P_heater"]
outputs = ["Q_loss"]

[filter]
x0 = { T = 300.0 }
P0 = { T = 400.0 }
Q = { T = 1e-3 }

[mqtt]
url = "mqtt://127.0.0.1:1883"

[sensors.heat_loss]
variable = "Q_loss"
source = "mqtt"
topic = "p/Q_loss"
unit = "W"
range = [-10000, 10000]
rate = 10
noise = 5.0
stale_after = 1.0
"""


def test_temperature_is_estimated_from_the_measured_fmu_output():
    config = parse_config(TWIN, "outputs.toml")
    ekf, u0 = build_filter(config)
    now = [T0]
    sync = Synchronizer(
        SyncSettings.from_config(config),
        ekf,
        Gateway(config.sensors, clock=lambda: now[0]),
        u0=u0,
        clock=lambda: now[0],
    )
    rng = np.random.default_rng(3)
    times = np.arange(0.0, 120.0, 0.1)
    # analytic plant from T(0) = 330 K: C dT/dt = P - UA (T - T_amb)
    t_eq = T_AMB + POWER / UA
    temperature = t_eq + (330.0 - t_eq) * np.exp(-times * UA / (MASS * C_P))
    heat_loss = UA * (temperature - T_AMB) + rng.normal(0.0, 5.0, times.size)
    for t, value in zip(times, heat_loss, strict=True):
        now[0] = T0 + t
        sync.gateway.submit(Reading("heat_loss", float(value), T0 + t, None, T0 + t))
        sync.step()
    sigma = float(np.sqrt(ekf.P[0, 0]))
    assert sync.counters.applied == times.size
    assert abs(ekf.x[0] - temperature[-1]) < 3 * sigma
    assert sigma < 0.2  # 5 W of noise on UA (T - T_amb) with UA = 40 W/K: about 0.125 K/reading


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'outputs = ["Q_loss"]\n',
            "",
            r"\[sensors.heat_loss.variable\] 'Q_loss' is not a state, input or output",
        ),
        (
            'outputs = ["Q_loss"]',
            'outputs = ["T"]',
            r"\[model.outputs\] \['T'\] are states or inputs, not outputs",
        ),
        (
            'fmu = "heated_tank"\nparameters = { m = 0.5, P_heater = 2000.0 }',
            'process = "random_walk"',
            r"\[model.outputs\] measuring model outputs needs an FMU model",
        ),
    ],
)
def test_output_config_errors_name_line_and_key(old, new, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(TWIN.replace(old, new), "outputs.toml")


def test_an_output_the_fmu_does_not_have_is_named():
    config = parse_config(
        TWIN.replace('outputs = ["Q_loss"]', 'outputs = ["Q_lost"]').replace(
            'variable = "Q_loss"', 'variable = "Q_lost"'
        ),
        "outputs.toml",
    )
    with pytest.raises(ConfigError, match=r"\['Q_lost'\] are not outputs of heated_tank.fmu"):
        build_filter(config)
