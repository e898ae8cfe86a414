"""Parameter studies: sampling, metrics against the analytic tank, Dask = process pool, resume."""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time

import fmitwin.models
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from distributed import Client, LocalCluster
from fmitwin.cli import main
from fmitwin.fmu import load_fmu
from fmitwin.study import StudyResult, StudyRunError, run_study, sample
from fmitwin.system import System

C = 100 * 4186.0
T_AMB = 293.15


@pytest.fixture(scope="module")
def tank_path():
    return fmitwin.models.path("heated_tank")


@pytest.fixture(scope="module")
def cascade(tank_path):
    tank = load_fmu(tank_path)
    system = System("cascade")
    system.add("a", tank, start_values={"T": 350.0})
    system.add("b", tank)
    system.connect("a.Q_loss", "b.P_heater")
    system.add_output("Ta", "a.T")
    system.add_output("Tb", "b.T")
    return system


def test_grid_study_of_an_fmu_matches_the_analytic_cooling(tank_path):
    result = run_study(
        tank_path,
        {"UA": [20.0, 40.0], "T": [320.0, 340.0, 360.0]},
        stop_time=3600.0,
        step=60.0,
        outputs=["T"],
        metrics=["final", "max"],
        workers=2,
        progress=False,
    )
    table = result.table
    assert list(table.columns) == ["run", "UA", "T", "T.final", "T.max"]
    assert len(table) == 6
    expected = T_AMB + (table["T"] - T_AMB) * np.exp(-table["UA"] * 3600.0 / C)
    np.testing.assert_allclose(table["T.final"], expected, rtol=1e-10)
    np.testing.assert_array_equal(table["T.max"], table["T"])


def test_each_worker_loads_the_model_once(tank_path):
    from fmitwin import study

    study._CACHE.clear()
    first = run_study(
        tank_path, {"UA": [20.0, 40.0]}, stop_time=60.0, step=60.0, workers=0, progress=False
    )
    (model,) = study._CACHE.values()
    run_study(tank_path, {"UA": [30.0]}, stop_time=60.0, step=60.0, workers=0, progress=False)
    assert list(study._CACHE.values()) == [model]
    assert len(first.table) == 2


def test_latin_hypercube_covers_each_stratum_once():
    table = sample("lhs", {"a.UA": (20.0, 60.0), "b.T": (300.0, 310.0)}, samples=8, seed=3)
    assert table.shape == (8, 2)
    for name, (low, high) in {"a.UA": (20.0, 60.0), "b.T": (300.0, 310.0)}.items():
        strata = np.floor((table[name] - low) / (high - low) * 8).astype(int)
        assert sorted(strata) == list(range(8))
    again = sample("lhs", {"a.UA": (20.0, 60.0), "b.T": (300.0, 310.0)}, samples=8, seed=3)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(ValueError, match="low < high"):
        sample("lhs", {"x": (2.0, 1.0)}, samples=3)
    with pytest.raises(ValueError, match="design: must be one of"):
        sample("sobol", {"x": (0.0, 1.0)}, samples=3)


def monte_carlo(cascade, samples: int, seed: int, stop_time: float):
    """A serial Monte Carlo study of the cascade: a.T normal, b.UA uniform, rows every 600 s."""
    return run_study(
        cascade,
        {"a.T": scipy.stats.norm(350.0, 5.0), "b.UA": (30.0, 50.0)},
        design="monte_carlo",
        samples=samples,
        seed=seed,
        stop_time=stop_time,
        step=60.0,
        output_interval=600.0,
        workers=0,
        progress=False,
    )


def test_monte_carlo_statistics_over_time(cascade):
    result = monte_carlo(cascade, samples=12, seed=7, stop_time=1800.0)
    stats = result.statistics(quantiles=(0.1, 0.9))
    assert list(stats.index) == [0.0, 600.0, 1200.0, 1800.0]
    np.testing.assert_allclose(stats[("Ta", "mean")].iloc[0], result.table["a.T"].mean())
    np.testing.assert_allclose(stats[("Tb", "mean")].iloc[-1], result.table["Tb.final"].mean())
    assert np.all(stats[("Ta", "q0.1")] <= stats[("Ta", "q0.9")])
    _, values = result.trajectories("Ta")
    assert values.shape == (12, 4)


