"""Placement on a real Dask cluster (tests/cluster/conftest.py: edge, fog and cloud workers):
tasks land where the policy says, unplaceable work is refused with the requirement nothing meets,
a killed worker's study tasks are rerun, and Ctrl-C stops a study on the cluster and leaves the
cluster idle and usable."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import fmitwin.models
import pytest
from distributed import get_task_stream, get_worker
from fmitwin.cli import main
from fmitwin.fmu import load_fmu
from fmitwin.placement import PlacementError, Requirements, submit_placed
from fmitwin.ssp import write_ssp
from fmitwin.study import run_study
from fmitwin.system import System
from support.dask_cluster import WORKERS, names


def worker_name() -> str:
    return get_worker().name


@pytest.fixture(scope="module")
def paced(tmp_path_factory):
    """A one-tank system written as paced.ssp (its runs are paced with real_time_factor)."""
    system = System("paced")
    system.add("a", load_fmu(fmitwin.models.path("heated_tank")))
    system.add_output("Ta", "a.T")
    path = tmp_path_factory.mktemp("paced") / "paced.ssp"
    write_ssp(system, path)
    return system, path


@pytest.mark.parametrize(
    ("requirements", "workers"),
    [
        (Requirements(latency="realtime"), {"edge-1"}),
        (Requirements(latency="realtime", site="plant-a"), {"edge-1"}),
        (Requirements(latency="interactive"), {"fog-1", "fog-2"}),
        (Requirements(), {"fog-1", "fog-2"}),
        (Requirements(gpus=1), {"cloud-1"}),
        (Requirements(memory="32 GiB", cores=2), {"cloud-1"}),
        (Requirements(tier="cloud"), {"cloud-1"}),
    ],
)
def test_tasks_land_on_the_workers_the_policy_says(client, requirements, workers):
    futures = [submit_placed(client, worker_name, requirements=requirements) for _ in range(6)]
    assert set(client.gather(futures)) <= workers


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        (Requirements(gpus=2), "no worker offers GPU=2, needed for gpus=2"),
        (Requirements(memory="1 TiB"), "no worker offers MEMORY=1099511627776, needed for memory"),
        (
            Requirements(site="plant-b"),
            "no worker offers site:plant-b=1, needed for site='plant-b'",
        ),
        (Requirements(latency="realtime", cores=2), "edge=2, needed for latency='realtime'"),
        (Requirements(latency="realtime", gpus=1), "no single worker offers all of edge=1, GPU=1"),
    ],
)
def test_unplaceable_work_names_the_requirement_and_what_workers_offer(
    client, requirements, message
):
    with pytest.raises(PlacementError, match=re.escape(message)) as refused:
        submit_placed(client, worker_name, requirements=requirements)
    assert "the workers offer: " in str(refused.value)
    assert "cloud-1: cloud=2, GPU=1, MEMORY=68719476736" in str(refused.value)
    assert "edge-1: edge=1, site:plant-a=1" in str(refused.value)


def test_retries_rerun_a_task_that_raised(client, tmp_path):
    marker = tmp_path / "failed-once"

    def flaky() -> str:
        if not marker.exists():
            marker.touch()
            raise OSError("recorded data not there yet")
        return worker_name()

    future = submit_placed(client, flaky, requirements=Requirements(gpus=1), retries=1)
    assert future.result() == "cloud-1"


def test_a_study_runs_its_tasks_where_its_requirements_say(client, paced):
    system, _ = paced
    study = dict(stop_time=1.0, step=0.1, progress=False)
    with get_task_stream(client) as stream:
        result = run_study(
            system,
            {"a.UA": [20.0, 30.0, 40.0, 50.0]},
            scheduler=client,
            batch=1,
            requirements=Requirements(gpus=1),
            **study,
        )
    ran = {names(client)[t["worker"]] for t in stream.data if "_run_batch" in str(t["key"])}
    assert ran == {"cloud-1"}
    reference = run_study(system, {"a.UA": [20.0, 30.0, 40.0, 50.0]}, workers=0, **study)
    assert result.table.equals(reference.table)
    with pytest.raises(PlacementError, match="no worker offers GPU=3"):
        run_study(system, {"a.UA": [20.0]}, scheduler=client, requirements=Requirements(gpus=3),
                  **study)  # fmt: skip
    with pytest.raises(ValueError, match="requirements: placement and retries apply to Dask"):
        run_study(system, {"a.UA": [20.0]}, requirements=Requirements(), **study)


def saved_runs(results) -> int:
    return len(results.read_text().splitlines()) - 1 if results.exists() else 0


def wait_until(condition, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def study_tasks(client) -> list[str]:
    """The keys of study tasks the scheduler still holds."""
    keys = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return [k for k in keys if "_run_batch" in k]


def test_a_killed_workers_study_tasks_are_rerun_and_the_result_is_complete(client, paced, tmp_path):
    system, _ = paced
    values = [300.0 + i for i in range(12)]
    results = tmp_path / "runs.jsonl"
    outcome = {}

    def study() -> None:  # on the two fog workers, each run paced to 0.25 s
        outcome["result"] = run_study(system, {"a.T": values}, stop_time=1.0, step=0.1,
                                      scheduler=client, batch=1, requirements=Requirements(),
                                      results_file=results, progress=False,
                                      real_time_factor=4.0)  # fmt: skip

    running = threading.Thread(target=study)
    running.start()
    wait_until(lambda: saved_runs(results) >= 2, "two runs are saved")
    fog = {n: a for a, n in names(client).items()}["fog-1"]
    wait_until(lambda: client.processing(workers=[fog])[fog], "fog-1 is running a study task")
    (pid,) = client.run(os.getpid, workers=[fog]).values()
    os.kill(pid, signal.SIGKILL)  # its task is lost with it
    running.join(120)
    assert not running.is_alive()
    result = outcome["result"]
    reference = run_study(system, {"a.T": values}, stop_time=1.0, step=0.1, workers=0,
                          progress=False)  # fmt: skip
    assert result.table.equals(reference.table)
    assert result.failed.empty
    client.wait_for_workers(len(WORKERS), timeout=60)  # the nanny restarted it


STUDY = """\
[target]
ssp = "paced.ssp"
[simulation]
stop_time = 1.0
step = 0.1
real_time_factor = {pace}
[parameters]
"a.T" = [{temperatures}]
[output]
results = "runs.jsonl"
table = "table.csv"
[execution]
batch = 1
latency = "interactive"
"""


def write_study(folder, paced, runs: int, pace: float, extra: str = ""):
    (folder / "paced.ssp").write_bytes(paced[1].read_bytes())
    config = folder / "study.toml"
    temperatures = ", ".join(str(300.0 + i) for i in range(runs))
    config.write_text(STUDY.format(pace=pace, temperatures=temperatures) + extra)
    return config


def test_ctrl_c_stops_a_study_on_the_cluster_keeps_its_runs_and_leaves_the_cluster_usable(
    cluster, client, paced, tmp_path
):
    config = write_study(tmp_path, paced, 30, 2.0)  # 0.5 s per run on two fog workers
    results = tmp_path / "runs.jsonl"
    command = [sys.executable, "-m", "fmitwin", "study", str(config), "--no-progress"]
    process = subprocess.Popen(
        [*command, "--scheduler", cluster.scheduler_address], stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: saved_runs(results) >= 2, "two runs are saved")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    saved = saved_runs(results)
    assert 2 <= saved < 30
    assert f"study interrupted after {saved} of 30 runs; they are saved in" in stderr
    wait_until(lambda: not study_tasks(client), "the scheduler holds no study task", 30)
    future = submit_placed(client, worker_name, requirements=Requirements(latency="interactive"))
    assert future.result() in {"fog-1", "fog-2"}


OWN_CLIENT = """
import sys, time
from distributed import Client
from fmitwin.placement import Requirements
from fmitwin.ssp import read_ssp
from fmitwin.study import StudyInterrupted, run_study

