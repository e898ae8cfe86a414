"""A fleet of CSV-replay twins served by the real ``fmitwin serve``, for the fleet tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from support.live_servers import free_port, replay_twin, wait_for_port

TOKEN = "s3cret-token-for-writes"

REPLAY_TWIN = replay_twin("{id}.csv", name="template", Q=1.0, speed=1.0, rate=10.0)

FLEET = """\
[fleet]
name = "replay-fleet"

[templates.tank]
twin = "twin.toml"
asset_type = "tank"

[templates.tank.maintenance]
indicator = "temp"
failure_threshold = 340.0
time_unit = 1.0
noise = 0.3

[[assets]]
template = "tank"
id = "TK-{n}"
count = 3
site = "north"
set = { "history.path" = "{id}.history.sqlite" }

[[assets]]
template = "tank"
id = "TK-BROKEN"
site = "south"
set = { "csv.path" = "no-such-file.csv" }
"""


def readings(path: Path, truth: float, seconds: float = 60.0, slope: float = 0.0) -> None:
    """10 readings/s of ``truth + slope t`` with noise 0.2."""
    t0 = 1_800_000_000.0
    rng = np.random.default_rng(1)
    rows = ["ts,sensor,value,quality"] + [
        f"{t0 + 0.1 * i:.3f},T,{truth + slope * 0.1 * i + 0.2 * rng.standard_normal():.4f},good"
        for i in range(int(seconds * 10))
    ]
    path.write_text("\n".join(rows) + "\n")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


@contextlib.contextmanager
def served_fleet(tmp_path: Path):
    """(HTTP client, folder, process) of a served replay fleet; SIGINT at the end."""
    (tmp_path / "twin.toml").write_text(REPLAY_TWIN)
    (tmp_path / "fleet.toml").write_text(FLEET)
    for n, truth in ((1, 300.0), (2, 310.0)):
        readings(tmp_path / f"TK-{n}.csv", truth)
    readings(tmp_path / "TK-3.csv", 320.0, slope=0.5)  # heading for 340 K: 40 s of life
    with serving(tmp_path) as (client, process):
        yield client, tmp_path, process


@contextlib.contextmanager
def serving(folder: Path):
    """(HTTP client, process) of ``fmitwin serve`` on the folder's fleet.toml (and its
    registry); SIGINT at the end."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fmitwin",
            "serve",
            str(folder / "fleet.toml"),
            "--port",
            str(port),
            "--token-env",
            "FLEET_TOKEN",
        ],
        env={**os.environ, "FLEET_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=60.0)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            yield client, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
