"""Scripted studies: parameter sweeps and Monte Carlo over a System or a single FMU.

:func:`run_study` samples parameters and initial states (start values), simulates every sample
on a local process pool (default) or a Dask cluster, and returns a :class:`StudyResult`: a tidy
table with one row per run (``run``, the sampled inputs, the metrics of the chosen outputs) and,
for Monte Carlo, statistics over time (mean, standard deviation, quantiles).

Designs (``parameters`` maps a name to its specification; names are "instance.variable" for a
System and the variable name for an FMU):

* ``"grid"``: each value is a list of values; the runs are the Cartesian product.
* ``"lhs"``: each value is ``(low, high)``; ``samples`` points of a Latin hypercube
  (``scipy.stats.qmc.LatinHypercube``, seeded) scaled to the bounds.
* ``"monte_carlo"``: each value is a frozen ``scipy.stats`` distribution or ``(low, high)``
  (uniform); ``samples`` independent draws (seeded).

Metrics: names from ``final``, ``mean``, ``min``, ``max``, ``std`` applied to every recorded
output (columns ``"<output>.<metric>"``), or a mapping name -> picklable function
``f(result) -> float`` of the :class:`~fmitwin.simulation.SimulationResult`.

Execution: each worker loads the model once (a per-process cache keyed by the model file's hash)
and instantiates it per run. A System travels to the workers as an SSP file written next to the
results (so a Dask cluster needs the folder on a shared file system). With ``results_file``
every finished run is appended to a JSON-lines file keyed by run id; a killed study called again
with the same file and the same study resumes, running only the missing runs.

TOML schema of ``fmitwin study study.toml`` (relative paths are relative to the TOML file)::

    [target]
    ssp = "system.ssp"          # or: fmu = "model.fmu"
    [simulation]
    stop_time = 100.0
    step = 0.1
    method = "jacobi"            # System only: jacobi | gauss_seidel | variable
    outputs = ["tank.T"]         # recorded; default: the system outputs / FMU outputs
    [design]
    kind = "lhs"                 # grid | lhs | monte_carlo
    samples = 50                 # lhs and monte_carlo
    seed = 1
    [parameters]
    "tank.UA" = [30.0, 50.0]     # grid: list of values; lhs / monte_carlo: [low, high]
    "tank.T" = { distribution = "norm", loc = 300.0, scale = 2.0 }   # monte_carlo: any scipy.stats
    [metrics]
    stats = ["final", "max"]
    [output]
    table = "study.csv"          # the tidy table
    results = "study.jsonl"      # per-run results, for resuming
    statistics = "statistics.csv"  # Monte Carlo statistics over time
    [execution]
    workers = 2                  # local process pool size
    scheduler = "tcp://127.0.0.1:8786"   # optional: run on this Dask scheduler instead
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DESIGNS = ("grid", "lhs", "monte_carlo")
STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "final": lambda x: float(x[-1]),
    "mean": lambda x: float(np.mean(x)),
    "min": lambda x: float(np.min(x)),
    "max": lambda x: float(np.max(x)),
    "std": lambda x: float(np.std(x)),
}


# -- sampling --------------------------------------------------------------------------------------


def sample(design: str, parameters: Mapping[str, Any], samples: int | None = None, seed: int = 0):
    """The table of sampled inputs (pandas DataFrame, one row per run, one column per name)."""
    import pandas as pd

    if design not in DESIGNS:
        raise ValueError(f"design: must be one of {', '.join(DESIGNS)}, got {design!r}")
    if not parameters:
        raise ValueError("parameters: give at least one parameter to vary")
    names = list(parameters)
    if design == "grid":
        for name, values in parameters.items():
            if np.ndim(values) != 1 or len(values) == 0:
                raise ValueError(f"parameters: grid values of {name!r} must be a non-empty list")
        rows = list(itertools.product(*(list(parameters[n]) for n in names)))
        return pd.DataFrame(rows, columns=names)
    if samples is None or int(samples) < 1:
        raise ValueError(f"samples: {design} needs a number of samples >= 1, got {samples!r}")
    samples = int(samples)
    if design == "lhs":
        from scipy.stats import qmc

        bounds = np.array([_bounds(name, parameters[name]) for name in names], dtype=float)
        unit = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(seed)).random(samples)
        return pd.DataFrame(qmc.scale(unit, bounds[:, 0], bounds[:, 1]), columns=names)
    rng = np.random.default_rng(seed)
    columns = {}
    for name in names:
        spec = parameters[name]
        if hasattr(spec, "rvs"):
            columns[name] = np.asarray(spec.rvs(size=samples, random_state=rng), dtype=float)
        else:
            low, high = _bounds(name, spec)
            columns[name] = rng.uniform(low, high, size=samples)
    return pd.DataFrame(columns)


def _bounds(name: str, spec: Any) -> tuple[float, float]:
    if np.ndim(spec) != 1 or len(spec) != 2 or not spec[0] < spec[1]:
        raise ValueError(
            f"parameters: {name!r} needs bounds (low, high) with low < high, got {spec!r}"
        )
    return float(spec[0]), float(spec[1])


# -- workers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    """What a worker needs to run one sample (small and picklable)."""

    path: str  # .ssp (a System) or .fmu
    fingerprint: str
    stop_time: float
    step: float | None
    outputs: tuple[str, ...] | None
    options: tuple[tuple[str, Any], ...]
    metrics: Any  # tuple of statistic names, or a mapping name -> picklable function
    keep_trajectory: bool


_CACHE: dict[str, Any] = {}  # fingerprint -> loaded System / FmuModel, one per worker process


def _target(task: _Task) -> Any:
    target = _CACHE.get(task.fingerprint)
    if target is None:
        if task.path.endswith(".ssp"):
            from fmitwin.ssp import read_ssp

            target = read_ssp(task.path)
        else:
            from fmitwin.fmu import load_fmu

            target = load_fmu(task.path)
        _CACHE[task.fingerprint] = target
    return target


def _run(task: _Task, run_id: int, values: dict[str, float]) -> dict[str, Any]:
    """Simulates one sample; returns its record (run id, metrics, optional trajectory)."""
    from fmitwin.system import System

    target = _target(task)
    options = dict(task.options)
    outputs = list(task.outputs) if task.outputs is not None else None
    if isinstance(target, System):
        step = task.step or target.experiment.get("step")
        if step is None:
            raise ValueError("step: the study needs a communication step for a System")
        options.setdefault("method", target.experiment.get("method", "jacobi"))
        result = target.simulate(
            task.stop_time, step, outputs=outputs, start_values=values, **options
        )
    else:
        from fmitwin.simulation import simulate

        result = simulate(
            target, task.stop_time, task.step, outputs=outputs, start_values=values, **options
        )
    metrics = {}
    if isinstance(task.metrics, Mapping):
        for name, function in task.metrics.items():
            metrics[name] = float(function(result))
    else:
        for output in result.names:
            column = np.asarray(result[output], dtype=float)
            for stat in task.metrics:
                metrics[f"{output}.{stat}"] = STATISTICS[stat](column)
    record: dict[str, Any] = {"run": run_id, "metrics": metrics}
    if task.keep_trajectory:
        record["time"] = result.time.tolist()
        record["trajectory"] = {
            name: np.asarray(result[name], dtype=float).tolist() for name in result.names
        }
    return record


def _prime(task: _Task) -> None:
    """Process-pool initializer: load the model once per worker."""
    _target(task)


# -- results ---------------------------------------------------------------------------------------


class StudyResult:
    """A finished study: ``table`` (one row per run: run, inputs, metrics) and trajectories.

    ``resumed`` counts the runs taken from the results file instead of being simulated.
    """

    def __init__(self, table: Any, records: dict[int, dict[str, Any]], resumed: int):
        self.table = table
        self._records = records
        self.resumed = resumed

    def trajectories(self, output: str) -> tuple[np.ndarray, np.ndarray]:
        """(time, values runs x times) of ``output``; needs trajectories kept."""
        ids = sorted(self._records)
        if not ids or "trajectory" not in self._records[ids[0]]:
            raise ValueError("no trajectories were kept; run the study with keep_trajectories=True")
        if output not in self._records[ids[0]]["trajectory"]:
            raise KeyError(
                f"{output!r} was not recorded ({', '.join(self._records[ids[0]]['trajectory'])})"
            )
        time = np.asarray(self._records[ids[0]]["time"])
        return time, np.array([self._records[i]["trajectory"][output] for i in ids])

    def statistics(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> Any:
        """Statistics over time across runs: a DataFrame indexed by time with columns
        ``(output, stat)`` for stat in mean, std and each quantile ``q0.05`` ...
        """
        import pandas as pd

        ids = sorted(self._records)
        outputs = list(self._records[ids[0]].get("trajectory", {})) if ids else []
        if not outputs:
            raise ValueError("no trajectories were kept; run the study with keep_trajectories=True")
        columns = {}
        time = None
        for output in outputs:
            time, values = self.trajectories(output)
            columns[(output, "mean")] = values.mean(axis=0)
            columns[(output, "std")] = values.std(axis=0)
            for q in quantiles:
                columns[(output, f"q{q:g}")] = np.quantile(values, q, axis=0)
        frame = pd.DataFrame(columns, index=pd.Index(time, name="time"))
        frame.columns = pd.MultiIndex.from_tuples(frame.columns)
        return frame


def _read_results(path: Path, fingerprint: str) -> dict[int, dict[str, Any]]:
    """The runs already in ``path``; an unfinished last line (a killed writer) is ignored."""
    if not path.exists():
        return {}
    records: dict[int, dict[str, Any]] = {}
    with path.open() as f:
        for number, line in enumerate(f):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if number == 0:
                if entry.get("study") != fingerprint:
                    raise ValueError(
                        f"results_file: {path} holds the results of another study (different "
                        "model, samples or settings); delete it or give another file"
                    )
                continue
            records[int(entry["run"])] = entry
    return records


# -- the study -------------------------------------------------------------------------------------


def run_study(
    target: Any,
    parameters: Mapping[str, Any],
    *,
    stop_time: float,
    step: float | None = None,
    design: str = "grid",
    samples: int | None = None,
    seed: int = 0,
    outputs: Sequence[str] | None = None,
    metrics: Sequence[str] | Mapping[str, Callable[[Any], float]] = ("final",),
    keep_trajectories: bool | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    results_file: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **options: Any,
) -> StudyResult:
    """Runs a parameter study over ``target`` and returns a :class:`StudyResult`.

    target: a :class:`~fmitwin.System`, an FMU / SSP path, or a model from ``load_fmu``.
    parameters, design, samples, seed: what to sample (see the module docstring).
    stop_time, step, outputs, options: passed to ``System.simulate`` / ``fmitwin.simulate``.
    metrics: statistic names, or name -> function of the result.
    keep_trajectories: keep every run's trajectories (default: for Monte Carlo), needed for
        :meth:`StudyResult.statistics`.
    workers: local process pool size (default: CPU count); 0 runs in this process.
    scheduler: a Dask scheduler address or ``distributed.Client``: run there instead.
    results_file: JSON-lines file of per-run results; resumes a killed study.
    """
    import pandas as pd

    from fmitwin.fmu import FmuModel
    from fmitwin.ssp import write_ssp
    from fmitwin.system import System

    if isinstance(metrics, str):
        raise TypeError("metrics: give a list of statistic names, not a single string")
    if not isinstance(metrics, Mapping):
        unknown = [m for m in metrics if m not in STATISTICS]
        if unknown:
            raise ValueError(f"metrics: unknown {unknown}; choose from {', '.join(STATISTICS)}")
        metrics = tuple(metrics)
    inputs = sample(design, parameters, samples, seed)
    if keep_trajectories is None:
        keep_trajectories = design == "monte_carlo"
    workdir = Path(results_file).parent if results_file is not None else None
    temporary = None
    if isinstance(target, System):
        temporary = tempfile.TemporaryDirectory(prefix="fmitwin-study-", dir=workdir)
        path = Path(temporary.name) / f"{target.name}.ssp"
        write_ssp(target, path)
        with zipfile.ZipFile(path) as zf:
            described = zf.read("SystemStructure.ssd")
    else:
        path = Path(target.path if isinstance(target, FmuModel) else target)
        if not path.is_file():
            raise FileNotFoundError(f"target: {path} does not exist")
        described = path.read_bytes()
    task = _Task(
        path=str(path),
        fingerprint=hashlib.sha256(described).hexdigest(),
        stop_time=float(stop_time),
        step=None if step is None else float(step),
        outputs=None if outputs is None else tuple(outputs),
        options=tuple(sorted(options.items())),
        metrics=metrics,
        keep_trajectory=bool(keep_trajectories),
    )
    study_id = hashlib.sha256(
        json.dumps(
            {
                "model": task.fingerprint,
                "inputs": inputs.to_dict("list"),
                # pacing changes when results come, not what they are
                "settings": [
                    task.stop_time,
                    task.step,
                    task.outputs,
                    repr([o for o in task.options if o[0] != "real_time_factor"]),
                ],
                "metrics": _describe(metrics),
                "trajectories": task.keep_trajectory,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    records: dict[int, dict[str, Any]] = {}
    sink = None
    if results_file is not None:
        results_path = Path(results_file)
        records = _read_results(results_path, study_id)
        fresh = not results_path.exists()
        sink = results_path.open("a")
        if not fresh and not results_path.read_bytes().endswith(b"\n"):
            sink.write("\n")  # end a line cut short by a killed writer
        if fresh:
            sink.write(json.dumps({"study": study_id}) + "\n")
            sink.flush()
    resumed = len(records)
    pending = [
        (run_id, dict(row))
        for run_id, row in enumerate(inputs.to_dict("records"))
        if run_id not in records
    ]
    try:
        for record in _execute(task, pending, workers, scheduler, progress, resumed, len(inputs)):
            records[record["run"]] = record
            if sink is not None:
                sink.write(json.dumps(record) + "\n")
                sink.flush()
    finally:
        if sink is not None:
            sink.close()
        if temporary is not None:
            temporary.cleanup()
    metric_table = pd.DataFrame([records[i]["metrics"] for i in range(len(inputs))])
    table = pd.concat([pd.DataFrame({"run": range(len(inputs))}), inputs, metric_table], axis=1)
    return StudyResult(table, records, resumed)


def _describe(metrics: Any) -> Any:
    if isinstance(metrics, Mapping):
        return {name: f"{f.__module__}.{f.__qualname__}" for name, f in metrics.items()}
    return list(metrics)


def _execute(task, pending, workers, scheduler, progress, done, total):
    """Yields run records as they finish, advancing a progress bar."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done, unit="run", desc="study", leave=False)
    try:
        for record in _records(task, pending, workers, scheduler):
            yield record
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()


