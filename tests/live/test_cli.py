"""``fmitwin plant`` and ``fmitwin run`` as processes: Ctrl-C stops cleanly and flushes, a killed
twin loses nothing it had committed, the record replays; and CSV replay through the gateway."""

import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from fmitwin.live.config import parse_config
from fmitwin.live.history import recorded_events, recorded_readings
from fmitwin.live.readings import Flag
from fmitwin.live.status import render
from fmitwin.live.twin import Twin
from rich.console import Console
from support.live_servers import free_port, heated_tank_twin, replay_twin, wait_for_port


def _rows(path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM readings").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        db.close()


def _wait_rows(path, n, proc, timeout=40.0) -> int:
    deadline = time.monotonic() + timeout
    while (rows := _rows(path)) < n:
        if proc.poll() is not None:
            raise AssertionError(f"twin exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"only {rows} readings recorded after {timeout} s")
        time.sleep(0.1)
    return rows


@pytest.fixture(scope="module")
def plant_process():
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fmitwin",
            "plant",
            "heated_tank",
            "--opcua",
            endpoint,
            "--set",
            "m=2",
            "--set",
            "P_heater=2000",
            "--noise",
            "T=0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=60)
        yield endpoint
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode()


def _twin(tmp_path, endpoint):
    history = tmp_path / "history.sqlite"
    twin_file = tmp_path / "twin.toml"
    twin_file.write_text(heated_tank_twin(plant_opcua=endpoint, mqtt=None, history=history))
    return twin_file, history


def _run(twin_file, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "fmitwin", "run", str(twin_file), "--no-status", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_ctrl_c_stops_cleanly_and_flushes(plant_process, tmp_path):
    twin_file, history = _twin(tmp_path, plant_process)
    proc = _run(twin_file)
    _wait_rows(history, 40, proc)  # committed while running, not only at exit
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert b"stopped:" in out
    events = [e["kind"] for e in recorded_events(history)]
    assert events[0] == "twin_started" and events[-1] == "twin_stopped"


def test_killed_twin_keeps_what_it_committed_and_replays(plant_process, tmp_path):
    twin_file, history = _twin(tmp_path, plant_process)
    proc = _run(twin_file)
    seen = _wait_rows(history, 40, proc)
    proc.kill()  # no chance to flush or close
    proc.communicate(timeout=30)
    assert _rows(history) >= seen
    readings = recorded_readings(history)
    assert len(readings) >= seen
    replay = _run(twin_file, "--replay", str(history))
    out, err = replay.communicate(timeout=60)
    assert replay.returncode == 0, err.decode()
    assert b"stopped:" in out and b"updates" in out


def test_errors_in_the_twin_file_are_reported_with_line_and_key(tmp_path):
    twin_file = tmp_path / "twin.toml"
    text = heated_tank_twin(plant_opcua="opc.tcp://127.0.0.1:4840", mqtt=None)
    twin_file.write_text(text.replace("rate = 20", "rate = 0", 1))
    proc = _run(twin_file)
    _, err = proc.communicate(timeout=30)
    line = text.splitlines().index("rate = 20") + 1
    assert proc.returncode == 2
    assert f"twin.toml:{line}: [sensors.T_opcua.rate] expected a positive number" in err.decode()


async def test_csv_replay_goes_through_the_gateway(tmp_path):
    csv = tmp_path / "readings.csv"
    rows = ["ts,sensor,value,quality"]
    t0 = 1_800_000_000.0
    truth = 300.0
    for i in range(200):
        rows.append(f"{t0 + 0.05 * i:.3f},T,{truth + 0.2 * np.sin(i):.4f},good")
    rows += [f"{t0 + 5.0},T,9999,good", f"{t0 + 5.05},T,hot,good", f"{t0 + 5.1},T,300,bad"]
    csv.write_text("\n".join(rows) + "\n")
    text = replay_twin("readings.csv")
    twin = Twin(parse_config(text, tmp_path / "twin.toml"), history=None)
    await twin.run()
    counts = twin.gateway.counts()["T"]
    assert counts["accepted"] == 200 and counts[Flag.OUT_OF_RANGE] == 1
    assert counts[Flag.WRONG_TYPE] == 1 and counts[Flag.BAD_STATUS] == 1
    assert abs(twin.sync.ekf.x[0] - truth) < 3 * np.sqrt(twin.sync.ekf.P[0, 0]) + 0.2

    # the live status screen renders this twin: sensor, counts, state with its sigma
    console = Console(record=True, width=160)
    console.print(render(twin))
    screen = console.export_text()
    assert "twin csv" in screen and "temp" in screen and "replay" in screen
    assert "T " in screen and " 200 " in screen and " 3 " in screen  # accepted, rejected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not_a_model"], "neither an FMU file nor a bundled model"),
        (["{bad_fmu}"], "error: "),
        (["heated_tank", "--set", "no_such_variable=1"], "no_such_variable"),
        (["heated_tank", "--step", "0"], "--step and --rate must be positive"),
        (["heated_tank", "--rate", "0"], "--step and --rate must be positive"),
        (["heated_tank", "--opcua", "opc.tcp://0.0.0.0:{port}"], "other machines"),
        (["heated_tank", "--opcua", "opc.tcp://127.0.0.1:{busy}"], "error: "),
        (["heated_tank", "--users", "{missing}"], "--users"),
    ],
)
def test_plant_command_errors_are_clear(tmp_path, capsys, args, message):
    import socket

    from fmitwin.cli import main

    bad_fmu = tmp_path / "broken.fmu"
    bad_fmu.write_text("not a zip archive")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        names = {
            "bad_fmu": bad_fmu,
            "port": free_port(),
            "busy": busy.getsockname()[1],
            "missing": tmp_path / "missing",
        }
        args = [a.format(**names) for a in args]
        if "--opcua" not in args:
            args += ["--opcua", f"opc.tcp://127.0.0.1:{free_port()}"]
        assert main(["plant", *args, "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error") and message in err and "Traceback" not in err