client = Client(sys.argv[1])
try:
    run_study(read_ssp(sys.argv[2]), {"a.T": [300.0 + i for i in range(30)]}, stop_time=1.0,
              step=0.1, scheduler=client, batch=1, requirements=Requirements(),
              results_file=sys.argv[3], progress=False, real_time_factor=2.0)
except StudyInterrupted as stopped:
    print("interrupted", stopped.finished, flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline and any(
    "_run_batch" in str(k)
    for k in client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))
):
    time.sleep(0.05)
print("idle", time.monotonic() < deadline, "usable", client.submit(sum, [1, 2]).result())
"""


def test_ctrl_c_stops_a_study_on_the_users_own_client_which_stays_usable(cluster, paced, tmp_path):
    script, results = tmp_path / "study.py", tmp_path / "runs.jsonl"
    script.write_text(OWN_CLIENT)
    arguments = [cluster.scheduler_address, str(paced[1]), str(results)]
    process = subprocess.Popen(
        [sys.executable, str(script), *arguments], stdout=subprocess.PIPE, text=True
    )
    wait_until(lambda: saved_runs(results) >= 2, "two runs are saved")
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    saved = saved_runs(results)
    assert 2 <= saved < 30
    assert stdout.split() == ["interrupted", str(saved), "idle", "True", "usable", "3"]


def test_the_study_file_places_its_tasks_and_refuses_unplaceable_work(
    cluster, paced, tmp_path, capsys
):
    config = write_study(tmp_path, paced, 2, 1000.0, 'site = "plant-a"\nretries = 1\n')
    address = cluster.scheduler_address
    assert main(["study", str(config), "--no-progress", "--scheduler", address]) == 2
    # interactive work runs on the fog, and no fog worker stands at plant-a
    assert re.search(
        r"study.toml:12: \[execution\] no single worker offers all of fog=1, site:plant-a=1; "
        "the workers offer: ",
        capsys.readouterr().err,
    )
    config.write_text(config.read_text().replace('"interactive"', '"realtime"'))
    assert main(["study", str(config), "--no-progress", "--scheduler", address]) == 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ('gpus = "one"\n', r":15: \[execution.gpus\] expected int, got str"),
        ('memory = "lots"\n', r":15: \[execution.memory\] memory 'lots' is not a size"),
        ("cores = 0\n", r":15: \[execution.cores\] cores must be a whole number >= 1"),
        ('tier = "mist"\n', r":15: \[execution.tier\] tier must be one of edge, fog, cloud"),
        ("retries = -1\n", r":15: \[execution.retries\] expected a whole number >= 0"),
        ("", r":14: \[execution.latency\] placement and retries apply to Dask tasks; set"),
    ],
)
def test_study_file_placement_mistakes_name_file_line_and_key(
    paced, tmp_path, capsys, extra, where
):
    config = write_study(tmp_path, paced, 2, 1000.0, extra)
    config.write_text(config.read_text().replace('latency = "interactive"\n', "workers = 0\n"))
    if not extra:
        config.write_text(config.read_text().replace("workers = 0", 'latency = "batch"'))
    assert main(["study", str(config), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert re.search(where, error), error
    assert "Traceback" not in error