def test_dask_local_cluster_gives_the_process_pool_result(cascade):
    study = dict(
        parameters={"a.UA": (20.0, 60.0), "b.T": (290.0, 300.0)},
        design="lhs",
        samples=6,
        seed=1,
        stop_time=1200.0,
        step=60.0,
        metrics=["final", "mean"],
        progress=False,
    )
    pooled = run_study(cascade, workers=2, **study)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        with Client(cluster) as client:
            on_dask = run_study(cascade, scheduler=client, **study)
            by_address = run_study(cascade, scheduler=cluster.scheduler_address, **study)
            batched = run_study(cascade, scheduler=client, batch=4, **study)  # tasks of 4, 2
    pd.testing.assert_frame_equal(on_dask.table, pooled.table)
    pd.testing.assert_frame_equal(batched.table, pooled.table)
    pd.testing.assert_frame_equal(by_address.table, pooled.table)


RESUMABLE = """
import sys
import fmitwin.models
from fmitwin.fmu import load_fmu
from fmitwin.study import run_study
from fmitwin.system import System

tank = load_fmu(fmitwin.models.path("heated_tank"))
system = System("paced")
system.add("a", tank)
system.add_output("Ta", "a.T")
result = run_study(system, {"a.T": [300.0 + i for i in range(16)]}, stop_time=1.0, step=0.1,
                   workers=0, results_file=sys.argv[1], progress=False,
                   real_time_factor=float(sys.argv[2]))
print(result.resumed, len(result.table))
"""


