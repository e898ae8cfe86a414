"""History files that cannot be used are refused clearly: a second twin on a history in use (the
first one's run metadata untouched), a directory or a missing folder as the path; and `fmitwin
run --replay` of a missing, empty, truncated or foreign history, or of one recorded with other
sensor names, says so instead of a traceback."""

import json
import sqlite3

import pytest
from fmitwin.cli import main
from fmitwin.live.history import History, HistoryError, HistoryInUse
from fmitwin.live.readings import Reading
from support.live_servers import heated_tank_twin


def test_a_second_writer_is_refused_before_it_touches_the_first_run(tmp_path):
    path = tmp_path / "history.sqlite"
    first = History(path, meta={"twin": "first", "started": 1.0})
    first.record_event("twin_started", {})
    first.flush()
    with pytest.raises(HistoryInUse, match="another twin"):
        History(path, meta={"twin": "second", "started": 2.0})
    first.close()
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM run"))
    assert json.loads(meta["twin"]) == "first" and json.loads(meta["started"]) == 1.0
    History(path).close()  # free again once the first one closed


def test_unusable_history_paths_are_refused(tmp_path):
    with pytest.raises(HistoryError, match="is a directory"):
        History(tmp_path)
    with pytest.raises(HistoryError, match="does not exist"):
        History(tmp_path / "missing" / "history.sqlite")
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"\x00not sqlite at all" * 100)
    with pytest.raises(HistoryError, match="not an fmitwin history"):
        History(foreign)


def _recorded(tmp_path, sensor="T_opcua"):
    path = tmp_path / "recorded.sqlite"
    history = History(path)
    for k in range(20):
        ts = 1000.0 + 0.05 * k
        history.record_reading(Reading(sensor, 300.0 + 0.01 * k, ts, None, ts))
    history.close()
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "foreign", "other sensors"])
def test_replay_of_an_unusable_history_is_a_clear_error(tmp_path, capsys, case):
    twin = tmp_path / "twin.toml"
    twin.write_text(heated_tank_twin(plant_opcua="opc.tcp://127.0.0.1:4840", mqtt=None))
    path = tmp_path / "replayed.sqlite"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(_recorded(tmp_path).read_bytes()[:3000])
    elif case == "foreign":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE invoices (id INTEGER)")
    elif case == "other sensors":
        path = _recorded(tmp_path, sensor="pressure")
    code = main(["run", str(twin), "--replay", str(path), "--no-status"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    expected = {
        "missing": "history file not found",
        "empty": "not a readable fmitwin history",
        "truncated": "not a readable fmitwin history",
        "foreign": "not a readable fmitwin history",
        "other sensors": "['pressure']",
    }[case]
    assert expected in err


def test_replay_of_a_recorded_history_runs_to_its_end(tmp_path, capsys):
    twin = tmp_path / "twin.toml"
    twin.write_text(heated_tank_twin(plant_opcua="opc.tcp://127.0.0.1:4840", mqtt=None))
    assert main(["run", str(twin), "--replay", str(_recorded(tmp_path)), "--no-status"]) == 0
    assert "stopped: 20 updates" in capsys.readouterr().out
