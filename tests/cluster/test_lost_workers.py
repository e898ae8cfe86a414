"""Workers lost for good (a cluster of its own per test, with workers in this process, since one
is removed): pending tasks that no worker can take any more are reported instead of left waiting
forever, and a batch whose workers keep dying is recorded as failed runs."""

import threading
import time

import dask
import fmitwin.models
import pytest
from distributed import Client, Scheduler, SpecCluster, Worker
from fmitwin.fmu import load_fmu
from fmitwin.placement import PlacementError, PlacementPolicy, Requirements, worker_resources
from fmitwin.study import run_study
from fmitwin.system import System


def edge_and_fog() -> SpecCluster:
    spec = {
        name: {
            "cls": Worker,
            "options": {"host": "127.0.0.1", "nthreads": 1, "resources": offer, "name": name},
        }
        for name, offer in (
            ("edge-1", worker_resources("edge", 1)),
            ("fog-1", worker_resources("fog", 1)),
        )
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": ":0"}}
    return SpecCluster(workers=spec, scheduler=scheduler)


def paced_study(client, results, requirements, **placement):
    """12 runs at the edge, each paced to 0.25 s, one per task."""
    system = System("paced")
    system.add("a", load_fmu(fmitwin.models.path("heated_tank")))
    system.add_output("Ta", "a.T")
    return run_study(system, {"a.T": [300.0 + i for i in range(12)]}, stop_time=1.0, step=0.1,
                     scheduler=client, batch=1, requirements=requirements, results_file=results,
                     progress=False, real_time_factor=4.0, **placement)  # fmt: skip


def lose_worker_once_runs_are_saved(client, name, results) -> threading.Thread:
    """Removes worker ``name`` from the scheduler (as a crash would) once two runs are saved."""
    address = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == name)

    def lose() -> None:
        while not results.exists() or len(results.read_text().splitlines()) < 3:
            time.sleep(0.05)

        async def remove(dask_scheduler):
            await dask_scheduler.remove_worker(address, stimulus_id="test-lost-worker")

        client.run_on_scheduler(remove)

    losing = threading.Thread(target=lose)
    losing.start()
    return losing


def test_pending_tasks_whose_workers_are_gone_for_good_are_reported(tmp_path):
    results = tmp_path / "runs.jsonl"
    with edge_and_fog() as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        losing = lose_worker_once_runs_are_saved(client, "edge-1", results)
        with pytest.raises(PlacementError) as lost:
            paced_study(client, results, Requirements(latency="realtime"),
                        policy=PlacementPolicy(lost_worker_grace=1.0))  # fmt: skip
        losing.join()
    message = str(lost.value)
    assert "lost the workers that could run them and none came back within 1 s" in message
    assert "no worker offers edge=1, needed for latency='realtime'" in message
    assert "the workers offer: fog-1: fog=1" in message
    saved = len(results.read_text().splitlines()) - 1
    assert 2 <= saved < 12


def test_a_batch_whose_workers_keep_dying_is_recorded_as_failed_runs(tmp_path):
    results = tmp_path / "runs.jsonl"
    # the scheduler gives a task up at the first death of its worker (KilledWorker)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with edge_and_fog() as cluster, Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            losing = lose_worker_once_runs_are_saved(client, "fog-1", results)
            # on either tier: the edge worker takes over what is left
            result = paced_study(client, results, None)
            losing.join()
    failed = result.failed  # the runs it held (running or queued on it)
    assert 1 <= len(failed) < 12, result.table
    assert failed["error"].str.startswith("KilledWorker: ").all()
    assert len(result.table) == 12
    assert result.table["Ta.final"].notna().sum() == 12 - len(failed)
