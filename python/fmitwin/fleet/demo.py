"""The demo fleet of ``fmitwin serve --demo``: centrifugal pumps and heated tanks across three
sites, each a real-time plant simulator (a bundled FMU, its OPC UA server on loopback) at its own
load and wear, some with sensor faults; each watched by an FMU-backed twin.

A pump's bearing wears (the FMU's ``wear`` state, 0 new, 1 failed) at a rate set by its speed,
its valve opening and its bearing's rated life; its twin estimates the wear from the vibration
and the bearing temperature, and its remaining life is the time until the wear reaches 1. A
tank's insulation wears (its heat-loss coefficient UA rises); its twin estimates the unmeasured
UA, and its remaining life is the time until UA reaches the limit where the heater can no
longer hold temperature."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoPlant", "start_plants", "write_demo_fleet"]

SITES = ("north", "south", "east")
UA_LIMIT = 80.0  # W/K: a tank's end of life
WEAR_LIMIT = 1.0  # a pump bearing's end of life (the FMU's wear_limit)
PUMP_RATED_SPEED = 308.92327760299634  # rad/s (2950 rpm), the FMU's w_rated
_PUMP_NODE = "nsu=urn:fmitwin:plant:CentrifugalPump;s="
_PUMP_TWIN = f"""\
# A centrifugal-pump twin template of the demo fleet: vibration, bearing temperature, speed and
# valve opening over OPC UA; the filter estimates the bearing wear (an FMU state) that drives
# both measurements. The bearing's rated life is the fleet's nominal one: each pump's own is
# unknown to its twin, whose wear process noise lets the estimate follow it.
[twin]
name = "pump"

[model]
fmu = "centrifugal_pump"
parameters = {{ tau_thermal = 60.0, rated_life = 0.5 }}
states = ["wear", "T_bearing", "operating_hours"]
inputs = ["speed", "valve"]
outputs = ["vibration"]
step = 0.5

[filter]
x0 = {{ wear = 0.1, T_bearing = 310.0, operating_hours = 0.0 }}
P0 = {{ wear = 0.04, T_bearing = 25.0, operating_hours = 1e-6 }}
Q = {{ wear = 1e-5, T_bearing = 0.001, operating_hours = 1e-9 }}

[opcua]
endpoint = "opc.tcp://127.0.0.1:4840"
publishing_interval = 0.2

[sensors.vibration]
variable = "vibration"
source = "opcua"
node = "{_PUMP_NODE}vibration"
unit = "mm/s"
range = [0.0, 50.0]
rate = 1.0
noise = 0.1

[sensors.T_bearing]
variable = "T_bearing"
source = "opcua"
node = "{_PUMP_NODE}T_bearing"
unit = "K"
range = [250.0, 450.0]
rate = 1.0
noise = 0.2

[sensors.speed]
variable = "speed"
source = "opcua"
node = "{_PUMP_NODE}speed"
unit = "rad/s"
range = [0.0, 400.0]
rate = 1.0
noise = 0.5

[sensors.valve]
variable = "valve"
source = "opcua"
node = "{_PUMP_NODE}valve"
range = [0.0, 1.0]
rate = 1.0
noise = 0.01
"""
_TANK_TWIN = """\
# A heated-tank twin template of the demo fleet: the plant's temperature and heater power over
# OPC UA; the filter estimates T and the unmeasured heat-loss coefficient UA.
[twin]
name = "tank"

[model]
fmu = "heated_tank"
parameters = { m = 0.5 }
states = ["T"]
inputs = ["P_heater"]
step = 0.2

[filter]
parameters = ["UA"]
x0 = { T = 300.0, UA = 40.0 }
P0 = { T = 25.0, UA = 100.0 }
Q = { T = 0.001, UA = 0.02 }

[opcua]
endpoint = "opc.tcp://127.0.0.1:4840"
publishing_interval = 0.2

[sensors.T]
variable = "T"
source = "opcua"
node = "nsu=urn:fmitwin:plant:HeatedTank;s=T"
unit = "K"
range = [250.0, 450.0]
rate = 1.0
noise = 0.2

[sensors.heater]
variable = "P_heater"
source = "opcua"
node = "nsu=urn:fmitwin:plant:HeatedTank;s=P_heater"
unit = "W"
range = [0.0, 5000.0]
rate = 1.0
noise = 1.0
"""


@dataclass(frozen=True)
class _Kind:
    """What the demo needs of one asset type: its FMU, twin template and plant settings."""

    model: str
    twin: str
    sensors: tuple[str, ...]
    step: float
    noise: dict[str, float]
    maintenance: tuple[str, ...]  # the template's [maintenance] lines


_KINDS = {
    "pump": _Kind(
        model="centrifugal_pump",
        twin=_PUMP_TWIN,
        sensors=("vibration", "T_bearing", "speed", "valve"),
        step=0.5,
        noise={"vibration": 0.1, "T_bearing": 0.2, "speed": 0.5, "valve": 0.01},
        maintenance=(
            'indicator = "wear"',
            f"failure_threshold = {WEAR_LIMIT}",
            "time_unit = 60.0  # RUL in minutes",
            "noise = 0.02",
        ),
    ),
    "tank": _Kind(
        model="heated_tank",
        twin=_TANK_TWIN,
        sensors=("T", "P_heater"),
        step=0.2,
        noise={"T": 0.2},
        maintenance=(
            'indicator = "UA"',
            f"failure_threshold = {UA_LIMIT}",
            "time_unit = 60.0  # RUL in minutes",
            "noise = 0.3",
        ),
    ),
}


@dataclass(frozen=True)
class DemoPlant:
    """One simulated asset: its type (``pump`` or ``tank``), OPC UA port, the plant FMU's start
    values (its load and wear), a tank's insulation wear rate, and its sensor faults."""

    asset: str
    kind: str
    port: int
    start_values: dict[str, float]
    faults: dict[str, Any] = field(default_factory=dict)
    ua_rate: float = 0.0  # tanks: W/K per second of plant time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pump(asset: str, rng: np.random.Generator, faults: dict[str, Any]) -> DemoPlant:
    """A pump at its own speed and valve opening, part-worn, failing within 10-90 minutes."""
    life = float(rng.uniform(10.0, 90.0)) / 60.0  # h from new at the rated point
    return DemoPlant(
        asset=asset,
        kind="pump",
        port=_free_port(),
        start_values={
            "tau_thermal": 60.0,
            "rated_life": life,
            "wear": float(rng.uniform(0.05, 0.35)),
            "speed": PUMP_RATED_SPEED * float(rng.choice([0.85, 0.92, 1.0])),
            "valve": float(rng.uniform(0.6, 1.0)),
        },
        faults=faults,
    )


