"""The demo fleet of ``fmitwin serve --demo``: heated tanks across three sites, each a real-time
plant simulator (the bundled FMU, its OPC UA server on loopback) whose insulation wears at its
own rate, some with sensor faults; each watched by an FMU-backed twin that estimates the
unmeasured heat-loss coefficient UA, and whose remaining life is the time until UA reaches
the limit where the heater can no longer hold temperature."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoPlant", "start_plants", "write_demo_fleet"]

SITES = ("north", "south", "east")
UA_LIMIT = 80.0  # W/K: end of life
_TWIN = """\
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
class DemoPlant:
    """One simulated tank: its OPC UA port, load and wear, and its sensor faults."""

    asset: str
    port: int
    heater_power: float  # W
    ua_start: float  # W/K
    ua_rate: float  # W/K per second of plant time
    faults: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_demo_fleet(folder: Path, count: int = 20, seed: int = 0) -> tuple[Path, list[DemoPlant]]:
    """Write the demo's twin template and fleet file into ``folder``; the plants to start."""
    rng = np.random.default_rng(seed)
    plants = []
    for i in range(count):
        ua_start = float(rng.uniform(38.0, 50.0))
        life = float(rng.uniform(8.0, 90.0)) * 60.0  # s until UA reaches the limit
        faults: dict[str, Any] = {}
        if i % 6 == 5:
            faults = {"dropout": 0.3}
        elif i % 6 == 2:
            faults = {"noise": {"T": 1.5}}
        plants.append(
            DemoPlant(
                asset=f"TK-{i + 1:02d}",
                port=_free_port(),
                heater_power=float(rng.choice([1500.0, 2000.0, 2500.0, 3000.0])),
                ua_start=ua_start,
                ua_rate=(UA_LIMIT - ua_start) / life,
                faults=faults,
            )
        )
    (folder / "tank_twin.toml").write_text(_TWIN, encoding="utf-8")
    lines = [
        "[fleet]",
        'name = "demo-tanks"',
        "",
        "[templates.tank]",
        'twin = "tank_twin.toml"',
        'asset_type = "heated_tank"',
        "",
        "[templates.tank.maintenance]",
        'indicator = "UA"',
        f"failure_threshold = {UA_LIMIT}",
        "time_unit = 60.0  # RUL in minutes",
        "noise = 0.3",
        "",
    ]
    for i, plant in enumerate(plants):
        lines += [
            "[[assets]]",
            'template = "tank"',
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
    """The plant's FMU stepper with UA rising at the plant's wear rate (insulation wear)."""

    def __init__(self, stepper: Any, plant: DemoPlant) -> None:
        self._stepper, self._plant = stepper, plant

    def step(self, h: float) -> None:
        self._stepper.set("UA", self._plant.ua_start + self._plant.ua_rate * self._stepper.time)
        self._stepper.step(h)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stepper, name)


def start_plants(plants: list[DemoPlant], stop: asyncio.Event) -> list[asyncio.Task]:
    """Start every plant simulator on the running loop; they end when ``stop`` is set."""
    import fmitwin.models
    from fmitwin.live.plant import Faults, Plant

    tasks = []
    for i, spec in enumerate(plants):
        plant = Plant(
            fmitwin.models.path("heated_tank"),
            opcua=f"opc.tcp://127.0.0.1:{spec.port}",
            sensors=["T", "P_heater"],
            start_values={"m": 0.5, "UA": spec.ua_start, "P_heater": spec.heater_power},
            step=0.2,
            rate=1.0,
            faults=Faults(
                noise={"T": 0.2, **spec.faults.get("noise", {})},
                dropout=spec.faults.get("dropout", 0.0),
            ),
            seed=i,
        )
        plant.sim = _WearingStepper(plant.sim, spec)
        tasks.append(asyncio.get_running_loop().create_task(plant.run(stop), name=spec.asset))
    return tasks