def _records(task, pending, workers, scheduler):
    """Run records in completion order: on Dask, a local process pool, or in this process."""
    if not pending:
        return
    if scheduler is not None:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = client.map(
                _run,
                [task] * len(pending),
                [run_id for run_id, _ in pending],
                [values for _, values in pending],
                pure=False,
            )
            for future in as_completed(futures):
                yield future.result()
        finally:
            if client is not scheduler:
                client.close()
    elif workers == 0:
        for run_id, values in pending:
            yield _run(task, run_id, values)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        count = min(workers or os.cpu_count() or 1, len(pending))
        with ProcessPoolExecutor(count, initializer=_prime, initargs=(task,)) as pool:
            futures = [pool.submit(_run, task, run_id, values) for run_id, values in pending]
            for future in as_completed(futures):
                yield future.result()


def load_study_config(
    config: Mapping[str, Any], base: Path
) -> tuple[dict[str, Any], dict[str, Path]]:
    """(keyword arguments of :func:`run_study`, output paths) from a parsed study TOML."""
    import scipy.stats

    known = {"target", "simulation", "design", "parameters", "metrics", "output", "execution"}
    unknown = set(config) - known
    if unknown:
        raise ValueError(f"unknown section(s) {sorted(unknown)}; sections: {sorted(known)}")
    target = config.get("target", {})
    if ("ssp" in target) == ("fmu" in target):
        raise ValueError("[target] needs exactly one of ssp = '...' or fmu = '...'")
    path = base / (target.get("ssp") or target.get("fmu"))
    if "ssp" in target:
        from fmitwin.ssp import read_ssp

        model: Any = read_ssp(path)
    else:
        model = path
    simulation = dict(config.get("simulation", {}))
    if "stop_time" not in simulation:
        raise ValueError("[simulation] needs stop_time")
    design = config.get("design", {})
    parameters = {}
    for name, spec in config.get("parameters", {}).items():
        if isinstance(spec, Mapping):
            spec = dict(spec)
            distribution = spec.pop("distribution", None)
            if distribution is None or not hasattr(scipy.stats, distribution):
                raise ValueError(f"[parameters] {name}: distribution must name a scipy.stats one")
            spec = getattr(scipy.stats, distribution)(**spec)
        parameters[name] = spec
    call: dict[str, Any] = {
        "target": model,
        "parameters": parameters,
        "design": design.get("kind", "grid"),
        "samples": design.get("samples"),
        "seed": design.get("seed", 0),
        "metrics": config.get("metrics", {}).get("stats", ["final"]),
        **simulation,
    }
    execution = config.get("execution", {})
    call["workers"] = execution.get("workers")
    call["scheduler"] = execution.get("scheduler")
    output = {k: base / v for k, v in config.get("output", {}).items()}
    unknown_outputs = set(output) - {"table", "results", "statistics"}
    if unknown_outputs:
        raise ValueError(f"[output] unknown keys {sorted(unknown_outputs)}")
    if "results" in output:
        call["results_file"] = output["results"]
    return call, output
