"""Scripted studies: parameter sweeps and Monte Carlo over a System or a single FMU.

:func:`run_study` samples parameters and initial states (start values), simulates every sample
on a local process pool (default) or a Dask cluster, and returns a :class:`StudyResult`: a tidy
table with one row per run (``run``, the sampled inputs, the metrics of the chosen outputs) and,
for Monte Carlo, statistics over time (mean, standard deviation, quantiles).

Designs (``parameters`` maps a name to its specification; names are "instance.variable" for a
System and the variable name for an FMU; a system input's name (or an FMU input's) holds that
input at the sampled value, and ``"<input>:scale"`` multiplies its base signal from ``inputs``):

* ``"grid"``: each value is a list of values; the runs are the Cartesian product.
* ``"lhs"``: each value is ``(low, high)``; ``samples`` points of a Latin hypercube
  (``scipy.stats.qmc.LatinHypercube``, seeded) scaled to the bounds.
* ``"monte_carlo"``: each value is a frozen ``scipy.stats`` distribution or ``(low, high)``
  (uniform); ``samples`` independent draws (seeded).

Metrics: names from ``final``, ``mean``, ``min``, ``max``, ``std`` applied to every recorded
output (columns ``"<output>.<metric>"``), or a mapping name -> picklable function
``f(result) -> float`` of the :class:`~fmitwin.simulation.SimulationResult`.

Before any run, every sampled name is checked: unknown names, values outside the bounds the
FMU declares (min/max) and samples that cannot change a run (an FMU input driven by a
connection or a system input, a calculated variable) are refused. A run that fails anyway is
recorded with its sample and error (``on_error="record"``) or stops the study
(``on_error="raise"``).

Execution: the model travels to the workers as bytes (an SSP archive for a System; no shared
folder needed) and each worker loads it once into a temporary folder (a per-process cache keyed
by the archive's hash), removed when the worker ends; pool workers end with the process that
started them, even when it is killed. With ``results_file`` every finished run is appended to a
JSON-lines file keyed by run id; a killed study called again with the same file and the same
study resumes, running only the missing runs (and those that failed).

TOML schema of ``fmitwin study study.toml`` (relative paths are relative to the TOML file; every
mistake, an unknown key included, is reported as ``file:line: [key] message``)::

    [target]
    ssp = "system.ssp"          # or: fmu = "model.fmu" (or a bundled model: fmu = "heated_tank")
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
    statistics = "statistics.csv"  # statistics over time (keeps trajectories)
    save = "study"               # folder: table and trajectories as Parquet (StudyResult.load)
    plot = "quantiles.png"       # quantiles over time of every output
    [execution]
    workers = 2                  # local process pool size
    scheduler = "tcp://127.0.0.1:8786"   # optional: run on this Dask scheduler instead
    scheduler_timeout = 10.0     # seconds to wait for the scheduler to answer
    batch = 10                   # runs per Dask task (default: about 4 tasks per worker thread)
    latency = "batch"            # placement of the Dask tasks: realtime | interactive | batch
    memory = "2 GiB"             # bytes or a size string; also: cores, gpus, site, tier
    retries = 2                  # reruns of a Dask task that raised
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import io
import itertools
import json
import math
import os
import shutil
import signal
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fmitwin.placement import PlacementPolicy, Requirements

DESIGNS = ("grid", "lhs", "monte_carlo")
ON_ERROR = ("record", "raise")
SCALE = ":scale"  # "<input>:scale" samples a factor on the base signal of that input
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


# -- what a sample may vary ----------------------------------------------------------------------


def declared_range(model: Any, name: str) -> tuple[float, float]:
    """(min, max) that the FMU declares for variable ``name`` (on the variable or its declared
    type), -inf / inf where it declares none."""
    (variable,) = (v for v in model.description.modelVariables if v.name == name)
    declared = variable.declaredType

    def limit(attribute: str, default: float) -> float:
        value = getattr(variable, attribute, None)
        if value is None and declared is not None:
            value = getattr(declared, attribute, None)
        return default if value is None else float(value)

    return limit("min", -np.inf), limit("max", np.inf)


def _input_frame(inputs: Any) -> Any:
    """The base input signals as a DataFrame with a ``time`` column, or None."""
    import pandas as pd

    if inputs is None:
        return None
    if hasattr(inputs, "columns"):
        return inputs if "time" in inputs.columns else inputs.reset_index()
    if isinstance(inputs, np.ndarray) and inputs.dtype.names:
        return pd.DataFrame({name: inputs[name] for name in inputs.dtype.names})
    if isinstance(inputs, Mapping) and "time" in inputs:
        return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in inputs.items()})
    raise TypeError(
        "inputs: give the base input signals as a DataFrame, a mapping or a structured array "
        "with a 'time' column (one column per input)"
    )


def _check_inputs(target: Any, frame: Any) -> None:
    """The simulators' own checks of the base input signals, run once before any run (a bad
    signal would otherwise fail every run alike)."""
    from fmitwin.system import System

    if isinstance(target, System):
        target._checked_inputs(frame)
    else:
        from fmitwin.simulation import _input_table

        _input_table(target, frame)


def _check_outputs(target: Any, outputs: Sequence[str] | None) -> None:
    """Unknown output names fail here, once, rather than in every run."""
    from fmitwin.system import System

    if outputs is None:
        return
    if isinstance(outputs, str):
        raise TypeError("outputs: give a list of names, not a single string")
    if isinstance(target, System):
        for name in outputs:
            if name not in target.outputs:
                target.variable(name, argument="outputs")
    else:
        from fmitwin.simulation import recorded_variables

        recorded_variables(target, list(outputs))


def _roles(target: Any, names: Sequence[str], signals: set[str]) -> dict[str, str]:
    """What each sampled name sets: "start" (a parameter or start value), "input" (a system
    input held constant) or "scale" (a factor on a base input signal). Names that would have
    no effect are refused."""
    from fmitwin.system import System

    is_system = isinstance(target, System)
    inputs = set(target.inputs) if is_system else {v.name for v in target.inputs}
    roles = {}
    for name in names:
        if name.endswith(SCALE):
            signal = name[: -len(SCALE)]
            if signal not in inputs or signal not in signals:
                raise ValueError(
                    f"parameters: {name!r} scales the base signal of input {signal!r}, but "
                    + (
                        f"the inputs give no signal for it ({', '.join(sorted(signals)) or 'none'})"
                        if signal in inputs
                        else f"there is no input {signal!r} ({', '.join(sorted(inputs)) or 'none'})"
                    )
                )
            roles[name] = "scale"
        elif is_system and name in target.inputs:
            if name in signals:
                raise ValueError(
                    f"parameters: system input {name!r} is also given as a signal in inputs; "
                    f"sample '{name}{SCALE}' to scale that signal, or drop it from inputs"
                )
            roles[name] = "input"
        else:
            roles[name] = "start"
            _refuse_without_effect(target, name, signals)
    return roles


def _refuse_without_effect(target: Any, name: str, signals: set[str]) -> None:
    """Raises when setting the start value ``name`` cannot change a run."""
    from fmitwin.system import System

    if isinstance(target, System):
        variable = target.variable(name, argument="parameters")
        for system_input, targets in target.inputs.items():
            if name in targets:
                raise ValueError(
                    f"parameters: {name} is driven by system input {system_input!r}, so its "
                    f"start value has no effect; sample {system_input!r} instead"
                )
        for connection in target.connections:
            if connection.target == name:
                raise ValueError(
                    f"parameters: {name} is driven by {connection.source}, so its start value "
                    "has no effect; sample a parameter of the model that computes it"
                )
    else:
        variable = target.variable(name, argument="parameters")
        if name in signals:
            raise ValueError(
                f"parameters: input {name} is given as a signal in inputs, so its start value "
                f"has no effect; sample '{name}{SCALE}' to scale that signal"
            )
    if variable.causality in ("calculatedParameter", "independent") or (
        variable.initial == "calculated"
    ):
        raise ValueError(
            f"parameters: {name} is computed by the model ({variable.causality}), so setting "
            "it has no effect; sample the parameters it depends on"
        )


def _check_ranges(target: Any, parameters: Mapping[str, Any], table: Any, roles: dict) -> None:
    """Refuses sampled values outside the bounds the FMU declares for the variable (or, for a
    system input, for every FMU input it drives)."""
    from fmitwin.system import System

    for name, role in roles.items():
        if role == "scale":
            continue
        if isinstance(target, System):
            driven = target.inputs[name] if role == "input" else [name]
            variables = []
            for full in driven:
                instance, variable = full.split(".", 1)
                variables.append((full, target.instances[instance].model, variable))
        else:
            variables = [(name, target, name)]
        spec = parameters[name]
        given = table[name] if hasattr(spec, "rvs") else np.asarray(spec, dtype=float)
        low, high = float(np.min(given)), float(np.max(given))
        for full, model, variable in variables:
            declared = declared_range(model, variable)
            if low < declared[0] or high > declared[1]:
                sampled = (
                    f"draws of {name!r} reach [{low:g}, {high:g}]"
                    if hasattr(spec, "rvs")
                    else f"{name!r} ranges over [{low:g}, {high:g}]"
                )
                fix = (
                    "truncate the distribution (e.g. scipy.stats.truncnorm)"
                    if hasattr(spec, "rvs")
                    else "keep the range inside those bounds"
                )
                raise ValueError(
                    f"parameters: {sampled}, outside the bounds {full} declares "
                    f"(min={declared[0]:g}, max={declared[1]:g}); {fix}"
                )


# -- workers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    """What a worker needs to run one sample (small and picklable)."""

    archive: bytes  # the .ssp (a System) or .fmu file, so that workers need no shared folder
    suffix: str  # ".ssp" | ".fmu"
    key: str  # hash of the archive: the workers' cache key
    fingerprint: str  # what identifies the model for resuming (the SSD of a System)
    stop_time: float
    step: float | None
    outputs: tuple[str, ...] | None
    options: tuple[tuple[str, Any], ...]
    metrics: Any  # tuple of statistic names, or a mapping name -> picklable function
    keep_trajectory: bool
    inputs: Any = None  # base input signals (DataFrame with a 'time' column) or None
    roles: tuple[tuple[str, str], ...] = ()  # sampled name -> "start" | "input" | "scale"


# key -> (loaded System / FmuModel, its temporary folder or None), the few latest per process
_CACHE: dict[str, tuple[Any, Any]] = {}
_CACHED_MODELS = 4
_release_registered = False


def _target(task: _Task) -> Any:
    """The task's model, loaded once per process from its archive (in a temporary folder that
    :func:`_release` removes when the process ends)."""
    global _release_registered
    entry = _CACHE.get(task.key)
    if entry is None:
        if not _release_registered:
            import multiprocessing.util

            # pool workers leave through os._exit, past atexit: clean up in multiprocessing's
            # own exit hook, and in atexit for every other process
            multiprocessing.util.Finalize(None, _release, exitpriority=10)
            atexit.register(_release)
            _release_registered = True
        folder = tempfile.TemporaryDirectory(prefix="fmitwin-study-")
        path = Path(folder.name) / f"model{task.suffix}"
        path.write_bytes(task.archive)
        if task.suffix == ".ssp":
            from fmitwin.ssp import read_ssp

            target = read_ssp(path)
        else:
            from fmitwin.fmu import load_fmu

            target = load_fmu(path)
        entry = _remember(task.key, target, folder)
    return entry[0]


def _remember(key: str, target: Any, folder: Any) -> tuple[Any, Any]:
    """Caches ``target`` under ``key``, forgetting the oldest beyond a few models."""
    while len(_CACHE) >= _CACHED_MODELS:
        _forget(next(iter(_CACHE)))
    _CACHE[key] = (target, folder)
    return _CACHE[key]


def _forget(key: str) -> None:
    target, folder = _CACHE.pop(key)
    del target
    gc.collect()  # frees the model, whose finalizers remove FMPy's and the SSP's extracted files
    if folder is not None:
        folder.cleanup()


def _release() -> None:
    """Removes every cached model and its extracted files (at process exit)."""
    for key in list(_CACHE):
        _forget(key)


def _watch_parent(root: str) -> None:
    """Ends this pool worker, its temporary folder ``root`` removed, when the process that
    started it is gone (a killed study must leave neither workers nor files behind)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, name="fmitwin-study-parent-watch", daemon=True).start()