def _tank(asset: str, rng: np.random.Generator, faults: dict[str, Any]) -> DemoPlant:
    """A tank at its own heater power whose UA reaches the limit within 8-90 minutes."""
    ua_start = float(rng.uniform(38.0, 50.0))
    life = float(rng.uniform(8.0, 90.0)) * 60.0  # s until UA reaches the limit
    return DemoPlant(
        asset=asset,
        kind="tank",
        port=_free_port(),
        start_values={
            "m": 0.5,
            "UA": ua_start,
            "P_heater": float(rng.choice([1500.0, 2000.0, 2500.0, 3000.0])),
        },
        faults=faults,
        ua_rate=(UA_LIMIT - ua_start) / life,
    )


def write_demo_fleet(folder: Path, count: int = 20, seed: int = 0) -> tuple[Path, list[DemoPlant]]:
    """Write the demo's twin templates and fleet file into ``folder``; the plants to start.

    Three assets in four are pumps (``P-01``...), the fourth a tank (``TK-01``...)."""
    rng = np.random.default_rng(seed)
    plants = []
    numbers = {"pump": 0, "tank": 0}
    for i in range(count):
        kind = "tank" if i % 4 == 3 else "pump"
        numbers[kind] += 1
        sensor = _KINDS[kind].sensors[0]
        faults: dict[str, Any] = {}
        if i % 6 == 5:
            faults = {"dropout": 0.3}
        elif i % 6 == 2:
            faults = {"noise": {sensor: 7.5 * _KINDS[kind].noise[sensor]}}
        prefix = "P" if kind == "pump" else "TK"
        make = _pump if kind == "pump" else _tank
        plants.append(make(f"{prefix}-{numbers[kind]:02d}", rng, faults))
    lines = ["[fleet]", 'name = "demo-fleet"', ""]
    for kind, spec in _KINDS.items():
        (folder / f"{kind}_twin.toml").write_text(spec.twin, encoding="utf-8")
        lines += [
            f"[templates.{kind}]",
            f'twin = "{kind}_twin.toml"',
            f'asset_type = "{spec.model}"',
            "",
            f"[templates.{kind}.maintenance]",
            *spec.maintenance,
            "",
        ]
    for i, plant in enumerate(plants):
        lines += [
            "[[assets]]",
            f'template = "{plant.kind}"',
            f'id = "{plant.asset}"',
            f'site = "{SITES[i % len(SITES)]}"',
            'tags = ["sensor-fault"]' if plant.faults else "tags = []",
            f'set = {{ "opcua.endpoint" = "opc.tcp://127.0.0.1:{plant.port}" }}',
            "",
        ]
    fleet = folder / "fleet.toml"
    fleet.write_text("\n".join(lines), encoding="utf-8")
    return fleet, plants


class _WearingStepper:
    """A tank plant's FMU stepper with UA rising at the plant's wear rate (insulation wear)."""

    def __init__(self, stepper: Any, plant: DemoPlant) -> None:
        self._stepper, self._plant = stepper, plant
        self._ua_start = plant.start_values["UA"]

    def step(self, h: float) -> None:
        self._stepper.set("UA", self._ua_start + self._plant.ua_rate * self._stepper.time)
        self._stepper.step(h)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stepper, name)


def start_plants(plants: list[DemoPlant], stop: asyncio.Event) -> list[asyncio.Task]:
    """Start every plant simulator on the running loop; they end when ``stop`` is set."""
    import fmitwin.models
    from fmitwin.live.plant import Faults, Plant

    tasks = []
    for i, spec in enumerate(plants):
        kind = _KINDS[spec.kind]
        plant = Plant(
            fmitwin.models.path(kind.model),
            opcua=f"opc.tcp://127.0.0.1:{spec.port}",
            sensors=list(kind.sensors),
            start_values=spec.start_values,
            step=kind.step,
            rate=1.0,
            faults=Faults(
                noise={**kind.noise, **spec.faults.get("noise", {})},
                dropout=spec.faults.get("dropout", 0.0),
            ),
            seed=i,
        )
        if spec.kind == "tank":
            plant.sim = _WearingStepper(plant.sim, spec)
        tasks.append(asyncio.get_running_loop().create_task(plant.run(stop), name=spec.asset))
    return tasks
