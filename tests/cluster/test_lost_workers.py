"""A study whose only able worker is lost for good: reported, not left waiting forever (a
cluster of its own, with workers in this process, since one is removed for good)."""

import threading
import time

import fmitwin.models
import pytest
from distributed import Client, Scheduler, SpecCluster, Worker
from fmitwin.fmu import load_fmu
from fmitwin.placement import PlacementError, PlacementPolicy, Requirements, worker_resources
from fmitwin.study import run_study
from fmitwin.system import System


def test_pending_tasks_whose_workers_are_gone_for_good_are_reported(tmp_path):
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
    system = System("paced")
    system.add("a", load_fmu(fmitwin.models.path("heated_tank")))
    system.add_output("Ta", "a.T")
    results = tmp_path / "runs.jsonl"
    with SpecCluster(workers=spec, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        edge = next(
            a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "edge-1"
        )

        def lose_the_edge_worker() -> None:
            while not results.exists() or len(results.read_text().splitlines()) < 2:
                time.sleep(0.05)

            async def remove(dask_scheduler):
                await dask_scheduler.remove_worker(edge, stimulus_id="test-lost-for-good")

            client.run_on_scheduler(remove)

        losing = threading.Thread(target=lose_the_edge_worker)
        losing.start()
        with pytest.raises(PlacementError) as lost:
            # realtime work runs at the edge only; each run paced to 0.25 s
            run_study(system, {"a.T": [300.0 + i for i in range(12)]}, stop_time=1.0, step=0.1,
                      scheduler=client, batch=1, requirements=Requirements(latency="realtime"),
                      policy=PlacementPolicy(lost_worker_grace=1.0), results_file=results,
                      progress=False, real_time_factor=4.0)  # fmt: skip
        losing.join()
        message = str(lost.value)
        assert "lost the workers that could run them and none came back within 1 s" in message
        assert "no worker offers edge=1, needed for latency='realtime'" in message
        assert "the workers offer: fog-1: fog=1" in message
        saved = len(results.read_text().splitlines()) - 1
        assert 1 <= saved < 12
