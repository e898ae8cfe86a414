"""Where a study's time goes on one machine: serial vs local process pool vs Dask.

The study: a two-tank cascade (bundled heated tank, FMI 2.0 co-simulation, Jacobi) swept over
the first tank's initial temperature; each run is sized to take about ``--run-time`` seconds of
CPU. The same study runs

* serially in this process (``workers=0``),
* on a local process pool of ``--workers`` processes,
* on a Dask ``LocalCluster`` of ``--workers`` single-threaded worker processes, once with one
  run per task (``batch=1``) and once batched (the default: about four tasks per worker thread).

For Dask the report splits the overhead: starting the cluster (paid once, not in the study
times), sending the study (with the model archive) to every worker (``scatter``), and the
per-task scheduling, estimated as (Dask time with batch=1 - Dask time batched) / tasks saved.
Ratios are pool time / Dask time: 1 or more means Dask costs no more than the pool.

    python benchmarks/compare_study.py [--runs 200] [--run-time 0.2] [--workers 2]

Needs the ``dask`` extra (``pip install fmitwin[dask]``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import fmitwin.models
import pandas as pd
from distributed import Client, LocalCluster
from fmitwin.fmu import load_fmu
from fmitwin.ssp import write_ssp
from fmitwin.study import run_study
from fmitwin.system import System

STEP = 1.0


def cascade() -> System:
    tank = load_fmu(fmitwin.models.path("heated_tank"))
    system = System("cascade")
    system.add("a", tank, start_values={"cs_max_step": 0.05})
    system.add("b", tank, start_values={"cs_max_step": 0.05})
    system.connect("a.Q_loss", "b.P_heater")
    system.add_output("Tb", "b.T")
    return system


def sized_stop_time(system: System, run_time: float) -> float:
    """A stop time at which one run takes about ``run_time`` seconds here."""
    stop = 100.0
    while True:
        started = time.perf_counter()
        system.simulate(stop, STEP)
        elapsed = time.perf_counter() - started
        if elapsed > 0.05:
            return max(STEP, round(stop * run_time / elapsed))
        stop *= 4


def timed(label: str, times: dict[str, float], function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    times[label] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--run-time", type=float, default=0.2, help="seconds per run (about)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    system = cascade()
    stop_time = sized_stop_time(system, args.run_time)
    parameters = {"a.T": [300.0 + 0.1 * i for i in range(args.runs)]}
    common = dict(stop_time=stop_time, step=STEP, progress=False)
    times: dict[str, float] = {}
    serial = timed("serial", times, run_study, system, parameters, workers=0, **common)
    pooled = timed("pool", times, run_study, system, parameters, workers=args.workers, **common)

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    times["cluster start"] = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory() as folder:
            task_bytes = len(write_ssp(system, Path(folder) / "s.ssp").read_bytes())
        started = time.perf_counter()
        client.scatter(b"\0" * task_bytes, broadcast=True)
        times["scatter (model archive to every worker)"] = time.perf_counter() - started
        # every worker loads the model once (cached by the archive's hash): not per task
        timed(
            "dask, first study (workers load the model)",
            times,
            run_study,
            system,
            {"a.T": [300.0, 301.0]},
            scheduler=client,
            **common,
        )
        per_run = timed(
            "dask, 1 run per task",
            times,
            run_study,
            system,
            parameters,
            scheduler=client,
            batch=1,
            **common,
        )
        batched = timed(
            "dask, batched", times, run_study, system, parameters, scheduler=client, **common
        )
        threads = sum(client.nthreads().values())
    finally:
        client.close()
        cluster.close()
    for result in (pooled, per_run, batched):
        pd.testing.assert_frame_equal(result.table, serial.table)  # same numbers everywhere

    tasks_batched = -(-args.runs // max(1, -(-args.runs // (4 * threads))))
    saved = args.runs - tasks_batched
    per_task = (times["dask, 1 run per task"] - times["dask, batched"]) / max(saved, 1)
    print(
        f"{args.runs} runs of about {args.run_time:g} s (stop_time {stop_time:g} s), "
        f"{args.workers} workers; model archive {task_bytes / 1024:.0f} KiB"
    )
    for label, seconds in times.items():
        print(f"  {label:<42}{seconds:8.2f} s")
    print(f"  {'scheduling per Dask task (estimate)':<42}{per_task * 1e3:8.1f} ms")
    print(f"  {'tasks: 1 run per task / batched':<42}{args.runs:>5} / {tasks_batched}")
    print("ratios (pool time / other time; >= 1: no slower than the pool)")
    for label in ("serial", "dask, 1 run per task", "dask, batched"):
        print(f"  pool / {label:<35}{times['pool'] / times[label]:8.2f}")


if __name__ == "__main__":
    main()
