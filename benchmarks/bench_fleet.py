"""Fleet throughput: many twins on one event loop (``FleetRunner``), each replaying its own
readings as fast as the loop takes them, against one twin replaying all of them in the same
run. Prints readings/s, the cost per reading and per twin, and the ratio to the issue's target
(200 twins x 10 readings/s = 2,000 readings/s on one core).

    python benchmarks/bench_fleet.py [--twins 10 50 200] [--readings 200]

Replay measures the CPU cost (the saturation point), not the network latency: see
bench_live.py for latency over OPC UA and MQTT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from fmitwin.fleet import SqliteRegistry, load_fleet, register_fleet
from fmitwin.fleet.runner import FleetRunner
from fmitwin.live.config import parse_config
from fmitwin.live.twin import Twin

TARGET = 2000.0  # readings/s: 200 twins at 10 readings/s

TWIN = """\
[twin]
name = "tank"
[model]
fmu = "heated_tank"
parameters = {{ m = 0.5 }}
states = ["T"]
inputs = ["P_heater"]
[filter]
x0 = {{ T = 300.0 }}
P0 = {{ T = 25.0 }}
Q = {{ T = 0.01 }}
[csv]
path = "{csv}"
speed = 0
[sensors.T]
variable = "T"
source = "csv"
range = [250, 450]
rate = 10
noise = 0.2
"""


def write_readings(path: Path, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t0 = 1_800_000_000.0
    rows = ["ts,sensor,value,quality"] + [
        f"{t0 + 0.1 * i:.3f},T,{300.0 + 0.2 * rng.standard_normal():.4f},good" for i in range(count)
    ]
    path.write_text("\n".join(rows) + "\n")


async def run_fleet(folder: Path, twins: int, readings: int) -> float:
    (folder / "twin.toml").write_text(TWIN.format(csv="{id}.csv"))
    for n in range(1, twins + 1):
        write_readings(folder / f"TK-{n}.csv", readings, n)
    (folder / "fleet.toml").write_text(
        '[fleet]\nname = "bench"\n[templates.tank]\ntwin = "twin.toml"\nasset_type = "tank"\n'
        f'[[assets]]\ntemplate = "tank"\nid = "TK-{{n}}"\ncount = {twins}\nsite = "bench"\n'
    )
    fleet = load_fleet(folder / "fleet.toml")
    with SqliteRegistry(folder / "registry.sqlite") as registry:
        register_fleet(registry, fleet)
        runner = FleetRunner(fleet, registry, status_interval=0.5)
        stop = asyncio.Event()
        start = time.perf_counter()
        task = asyncio.create_task(runner.run(stop, start="all"))
        while len(registry.query(lifecycle="stopped")) < twins:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        stop.set()
        await task
    return elapsed


async def run_one(folder: Path, total: int) -> float:
    write_readings(folder / "one.csv", total, 0)
    twin = Twin(parse_config(TWIN.format(csv="one.csv"), folder / "one.toml"), history=None)
    start = time.perf_counter()
    await twin.run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--readings", type=int, default=200, help="readings per twin")
    args = parser.parse_args()
    print(f"cpu: {os.cpu_count()} cores visible; one event loop; target {TARGET:.0f} readings/s")
    print(
        f"{'twins':>6} {'readings/s':>11} {'us/reading':>11} {'vs one twin':>12} {'vs target':>10}"
    )
    for twins in args.twins:
        total = twins * args.readings
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            fleet_s = asyncio.run(run_fleet(Path(a), twins, args.readings))
            one_s = asyncio.run(run_one(Path(b), total))
        rate = total / fleet_s
        print(
            f"{twins:>6} {rate:>11.0f} {1e6 / rate:>11.1f} {one_s / fleet_s:>11.2f}x "
            f"{rate / TARGET:>9.2f}x"
        )


if __name__ == "__main__":
    main()
