"""A real Dask cluster on 127.0.0.1 whose workers carry the tiers of fmitwin.placement: one edge
worker at site plant-a, two fog workers, one cloud worker with a GPU and 64 GiB of MEMORY. The
workers are processes under nannies, as `dask worker` starts them (a killed one is restarted)."""

from __future__ import annotations

from distributed import Client, Nanny, Scheduler, SpecCluster
from fmitwin.placement import GiB, worker_resources

# name -> (threads, resources)
WORKERS = {
    "edge-1": (1, worker_resources("edge", 1, site="plant-a")),
    "fog-1": (1, worker_resources("fog", 1)),
    "fog-2": (1, worker_resources("fog", 1)),
    "cloud-1": (2, worker_resources("cloud", 2, gpus=1, memory=64 * GiB)),
}


def tiered_cluster() -> SpecCluster:
    """The cluster of WORKERS (a context manager; no dashboard)."""
    spec = {
        name: {
            "cls": Nanny,
            "options": {
                "nthreads": threads,
                "resources": resources,
                "host": "127.0.0.1",
                "memory_limit": 0,
                "name": name,
            },
        }
        for name, (threads, resources) in WORKERS.items()
    }
    scheduler = {
        "cls": Scheduler,
        "options": {"host": "127.0.0.1", "dashboard": False, "dashboard_address": ":0"},
    }
    return SpecCluster(workers=spec, scheduler=scheduler)


def names(client: Client) -> dict[str, str]:
    """Worker address -> name."""
    return {a: w["name"] for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