def _run(task: _Task, run_id: int, values: dict[str, float]) -> dict[str, Any]:
    """Simulates one sample; returns its record (run id, metrics, optional trajectory), or
    ``{"run", "error"}`` when the run failed."""
    try:
        return _simulate_run(task, run_id, values)
    except Exception as exc:  # a failing sample is a result of the study, not the study's end
        return {"run": run_id, "error": f"{type(exc).__name__}: {exc}"}


def _run_inputs(task: _Task, values: Mapping[str, float]) -> tuple[dict[str, float], Any]:
    """(start values, input signals) of one run: sampled system inputs become constant
    signals, sampled scale factors multiply their base signal."""
    roles = dict(task.roles)
    starts = {n: v for n, v in values.items() if roles.get(n, "start") == "start"}
    constants = {n: v for n, v in values.items() if roles.get(n) == "input"}
    scales = {n[: -len(SCALE)]: v for n, v in values.items() if roles.get(n) == "scale"}
    if not constants and not scales:
        return starts, task.inputs
    if task.inputs is None:
        return starts, constants
    frame = task.inputs.copy()
    for name, factor in scales.items():
        frame[name] = frame[name] * factor
    for name, value in constants.items():
        frame[name] = value
    return starts, frame


def _simulate_run(task: _Task, run_id: int, values: dict[str, float]) -> dict[str, Any]:
    from fmitwin.system import System

    target = _target(task)
    options = dict(task.options)
    outputs = list(task.outputs) if task.outputs is not None else None
    start_values, inputs = _run_inputs(task, values)
    if isinstance(target, System):
        # run_study made sure that one of them is given
        step = task.step if task.step is not None else target.experiment["step"]
        options.setdefault("method", target.experiment.get("method", "jacobi"))
        result = target.simulate(
            task.stop_time,
            step,
            outputs=outputs,
            start_values=start_values,
            inputs=inputs,
            **options,
        )
    else:
        from fmitwin.simulation import simulate

        result = simulate(
            target,
            task.stop_time,
            task.step,
            outputs=outputs,
            start_values=start_values,
            inputs=inputs,
            **options,
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


def _run_batch(task: _Task, batch: list[tuple[int, dict[str, float]]]) -> list[dict[str, Any]]:
    """Several runs in one Dask task (fewer tasks: less scheduling per run)."""
    return [_run(task, run_id, values) for run_id, values in batch]


_POOL_TASK: _Task | None = None  # the study of this pool worker, sent once by _prime


def _prime(task: _Task) -> None:
    """Process-pool initializer: keep the task, put every temporary file of this worker (its
    model copy, FMPy's and the SSP reader's extractions) under one folder removed when the
    worker ends, die with the parent, and load the model once."""
    import multiprocessing.util

    global _POOL_TASK
    _POOL_TASK = task
    root = tempfile.mkdtemp(prefix="fmitwin-study-worker-")
    tempfile.tempdir = root
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(root, True), exitpriority=0)
    # Ctrl-C is the parent's to handle (it keeps the finished runs, then ends the workers with
    # SIGTERM): a worker neither prints a traceback for it nor leaves its folder behind
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: (shutil.rmtree(root, True), os._exit(143)))
    _watch_parent(root)
    _target(task)