def test_a_killed_study_resumes_from_its_saved_results(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(RESUMABLE)
    results = tmp_path / "runs.jsonl"
    # paced at 5x real time, each run takes 0.2 s: kill it after a few runs are saved
    process = subprocess.Popen([sys.executable, str(script), str(results), "5"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results.exists() and len(results.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = [json.loads(line)["run"] for line in results.read_text().splitlines()[1:]]
    assert 4 <= len(saved) < 16
    with results.open("a") as f:
        f.write('{"run": 15, "metr')  # a line cut short by the kill
    done = subprocess.run(
        [sys.executable, str(script), str(results), "0"], capture_output=True, text=True, check=True
    )
    resumed, total = map(int, done.stdout.split())
    assert resumed == len(saved) and total == 16
    fresh = tmp_path / "fresh.jsonl"
    subprocess.run([sys.executable, str(script), str(fresh), "0"], check=True, capture_output=True)
    assert saved_metrics(results) == saved_metrics(fresh)


def saved_metrics(path):
    """run id -> metrics of every complete record in a results file."""
    records = {}
    for line in path.read_text().splitlines()[1:]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        records[record["run"]] = record["metrics"]
    return records


def test_a_results_file_of_another_study_is_refused(cascade, tmp_path):
    results = tmp_path / "runs.jsonl"
    common = dict(stop_time=600.0, step=60.0, workers=0, progress=False, results_file=results)
    run_study(cascade, {"a.UA": [30.0, 40.0]}, **common)
    with pytest.raises(ValueError, match="holds the results of another study"):
        run_study(cascade, {"a.UA": [30.0, 45.0]}, **common)
    again = run_study(cascade, {"a.UA": [30.0, 40.0]}, **common)
    assert again.resumed == 2


def test_study_command_reads_toml(tank_path, tmp_path):
    config = tmp_path / "study.toml"
    config.write_text(
        f"""
[target]
fmu = "{tank_path}"
[simulation]
stop_time = 600.0
step = 60.0
outputs = ["T"]
[design]
kind = "grid"
[parameters]
UA = [20.0, 40.0]
[metrics]
stats = ["final"]
[output]
table = "table.csv"
results = "runs.jsonl"
[execution]
workers = 0
"""
    )
    assert main(["study", str(config), "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "table.csv")
    expected = T_AMB + (293.15 - T_AMB) * np.exp(-table["UA"] * 600.0 / C)
    np.testing.assert_allclose(table["T.final"], expected)
    config.write_text(config.read_text().replace("[design]", "[desgn]"))
    assert main(["study", str(config)]) == 2
    assert math.isfinite(table["T.final"].iloc[0])


def test_a_failed_run_is_recorded_with_its_sample_and_the_study_goes_on(tank_path):
    # m = 0 lies inside the declared bounds (min = 0) but the tank refuses it at initialization
    study = dict(stop_time=600.0, step=60.0, outputs=["T"], progress=False)
    for workers in (0, 2):
        result = run_study(tank_path, {"m": [0.0, 100.0]}, workers=workers, **study)
        table = result.table
        assert list(table.columns) == ["run", "m", "T.final", "error"]
        assert math.isnan(table["T.final"].iloc[0]) and "'m' must be > 0" in table["error"].iloc[0]
        assert pd.isna(table["error"].iloc[1]) and math.isfinite(table["T.final"].iloc[1])
        assert list(result.failed["run"]) == [0]
    with pytest.raises(
        StudyRunError, match=r"(?s)run 0 with \{'m': 0\.0\} failed: .*'m' must be > 0"
    ):
        run_study(tank_path, {"m": [0.0, 100.0]}, workers=0, on_error="raise", **study)


def test_a_failed_monte_carlo_run_is_left_out_of_the_statistics(tank_path):
    result = run_study(
        tank_path,
        {"m": [0.0, 50.0, 100.0]},
        stop_time=600.0,
        step=300.0,
        outputs=["T"],
        keep_trajectories=True,
        workers=0,
        progress=False,
    )
    _, values = result.trajectories("T")
    assert values.shape == (2, 3)
    assert result.statistics()[("T", "mean")].iloc[-1] == pytest.approx(values[:, -1].mean())


def test_ranges_outside_the_declared_bounds_are_refused_up_front(tank_path, cascade):
    with pytest.raises(ValueError, match=r"'UA' ranges over \[-20, 50\].*UA declares \(min=0"):
        run_study(tank_path, {"UA": (-20.0, 50.0)}, design="lhs", samples=20, stop_time=60.0)
    with pytest.raises(ValueError, match=r"draws of 'UA' reach .*truncnorm"):
        run_study(
            tank_path,
            {"UA": scipy.stats.norm(1.0, 5.0)},
            design="monte_carlo",
            samples=50,
            stop_time=60.0,
        )
    with pytest.raises(ValueError, match=r"a\.UA declares \(min=0"):
        run_study(cascade, {"a.UA": [-1.0, 2.0]}, stop_time=60.0, step=60.0)
    with pytest.raises(KeyError, match="Did you mean: UA"):
        run_study(tank_path, {"UAA": [1.0]}, stop_time=60.0)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['solver_tol'\].*solver_rtol"):
        run_study(cascade, {"a.UA": [1.0]}, stop_time=60.0, step=60.0, solver_tol=1e-3)
    with pytest.raises(ValueError, match="step: give the communication step"):
        run_study(cascade, {"a.UA": [1.0]}, stop_time=60.0)
    with pytest.raises(KeyError, match="outputs: .*no variable 'Tx'"):
        run_study(cascade, {"a.UA": [1.0]}, stop_time=60.0, step=60.0, outputs=["Ta", "a.Tx"])


@pytest.fixture(scope="module")
def heated(tank_path):
    """One tank heated through the system input P."""
    system = System("heated")
    system.add("a", load_fmu(tank_path))
    system.add_input("P", "a.P_heater")
    system.add_output("Ta", "a.T")
    return system


def heated_final(power, t=3600.0, ua=40.0):
    """Analytic T(t) of the tank from ambient under constant heater power."""
    return T_AMB + power / ua * (1 - np.exp(-ua * t / C))


def test_a_system_input_is_sampled_as_a_constant_or_a_scaled_signal(heated):
    study = dict(stop_time=3600.0, step=60.0, workers=0, progress=False)
    constant = run_study(heated, {"P": [500.0, 2000.0]}, **study)
    np.testing.assert_allclose(constant.table["Ta.final"], heated_final(constant.table["P"]))
    base = pd.DataFrame({"time": [0.0, 3600.0], "P": [1000.0, 1000.0]})
    scaled = run_study(heated, {"P:scale": [0.5, 2.0]}, inputs=base, **study)
    np.testing.assert_allclose(scaled.table["Ta.final"], heated_final(np.array([500.0, 2000.0])))


def test_a_system_input_is_held_inside_the_bounds_of_what_it_drives(heated):
    with pytest.raises(ValueError, match=r"'P' ranges over \[-100, 10\].*a\.P_heater declares"):
        run_study(heated, {"P": [-100.0, 10.0]}, stop_time=60.0, step=60.0)


def test_samples_without_effect_are_refused(heated, cascade, tank_path):
    base = pd.DataFrame({"time": [0.0, 3600.0], "P": [1000.0, 1000.0]})
    common = dict(stop_time=60.0, step=60.0)
    with pytest.raises(ValueError, match="driven by system input 'P'.*sample 'P' instead"):
        run_study(heated, {"a.P_heater": [250.0, 320.0]}, **common)
    with pytest.raises(ValueError, match=r"b\.P_heater is driven by a\.Q_loss"):
        run_study(cascade, {"b.P_heater": [250.0, 320.0]}, **common)
    with pytest.raises(ValueError, match="also given as a signal.*'P:scale'"):
        run_study(heated, {"P": [1.0, 2.0]}, inputs=base, **common)
    with pytest.raises(ValueError, match="the inputs give no signal for it"):
        run_study(heated, {"P:scale": [1.0, 2.0]}, **common)
    with pytest.raises(ValueError, match="Q_loss is computed by the model"):
        run_study(tank_path, {"Q_loss": [1.0, 2.0]}, **common)
    fmu_base = pd.DataFrame({"time": [0.0, 3600.0], "P_heater": [1000.0, 1000.0]})
    with pytest.raises(ValueError, match="input P_heater is given as a signal"):
        run_study(tank_path, {"P_heater": [1.0, 2.0]}, inputs=fmu_base, **common)


def test_an_fmu_input_is_sampled_as_a_constant_or_a_scaled_signal(tank_path):
    study = dict(stop_time=3600.0, step=60.0, outputs=["T"], workers=0, progress=False)
    constant = run_study(tank_path, {"P_heater": [500.0, 2000.0]}, **study)
    np.testing.assert_allclose(constant.table["T.final"], heated_final(constant.table["P_heater"]))
    base = pd.DataFrame({"time": [0.0, 3600.0], "P_heater": [1000.0, 1000.0]})
    scaled = run_study(tank_path, {"P_heater:scale": [0.5, 2.0]}, inputs=base, **study)
    np.testing.assert_allclose(scaled.table["T.final"], heated_final(np.array([500.0, 2000.0])))


STUDY_FILE = """\
[target]
fmu = "heated_tank"
[simulation]
stop_time = 600.0
step = 60.0
outputs = ["T"]
[design]
kind = "lhs"
samples = 3
[parameters]
UA = [20.0, 40.0]
[metrics]
stats = ["final"]
[output]
table = "table.csv"
results = "runs.jsonl"
[execution]
workers = 0
"""


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("step = 60.0", "stpe = 60.0", r"study.toml:5: \[simulation.stpe\] unknown key; "),
        ("step = 60.0", 'step = "1 min"', r":5: \[simulation.step\] expected float, got str"),
        ("UA = [20.0, 40.0]", "UAA = [20.0, 40.0]", r":11: \[parameters.UAA\] .*Did you mean: UA"),
        (
            'fmu = "heated_tank"',
            'ssp = "missing.ssp"',
            r":2: \[target.ssp\] .*missing.ssp does not",
        ),
        ('fmu = "heated_tank"', 'fmu = "heated_tnak"', r":2: \[target.fmu\] .*bundled model"),
        ("samples = 3", "sample = 3", r":9: \[design.sample\] unknown key"),
        ('kind = "lhs"', 'kind = "sobol"', r":8: \[design.kind\] expected one of grid"),
        ('stats = ["final"]', 'stat = ["final"]', r":13: \[metrics.stat\] unknown key"),
        ('stats = ["final"]', 'stats = ["last"]', r":13: \[metrics.stats\] unknown \['last'\]"),
        ("workers = 0", "worker = 0", r":18: \[execution.worker\] unknown key"),
        ('table = "table.csv"', 'tabel = "table.csv"', r":15: \[output.tabel\] unknown key"),
        ("UA = [20.0, 40.0]", "UA = [-20.0, 40.0]", r":11: \[parameters.UA\] .*declares \(min=0"),
        ("UA = [20.0, 40.0]", 'UA = {distribution = "nrom"}', r":11: \[parameters.UA\] distri"),
        ("[design]", "[desgn]", r":7: \[desgn\] unknown section"),
        (
            'outputs = ["T"]',
            'outputs = ["Temp"]',
            r":6: \[simulation.outputs\] .*no variable 'Temp'",
        ),
        ('fmu = "heated_tank"', 'ssp = "broken.ssp"', r":2: \[target.ssp\] .*not an SSP archive"),
        ('fmu = "heated_tank"', 'fmu = "broken.fmu"', r":2: \[target.fmu\] .*not an FMU"),
    ],
)
def test_study_file_mistakes_name_file_line_and_key(tmp_path, capsys, old, new, where):
    (tmp_path / "broken.ssp").write_text("not a zip archive")
    (tmp_path / "broken.fmu").write_text("not a zip archive")
    config = tmp_path / "study.toml"
    assert old in STUDY_FILE
    config.write_text(STUDY_FILE.replace(old, new))
    assert main(["study", str(config), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert re.search(where, error), error
    assert "Traceback" not in error


def test_study_file_runs_a_bundled_model_and_refuses_results_of_another_study(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(STUDY_FILE)
    assert main(["study", str(config), "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "table.csv")
    np.testing.assert_allclose(table["T.final"], T_AMB)  # from ambient, unheated
    config.write_text(STUDY_FILE.replace("samples = 3", "samples = 4"))
    assert main(["study", str(config), "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert re.search(r"study.toml:16: \[output.results\] .*holds the results of another", error)


def test_an_unreachable_scheduler_is_reported_after_a_bounded_wait(tmp_path, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "study.toml"
    config.write_text(STUDY_FILE + "scheduler_timeout = 1.0\n")
    code = main(["study", str(config), "--no-progress", "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2
    error = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s" in error
    assert "Traceback" not in error
    config.write_text(STUDY_FILE + f'scheduler = "tcp://127.0.0.1:{port}"\nscheduler_timeout = 1\n')
    assert main(["study", str(config), "--no-progress"]) == 2
    assert re.search(
        r"study.toml:19: \[execution.scheduler\] cannot reach", capsys.readouterr().err
    )


POOLED = """
import sys
import fmitwin.models
from fmitwin.fmu import load_fmu
from fmitwin.study import run_study
from fmitwin.system import System

tank = load_fmu(fmitwin.models.path("heated_tank"))
system = System("pooled")
system.add("a", tank)
system.add("b", tank)
system.connect("a.Q_loss", "b.P_heater")
system.add_output("Tb", "b.T")
result = run_study(system, {"a.T": [300.0 + i for i in range(int(sys.argv[2]))]}, stop_time=1.0,
                   step=0.1, workers=2, results_file=sys.argv[1], progress=False,
                   real_time_factor=float(sys.argv[3]))
print(len(result.table), result.table["Tb.final"].notna().all())
"""


def children(pid):
    """Ids of the child processes of ``pid`` (Linux)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def pool_workers_once_two_runs_are_saved(process, results):
    """Wait (60 s at most) until the study has saved two runs; its pool workers' ids then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if results.exists() and len(results.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    workers = children(process.pid)
    assert len(workers) >= 2
    return workers


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_pool_study_of_a_system_leaves_no_temporary_folders(tmp_path):
    script, temp = tmp_path / "study.py", tmp_path / "tmp"
    script.write_text(POOLED)
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runs.jsonl"), "4", "0"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["4", "True"]
    assert sorted(os.listdir(temp)) == []
    assert sorted(os.listdir(tmp_path)) == ["runs.jsonl", "study.py", "tmp"]


def test_pool_workers_die_with_a_killed_study_and_clean_up(tmp_path):
    script, temp = tmp_path / "study.py", tmp_path / "tmp"
    script.write_text(POOLED)
    temp.mkdir()
    results = tmp_path / "runs.jsonl"
    env = {**os.environ, "TMPDIR": str(temp)}
    # 40 runs paced at 2x real time (0.5 s each): kill the study once a run is saved
    process = subprocess.Popen([sys.executable, str(script), str(results), "40", "2"], env=env)
    workers = pool_workers_once_two_runs_are_saved(process, results)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(alive(w) for w in workers)
    assert os.listdir(temp) == []  # neither fmitwin's nor FMPy's temporary folders
    assert sorted(os.listdir(tmp_path)) == ["runs.jsonl", "study.py", "tmp"]


def test_ctrl_c_stops_a_pool_study_keeps_its_finished_runs_and_says_how_to_resume(tmp_path):
    from fmitwin.ssp import write_ssp

    system = System("paced")
    system.add("a", load_fmu(fmitwin.models.path("heated_tank")))
    system.add_output("Ta", "a.T")
    write_ssp(system, tmp_path / "paced.ssp")
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = tmp_path / "study.toml"
    # 40 runs paced at 2x real time (0.5 s each) on 2 workers: Ctrl-C once a run is saved
    temperatures = ", ".join(str(300.0 + i) for i in range(40))
    config.write_text(
        f"""
[target]
ssp = "paced.ssp"
[simulation]
stop_time = 1.0
step = 0.1
real_time_factor = 2.0
[parameters]
"a.T" = [{temperatures}]
[output]
results = "runs.jsonl"
table = "table.csv"
[execution]
workers = 2
"""
    )
    results = tmp_path / "runs.jsonl"
    command = [sys.executable, "-m", "fmitwin", "study", str(config), "--no-progress"]
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    workers = pool_workers_once_two_runs_are_saved(process, results)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    saved = len(results.read_text().splitlines()) - 1
    assert 1 <= saved < 40
    assert f"study interrupted after {saved} of 40 runs; they are saved in" in stderr
    assert "run the study again to resume" in stderr
    assert not any(alive(w) for w in workers)
    assert os.listdir(temp) == []
    assert sorted(os.listdir(tmp_path)) == ["paced.ssp", "runs.jsonl", "study.toml", "tmp"]
    resumed = subprocess.run(
        [*command, "--workers", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        input="",
    )
    assert f"40 runs, {saved} resumed" in resumed.stdout


def test_a_study_is_saved_and_loaded_as_parquet(cascade, tmp_path):
    result = monte_carlo(cascade, samples=6, seed=2, stop_time=1200.0)
    folder = result.save(tmp_path / "saved")
    loaded = StudyResult.load(folder)
    pd.testing.assert_frame_equal(loaded.table, result.table)
    pd.testing.assert_frame_equal(loaded.statistics(), result.statistics())
    assert loaded.design == result.design
    assert loaded.design["parameters"]["a.T"] == {
        "distribution": "norm",
        "args": [350.0, 5.0],
        "kwds": {},
    }
    assert loaded.settings == result.settings
    assert loaded.settings["options"] == {"output_interval": 600.0}
    # standard files: any Parquet reader gets the table and the trajectories
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "table.parquet"), result.table)
    long = pd.read_parquet(folder / "trajectories.parquet")
    assert list(long.columns) == ["run", "time", "Ta", "Tb"] and len(long) == 6 * 3
    stats = pd.read_parquet(folder / "statistics.parquet")
    assert list(stats.columns) == ["time", "output", "mean", "std", "q0.05", "q0.5", "q0.95"]
    final_tb = stats[(stats.time == 1200.0) & (stats.output == "Tb")]
    assert final_tb["mean"].item() == pytest.approx(result.table["Tb.final"].mean())
    with pytest.raises(FileNotFoundError, match="no table.parquet"):
        StudyResult.load(tmp_path)


def test_failed_runs_survive_saving(tank_path, tmp_path):
    result = run_study(
        tank_path, {"m": [0.0, 100.0]}, stop_time=60.0, step=60.0, workers=0, progress=False
    )
    loaded = StudyResult.load(result.save(tmp_path / "saved"))
    pd.testing.assert_frame_equal(loaded.table, result.table)
    assert list(loaded.failed["run"]) == [0]


def test_study_command_plots_monte_carlo_quantiles_and_saves(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(
        STUDY_FILE.replace('kind = "lhs"', 'kind = "monte_carlo"')
        .replace("samples = 3", "samples = 8")
        .replace("UA = [20.0, 40.0]", 'T = {distribution = "norm", loc = 330.0, scale = 5.0}')
        .replace('table = "table.csv"', 'table = "table.csv"\nsave = "saved"')
    )
    assert main(["study", str(config), "--no-progress", "--plot", str(tmp_path / "q.png")]) == 0
    png = (tmp_path / "q.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    loaded = StudyResult.load(tmp_path / "saved")
    stats = loaded.statistics()
    assert np.all(stats[("T", "q0.05")] <= stats[("T", "q0.95")])
    assert "wrote" in capsys.readouterr().out


def test_a_bad_input_signal_is_refused_before_any_run(heated, tank_path):
    # a repeated time is a step change (legal); time going back is not
    backwards = pd.DataFrame({"time": [0.0, 60.0, 30.0], "P": [1.0, 1.0, 0.0]})
    with pytest.raises(ValueError, match="time"):
        run_study(heated, {"P:scale": [1.0]}, inputs=backwards, stop_time=60.0, step=60.0)
    stepped = pd.DataFrame({"time": [0.0, 60.0, 60.0], "P": [1.0, 1.0, 0.0]})
    with pytest.raises(KeyError, match="no variable 'P'"):
        run_study(tank_path, {"UA": [1.0]}, inputs=stepped, stop_time=60.0, step=60.0)


def test_study_command_marks_failed_runs_and_fails_when_all_do(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(
        STUDY_FILE.replace('kind = "lhs"', 'kind = "grid"')
        .replace("samples = 3\n", "")
        .replace("UA = [20.0, 40.0]", "m = [0.0, 100.0]")
    )
    assert main(["study", str(config), "--no-progress"]) == 0
    assert "1 of 2 runs failed" in capsys.readouterr().err
    table = pd.read_csv(tmp_path / "table.csv")
    assert table["error"].isna().tolist() == [False, True]
    (tmp_path / "runs.jsonl").unlink()
    config.write_text(config.read_text().replace("m = [0.0, 100.0]", "m = [0.0]"))
    assert main(["study", str(config), "--no-progress"]) == 1
    assert "1 of 1 runs failed" in capsys.readouterr().err


def test_a_resumed_study_runs_its_failed_runs_again(tank_path, tmp_path):
    common = dict(stop_time=60.0, step=60.0, workers=0, progress=False)
    results = tmp_path / "runs.jsonl"
    first = run_study(tank_path, {"m": [0.0, 100.0]}, results_file=results, **common)
    assert first.resumed == 0 and list(first.failed["run"]) == [0]
    again = run_study(tank_path, {"m": [0.0, 100.0]}, results_file=results, **common)
    assert again.resumed == 1 and list(again.failed["run"]) == [0]
    pd.testing.assert_frame_equal(again.table, first.table)