def _run_in_pool(run_id: int, values: dict[str, float]) -> dict[str, Any]:
    assert _POOL_TASK is not None, "pool worker started without _prime"
    return _run(_POOL_TASK, run_id, values)


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(
            "saving and loading studies needs pyarrow: pip install 'fmitwin[study]'"
        ) from None
    return pyarrow, pyarrow.parquet


def _describe_spec(spec: Any) -> Any:
    """A parameter specification as JSON (a distribution by its scipy.stats name and arguments)."""
    if hasattr(spec, "rvs"):
        return {"distribution": spec.dist.name, "args": list(spec.args), "kwds": dict(spec.kwds)}
    return [float(v) if isinstance(v, int | float | np.number) else v for v in spec]


# -- results ---------------------------------------------------------------------------------------


class StudyResult:
    """A finished study: ``table`` (one row per run: run, inputs, metrics, and ``error`` when a
    run failed) and the trajectories of the runs that succeeded.

    ``resumed`` counts the runs taken from the results file instead of being simulated.
    """

    def __init__(
        self,
        table: Any,
        records: dict[int, dict[str, Any]],
        resumed: int,
        design: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.table = table
        self._records = records
        self.resumed = resumed
        self.design = design or {}  # kind, samples, seed, parameters (as in the study file)
        self.settings = settings or {}  # model, stop_time, step, outputs, options, metrics

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Writes the study to ``folder`` as Parquet files (Apache Parquet, read by pandas,
        pyarrow, polars, DuckDB, Spark...): ``table.parquet`` (one row per run; the design and
        the settings as JSON in the file's key-value metadata under ``fmitwin``) and, when
        trajectories were kept, ``trajectories.parquet`` (long format: run, time, one column
        per output) and ``statistics.parquet`` (time, output, mean, std, q0.05, q0.5, q0.95
        across the runs that succeeded). Needs pyarrow (``pip install fmitwin[study]``).
        Returns the folder."""
        pa, pq = _pyarrow()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.table, preserve_index=False)
        meta = {"design": self.design, "settings": self.settings, "version": 1}
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"fmitwin": json.dumps(meta).encode()}
        )
        pq.write_table(table, folder / "table.parquet")
        kept = [i for i in sorted(self._records) if "trajectory" in self._records[i]]
        trajectories = folder / "trajectories.parquet"
        if kept:
            import pandas as pd

            frames = []
            for i in kept:
                record = self._records[i]
                frame = pd.DataFrame({"run": i, "time": record["time"], **record["trajectory"]})
                frames.append(frame)
            pq.write_table(
                pa.Table.from_pandas(pd.concat(frames), preserve_index=False), trajectories
            )
            stats = self.statistics().stack(level=0, future_stack=True)
            stats.index.names = ["time", "output"]
            pq.write_table(
                pa.Table.from_pandas(stats.reset_index(), preserve_index=False),
                folder / "statistics.parquet",
            )
        else:
            for stale in (trajectories, folder / "statistics.parquet"):
                stale.unlink(missing_ok=True)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> StudyResult:
        """A study written by :meth:`save`."""
        _, pq = _pyarrow()
        folder = Path(folder)
        path = folder / "table.parquet"
        if not path.is_file():
            raise FileNotFoundError(
                f"{folder}: no table.parquet; give a folder StudyResult.save wrote"
            )
        parquet = pq.read_table(path)
        raw = (parquet.schema.metadata or {}).get(b"fmitwin")
        if raw is None:
            raise ValueError(f"{path} was not written by fmitwin (no 'fmitwin' metadata)")
        meta = json.loads(raw)
        table = parquet.to_pandas()
        records: dict[int, dict[str, Any]] = {int(r): {"run": int(r)} for r in table["run"]}
        trajectories = folder / "trajectories.parquet"
        if trajectories.is_file():
            frame = pq.read_table(trajectories).to_pandas()
            for run_id, group in frame.groupby("run", sort=True):
                records[int(run_id)]["time"] = group["time"].tolist()
                records[int(run_id)]["trajectory"] = {
                    c: group[c].tolist() for c in group.columns if c not in ("run", "time")
                }
        return cls(table, records, 0, meta["design"], meta["settings"])

    def plot(
        self,
        path: str | os.PathLike[str] | None = None,
        outputs: Sequence[str] | None = None,
        quantiles: tuple[float, float] = (0.05, 0.95),
    ) -> Any:
        """Monte Carlo quantiles over time: per output a band from ``quantiles[0]`` to
        ``quantiles[1]``, the median and the mean (needs trajectories kept). Saves a PNG to
        ``path`` when given; returns the matplotlib Figure."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        low, high = quantiles
        if not 0 <= low < 0.5 < high <= 1:
            raise ValueError(f"quantiles: expected (low, high) around the median, got {quantiles}")
        stats = self.statistics(quantiles=(low, 0.5, high))
        names = (
            list(outputs)
            if outputs is not None
            else list(dict.fromkeys(stats.columns.get_level_values(0)))
        )
        runs = len(self._kept())
        figure, axes = plt.subplots(
            len(names), 1, figsize=(8, 2.8 * len(names)), sharex=True, squeeze=False
        )
        for axis, name in zip(axes[:, 0], names, strict=True):
            if name not in stats.columns.get_level_values(0):
                recorded = ", ".join(dict.fromkeys(stats.columns.get_level_values(0)))
                raise KeyError(f"outputs: {name!r} was not recorded ({recorded})")
            time = stats.index.to_numpy()
            axis.fill_between(
                time,
                stats[(name, f"q{low:g}")],
                stats[(name, f"q{high:g}")],
                alpha=0.3,
                label=f"{low:.0%} to {high:.0%} of {runs} runs",
            )
            axis.plot(time, stats[(name, "q0.5")], label="median")
            axis.plot(time, stats[(name, "mean")], linestyle="--", label="mean")
            axis.set_ylabel(name)
            axis.grid(True, alpha=0.3)
            axis.legend(loc="best", fontsize="small")
        axes[-1, 0].set_xlabel("time")
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
            plt.close(figure)
        return figure

    @property
    def failed(self) -> Any:
        """The rows of the runs that failed (with their sample and ``error``)."""
        if "error" not in self.table.columns:
            return self.table.iloc[0:0]
        return self.table[self.table["error"].notna()]

    def _kept(self) -> list[int]:
        ids = [i for i in sorted(self._records) if "trajectory" in self._records[i]]
        if not ids:
            raise ValueError(
                "no trajectories were kept (or every run failed); run the study with "
                "keep_trajectories=True"
            )
        return ids

    def trajectories(self, output: str) -> tuple[np.ndarray, np.ndarray]:
        """(time, values runs x times) of ``output`` over the runs that succeeded; needs
        trajectories kept."""
        ids = self._kept()
        first = self._records[ids[0]]
        if output not in first["trajectory"]:
            raise KeyError(f"{output!r} was not recorded ({', '.join(first['trajectory'])})")
        time = np.asarray(first["time"])
        return time, np.array([self._records[i]["trajectory"][output] for i in ids])

    def statistics(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> Any:
        """Statistics over time across the runs that succeeded: a DataFrame indexed by time
        with columns ``(output, stat)`` for stat in mean, std and each quantile ``q0.05`` ...
        """
        import pandas as pd

        outputs = list(self._records[self._kept()[0]]["trajectory"])
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
    inputs: Any = None,
    on_error: str = "record",
    batch: int | None = None,
    scheduler_timeout: float = 10.0,
    requirements: Requirements | None = None,
    retries: int = 0,
    policy: PlacementPolicy | None = None,
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
    scheduler: a Dask scheduler address or ``distributed.Client``: run there instead
        (workers need fmitwin installed, no shared folder). ``batch`` runs per Dask task
        (default: about four tasks per worker thread); an address that does not answer within
        ``scheduler_timeout`` seconds raises ConnectionError.
    requirements, retries, policy: where the Dask tasks run (a
        :class:`~fmitwin.placement.Requirements`, mapped to worker resources by ``policy``, a
        :class:`~fmitwin.placement.PlacementPolicy`; default: any worker) and how many times a
        batch that raised outside its runs is rerun (a failing run is recorded, not raised);
        work that no worker can take raises :class:`~fmitwin.placement.PlacementError` before
        any run, or once the workers able to run it are lost for good. Dask only.
    results_file: JSON-lines file of per-run results; resumes a killed study.
    inputs: base input signals of every run (a DataFrame, mapping or structured array with a
        ``time`` column). A sampled system input (or FMU input) is held at the sampled value;
        a sampled ``"<input>:scale"`` multiplies that input's base signal.
    on_error: "record" (default): a failed run is kept in the table with its sample, NaN
        metrics and its message in the ``error`` column, and the study goes on; "raise": the
        first failure stops the study with :class:`StudyRunError` naming the run and sample.
    """
    import pandas as pd

    from fmitwin.fmu import FmuModel
    from fmitwin.placement import Requirements
    from fmitwin.ssp import write_ssp
    from fmitwin.system import System

    if isinstance(metrics, str):
        raise TypeError("metrics: give a list of statistic names, not a single string")
    if not isinstance(metrics, Mapping):
        unknown = [m for m in metrics if m not in STATISTICS]
        if unknown:
            raise ValueError(f"metrics: unknown {unknown}; choose from {', '.join(STATISTICS)}")
        metrics = tuple(metrics)
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error: must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    if scheduler is None and (requirements is not None or retries or policy is not None):
        given = "requirements" if requirements is not None else "retries" if retries else "policy"
        raise ValueError(
            f"{given}: placement and retries apply to Dask tasks; give scheduler= (a Dask "
            "scheduler address or distributed.Client), or leave them out to run on the local "
            "process pool"
        )
    if requirements is not None and not isinstance(requirements, Requirements):
        raise TypeError("requirements: give a fmitwin.placement.Requirements")
    table_of_inputs = sample(design, parameters, samples, seed)
    model = target
    if not isinstance(target, System | FmuModel):
        from fmitwin.fmu import load_fmu

        model = load_fmu(target)
    if inputs is None and isinstance(model, System) and "inputs" in model.experiment:
        # the inputs its SSP file holds (constant or over time), as `fmitwin simulate` runs
        # it; an input sampled as a constant replaces the stored one (as --set does)
        from fmitwin.ssp import inputs_table

        stored = {n: v for n, v in model.experiment["inputs"].items() if n not in parameters}
        inputs = inputs_table(stored) if stored else None
    base_inputs = _input_frame(inputs)
    signals = set() if base_inputs is None else set(base_inputs.columns) - {"time"}
    if base_inputs is not None:
        _check_inputs(model, base_inputs)
    _check_outputs(model, outputs)
    accepted = _simulation_options(isinstance(model, System)) - {"stop_time", "step", "outputs"}
    if set(options) - accepted:
        raise TypeError(
            f"run_study: unknown option(s) {sorted(set(options) - accepted)}; the simulation "
            f"takes {', '.join(sorted(accepted))}"
        )
    if isinstance(model, System) and step is None and model.experiment.get("step") is None:
        raise ValueError("step: give the communication step (the System's SSP gives none)")
    roles = _roles(model, list(table_of_inputs.columns), signals)
    _check_ranges(model, parameters, table_of_inputs, roles)
    _check_types(model, table_of_inputs, roles)
    inputs = table_of_inputs
    if keep_trajectories is None:
        keep_trajectories = design == "monte_carlo"
    if isinstance(model, System):
        from fmitwin.ssp import write_ssp

        with tempfile.TemporaryDirectory(prefix="fmitwin-study-") as folder:
            archive = write_ssp(model, Path(folder) / f"{model.name}.ssp").read_bytes()
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            described = zf.read("SystemStructure.ssd")
    else:
        archive = described = Path(model.path).read_bytes()
    task = _Task(
        archive=archive,
        suffix=".ssp" if isinstance(model, System) else ".fmu",
        key=hashlib.sha256(archive).hexdigest(),
        fingerprint=hashlib.sha256(described).hexdigest(),
        stop_time=float(stop_time),
        step=None if step is None else float(step),
        outputs=None if outputs is None else tuple(outputs),
        options=tuple(sorted(options.items())),
        metrics=metrics,
        keep_trajectory=bool(keep_trajectories),
        inputs=base_inputs,
        roles=tuple(sorted(roles.items())),
    )
    study_id = hashlib.sha256(
        json.dumps(
            {
                "model": task.fingerprint,
                "samples": inputs.to_dict("list"),
                # pacing changes when results come, not what they are
                "settings": [
                    task.stop_time,
                    task.step,
                    task.outputs,
                    repr([o for o in task.options if o[0] != "real_time_factor"]),
                ],
                "metrics": _describe(metrics),
                "trajectories": task.keep_trajectory,
                "inputs": None if base_inputs is None else base_inputs.to_dict("list"),
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
    # a run that failed before is run again (its failure may have been the machine's)
    records = {i: r for i, r in records.items() if "error" not in r}
    resumed = len(records)
    pending = [
        (run_id, dict(row))
        for run_id, row in enumerate(inputs.to_dict("records"))
        if run_id not in records
    ]
    if task.key not in _CACHE:
        _remember(task.key, model, None)  # this process runs on the model it already has
    finished = resumed
    try:
        records_done = _execute(
            task,
            pending,
            workers,
            scheduler,
            batch,
            scheduler_timeout,
            (requirements, retries, policy),
            progress,
            resumed,
            len(inputs),
        )
        for record in records_done:
            if "error" in record and on_error == "raise":
                run_id = record["run"]
                values = dict(zip(inputs.columns, inputs.iloc[run_id].tolist(), strict=True))
                raise StudyRunError(
                    f"run {run_id} with {values} failed: {record['error']}; "
                    "pass on_error='record' to record failed runs and go on"
                )
            records[record["run"]] = record
            if sink is not None:
                sink.write(json.dumps(record) + "\n")
                sink.flush()
            finished += 1
    except KeyboardInterrupt as interrupt:
        raise StudyInterrupted(
            finished, len(inputs), None if results_file is None else Path(results_file)
        ) from interrupt
    finally:
        if sink is not None:
            sink.close()
    metric_table = pd.DataFrame([records[i].get("metrics", {}) for i in range(len(inputs))])
    parts = [pd.DataFrame({"run": range(len(inputs))}), inputs, metric_table]
    errors = [records[i].get("error") for i in range(len(inputs))]
    if any(errors):
        parts.append(pd.DataFrame({"error": errors}))
    table = pd.concat(parts, axis=1)
    description = {
        "kind": design,
        "samples": samples,
        "seed": seed,
        "parameters": {name: _describe_spec(spec) for name, spec in parameters.items()},
    }
    settings = {
        "model": getattr(model, "name", str(model)),
        "fingerprint": task.fingerprint,
        "stop_time": task.stop_time,
        "step": task.step,
        "outputs": None if task.outputs is None else list(task.outputs),
        "options": {k: v for k, v in task.options if _is_json(v)},
        "metrics": _describe(metrics),
        "inputs": None if base_inputs is None else base_inputs.to_dict("list"),
    }
    return StudyResult(table, records, resumed, description, settings)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


class StudyRunError(RuntimeError):
    """A run of a study failed and the study was run with ``on_error="raise"``."""


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a study: still a KeyboardInterrupt (a script stops as usual). The runs
    finished until then are in the results file (``results_file``, ``[output] results``), and
    running the same study again with it resumes, running only the missing runs. Pool workers
    are ended and their temporary folders removed before it is raised.

    ``finished`` and ``total`` count the runs; ``results_file`` is None when none was given."""

    def __init__(self, finished: int, total: int, results_file: Path | None):
        kept = (
            f"they are saved in {results_file}: run the study again to resume"
            if results_file is not None
            else "no results file was given, so they are not kept (set results_file, or "
            "[output] results in a study file, to resume an interrupted study)"
        )
        super().__init__(f"study interrupted after {finished} of {total} runs; {kept}")
        self.finished, self.total, self.results_file = finished, total, results_file


def _check_types(model: Any, table: Any, roles: Mapping[str, str]) -> None:
    """The FMUs' own type checks on the first sample, so a bad value fails before any run."""
    from fmitwin.system import System

    first = {n: v for n, v in table.iloc[0].to_dict().items() if roles[n] == "start"}
    if isinstance(model, System):
        for name, value in first.items():
            instance, variable = name.split(".", 1)
            model.instances[instance].model.check_start_values({variable: value})
    else:
        model.check_start_values(first)


def _describe(metrics: Any) -> Any:
    if isinstance(metrics, Mapping):
        return {name: f"{f.__module__}.{f.__qualname__}" for name, f in metrics.items()}
    return list(metrics)


def _execute(task, pending, workers, scheduler, batch, timeout, placement, progress, done, total):
    """Yields run records as they finish, advancing a progress bar."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=done, unit="run", desc="study", leave=False)
    try:
        for record in _records(task, pending, workers, scheduler, batch, timeout, placement):
            yield record
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()


def _records(task, pending, workers, scheduler, batch, timeout, placement):
    """Run records in completion order: on Dask, a local process pool, or in this process."""
    if not pending:
        return
    if scheduler is not None:
        yield from _dask_records(task, pending, scheduler, batch, timeout, placement)
    elif workers == 0:
        for run_id, values in pending:
            yield _run(task, run_id, values)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        count = min(workers or os.cpu_count() or 1, len(pending))
        with ProcessPoolExecutor(count, initializer=_prime, initargs=(task,)) as pool:
            futures = [pool.submit(_run_in_pool, run_id, values) for run_id, values in pending]
            try:
                for future in as_completed(futures):
                    yield future.result()
            except KeyboardInterrupt:
                # stop now, not after the runs in progress: end the workers (they clean up)
                workers_now = list(pool._processes.values())  # the executor offers no kill
                pool.shutdown(wait=False, cancel_futures=True)
                for process in workers_now:
                    process.terminate()
                for process in workers_now:
                    process.join(10)
                    if process.is_alive():  # stuck in an FMU that never checks for signals
                        process.kill()
                        process.join()
                raise
            finally:
                for future in futures:
                    future.cancel()


def _dask_records(task, pending, scheduler, batch, timeout, placement):
    """Run records from a Dask cluster: the task (with the model) goes to every worker once,
    and runs travel in batches of ``batch`` (default: about four batches per worker thread),
    each a task placed by ``placement`` (requirements, retries, policy; see fmitwin.placement)."""
    from distributed import Client, KilledWorker

    from fmitwin.placement import as_completed_placed, submit_placed

    requirements, retries, policy = placement

    if isinstance(scheduler, Client):
        client = scheduler
    else:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"scheduler: cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                f"({exc}); start one (`dask scheduler`) or leave scheduler out to run on a local "
                "process pool"
            ) from None
    futures = []
    try:
        if batch is None:
            threads = max(1, sum(client.nthreads().values()))
            batch = max(1, math.ceil(len(pending) / (4 * threads)))
        shared = client.scatter(task, broadcast=True)
        batches = {}
        for start in range(0, len(pending), batch):
            runs = pending[start : start + batch]
            future = submit_placed(
                client,
                _run_batch,
                shared,
                runs,
                requirements=requirements,
                retries=retries,
                policy=policy,
            )
            futures.append(future)
            batches[future.key] = runs
        for future in as_completed_placed(client, futures, requirements, policy):
            try:
                records = future.result()
            except KilledWorker as exc:
                # the workers running it kept dying (an FMU that crashes them, say): its runs
                # failed, as a run that raises does; a resumed study runs them again
                error = f"KilledWorker: {exc}"
                records = [{"run": run_id, "error": error} for run_id, _ in batches[future.key]]
            yield from records
    finally:
        # stopped early (Ctrl-C, a failed run with on_error="raise"): leave the cluster idle
        client.cancel(futures)
        if client is not scheduler:
            client.close()


# -- the study file ------------------------------------------------------------------------------

_SECTIONS = ("target", "simulation", "design", "parameters", "metrics", "output", "execution")
_OUTPUTS = ("table", "results", "statistics", "save", "plot")
# [simulation] keys that take a number
_NUMBERS = {
    "start_time", "stop_time", "step", "output_interval", "rtol", "atol", "min_step", "max_step",
    "loop_tolerance", "solver_rtol", "solver_atol", "solver_step", "real_time_factor",
}  # fmt: skip


def _simulation_options(system: bool) -> set[str]:
    """The [simulation] keys: what System.simulate / fmitwin.simulate take besides what the
    study sets itself."""
    import inspect

    from fmitwin.simulation import simulate
    from fmitwin.system import System

    if system:
        accepted = set(inspect.signature(System.start).parameters) | {"real_time_factor"}
    else:
        accepted = set(inspect.signature(simulate).parameters) | {"stop_time", "step"}
    return accepted - {"self", "fmu", "inputs", "start_values", "progress"} | {"stop_time"}


def load_study_config(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Path]]:
    """(keyword arguments of :func:`run_study`, output paths) from a study TOML file.

    Every problem raises :class:`fmitwin.config_file.ConfigError` ``file:line: [key] message``
    with the fix, unknown keys included; relative paths are relative to the file.
    """
    import tomllib

    import scipy.stats

    from fmitwin.config_file import ConfigError, locate_keys
    from fmitwin.config_file import Section as _Section
    from fmitwin.fmu import FmuError

    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(file, None, "", f"cannot read the study file: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, None, "", f"not valid TOML: {exc}") from exc
    root = _Section(file, locate_keys(text), (), data)
    base = path.parent
    for key in data:
        if key not in _SECTIONS:
            raise root.error(key, f"unknown section; sections: {', '.join(_SECTIONS)}")

    target_section = root.table("target", required=True)
    model = _study_target(target_section, base)
    target_section.finish()
    is_system = not isinstance(model, Path)

    simulation = root.table("simulation", required=True)
    options = {}
    accepted = _simulation_options(is_system)
    for key, value in simulation.data.items():
        if key not in accepted:
            raise simulation.error(
                key, f"unknown key; [simulation] accepts: {', '.join(sorted(accepted))}"
            )
        options[key] = value
    if "stop_time" not in options:
        raise simulation.error("stop_time", "required key is missing; give the end time, s")
    for key in options.keys() & _NUMBERS:
        options[key] = simulation.number(key)
    if "outputs" in options and not (
        isinstance(options["outputs"], list) and all(isinstance(o, str) for o in options["outputs"])
    ):
        raise simulation.error("outputs", "expected a list of output names")

    design = root.table("design") or _Section(file, {}, ("design",), {})
    kind = design.choice("kind", DESIGNS, "grid")
    samples = design.get("samples", int, None)
    seed = design.get("seed", int, 0)
    design.finish()

    section = root.table("parameters", required=True)
    parameters: dict[str, Any] = {}
    for name, spec in section.data.items():
        if isinstance(spec, dict):
            spec = dict(spec)
            distribution = spec.pop("distribution", None)
            if not isinstance(distribution, str) or not isinstance(
                getattr(scipy.stats, distribution, None), scipy.stats.rv_continuous
            ):
                raise section.error(
                    name,
                    "distribution must name a continuous scipy.stats one (norm, uniform, "
                    f"lognorm, truncnorm, ...), got {distribution!r}",
                )
            try:
                spec = getattr(scipy.stats, distribution)(**spec)
                spec.mean()  # scipy checks the shape arguments here
            except (TypeError, ValueError) as exc:
                raise section.error(name, f"{distribution}: {exc}") from None
        parameters[name] = spec
    try:
        table = sample(kind, parameters, samples, seed)
    except ValueError as exc:
        what, _, message = str(exc).partition(": ")
        key = "samples" if what == "samples" else None
        raise (design.error(key, message) if key else section.error(None, message)) from None
    try:
        loaded = _load_target(model)
    except (FmuError, OSError, KeyError, TypeError, ValueError) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        raise target_section.error("ssp" if is_system else "fmu", message) from None
    if is_system and "step" not in options and loaded.experiment.get("step") is None:
        raise simulation.error(
            "step", "required key is missing (the SSP gives no step); give it, s"
        )
    try:
        _check_outputs(loaded, options.get("outputs"))
    except (KeyError, TypeError, ValueError) as exc:
        message = str(exc.args[0]).removeprefix("outputs: ")
        raise simulation.error("outputs", message) from None
    for name, spec in parameters.items():
        try:
            roles = _roles(loaded, [name], set())
            _check_ranges(loaded, {name: spec}, table, roles)
            _check_types(loaded, table[[name]], roles)
        except (KeyError, TypeError, ValueError) as exc:
            message = str(exc.args[0]).removeprefix("parameters: ")
            raise section.error(name, message) from None

    metrics_section = root.table("metrics") or _Section(file, {}, ("metrics",), {})
    stats = metrics_section.get("stats", list, ["final"])
    unknown = [m for m in stats if m not in STATISTICS]
    if unknown:
        raise metrics_section.error(
            "stats", f"unknown {unknown}; choose from {', '.join(STATISTICS)}"
        )
    metrics_section.finish()

    output_section = root.table("output") or _Section(file, {}, ("output",), {})
    outputs = {
        key: base / output_section.get(key, str) for key in _OUTPUTS if key in output_section.data
    }
    output_section.finish()

    execution = root.table("execution") or _Section(file, {}, ("execution",), {})
    workers = execution.get("workers", int, None)
    if workers is not None and workers < 0:
        raise execution.error("workers", "expected 0 (this process) or a positive pool size")
    scheduler = execution.get("scheduler", str, None)
    scheduler_timeout = execution.number("scheduler_timeout", 10.0, positive=True)
    batch = execution.get("batch", int, None)
    if batch is not None and batch < 1:
        raise execution.error("batch", "expected a positive number of runs per Dask task")
    requirements = _execution_requirements(execution)
    retries = execution.get("retries", int, 0)
    if retries < 0:
        raise execution.error("retries", "expected a whole number >= 0 of reruns of a failed task")
    execution.finish()
    root.finish()

    call: dict[str, Any] = {
        "target": loaded if is_system else model,
        "parameters": parameters,
        "design": kind,
        "samples": samples,
        "seed": seed,
        "metrics": stats,
        "workers": workers,
        "scheduler": scheduler,
        "scheduler_timeout": scheduler_timeout,
        **options,
    }
    if batch is not None:
        call["batch"] = batch
    if requirements is not None:
        call["requirements"] = requirements
    if retries:
        call["retries"] = retries
    if "results" in outputs:
        call["results_file"] = outputs["results"]
    return call, outputs


# [execution] keys that declare where the Dask tasks run (fmitwin.placement.Requirements)
REQUIREMENT_KEYS = ("latency", "memory", "cores", "gpus", "site", "tier")


def _execution_requirements(execution: Any) -> Requirements | None:
    """The Requirements that the [execution] section declares, or None."""
    from fmitwin.placement import Requirements

    kinds = {"latency": str, "memory": (int, str), "cores": int, "gpus": int, "site": str}
    given = {
        key: execution.get(key, kinds.get(key, str))
        for key in REQUIREMENT_KEYS
        if execution.has(key)
    }
    if not given:
        return None
    try:
        return Requirements(**given)
    except ValueError as exc:
        message = str(exc).removeprefix("requirements: ")
        key = message.split(" ", 1)[0]
        raise execution.error(key if key in given else None, message) from None


def _study_target(section: Any, base: Path) -> Any:
    """The [target] of a study file: the SSP path, or the FMU path (a bundled model's name
    works too)."""
    import fmitwin.models

    if section.has("ssp") == section.has("fmu"):
        raise section.error(None, 'needs exactly one of ssp = "system.ssp" or fmu = "model.fmu"')
    if section.has("ssp"):
        path = base / section.get("ssp", str)
        if not path.is_file():
            raise section.error("ssp", f"{path} does not exist; give the path of the SSP file")
        return ("ssp", path)
    name = section.get("fmu", str)
    try:
        return fmitwin.models.resolve(base / name if (base / name).exists() else name)
    except FileNotFoundError:
        raise section.error(
            "fmu",
            f"{base / name} does not exist; give the path of an FMU or a bundled model "
            f"({', '.join(fmitwin.models.available())})",
        ) from None


def _load_target(model: Any) -> Any:
    if isinstance(model, tuple):
        from fmitwin.ssp import read_ssp

        return read_ssp(model[1])
    from fmitwin.fmu import load_fmu

    return load_fmu(model)
