"""Simulate one FMU from the compiled core: ``simulate(fmu, stop_time, step, ...)``.

The FMU is instantiated through FMPy, then stepped entirely in C++ (``_core.SimulationRun``) with
the GIL released, in chunks so that a progress bar can follow a long run. Communication points
and input handling follow FMPy's ``simulate_fmu``, so co-simulation results are bit-identical to
it; model-exchange FMUs are integrated by the native RK4 or Dormand-Prince 5(4) solver.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fmitwin import _core
from fmitwin.fmu import FmuModel, Variable, load_fmu

_KIND_TO_CORE = {
    "real": _core.VariableKind.real,
    "integer": _core.VariableKind.integer,
    "boolean": _core.VariableKind.boolean,
}
_DTYPES = {"real": np.float64, "integer": np.int64, "boolean": np.bool_}


class SimulationResult:
    """Recorded trajectories: ``result["name"]`` is a column, ``result.time`` the time column.

    ``data`` is a numpy structured array with fields ``time`` and one per recorded variable (like
    FMPy's result); ``units`` maps names to units; ``to_dataframe()`` gives a pandas DataFrame
    indexed by time. ``terminated_by_fmu`` is True when the FMU ended the run before stop_time.
    """

    def __init__(self, data: np.ndarray, units: Mapping[str, str | None], terminated: bool):
        self.data = data
        self.units = dict(units)
        self.terminated_by_fmu = terminated

    @property
    def names(self) -> list[str]:
        """Recorded variable names (without ``time``)."""
        return list(self.data.dtype.names[1:])

    @property
    def time(self) -> np.ndarray:
        return self.data["time"]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.data.dtype.names:
            raise KeyError(f"{name!r} was not recorded; recorded: {', '.join(self.names)}")
        return self.data[name]

    def __len__(self) -> int:
        return len(self.data)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame with one column per variable, indexed by ``time``."""
        import pandas as pd

        return pd.DataFrame(
            {name: self.data[name] for name in self.names}, index=self.time
        ).rename_axis("time")

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Writes ``time`` and every recorded variable as CSV (full double precision)."""
        self.to_dataframe().to_csv(path, float_format="%.17g")

    def __repr__(self) -> str:
        return f"SimulationResult({len(self)} rows: time, {', '.join(self.names)})"


def _input_table(
    model: FmuModel, inputs: Any
) -> tuple[np.ndarray, list[Variable], np.ndarray, np.ndarray]:
    """(times, variables, values signals x times, event times) from the ``inputs`` argument.

    Accepts a numpy structured array with a first field ``time`` (FMPy's input format), a pandas
    DataFrame with a ``time`` column or a time index, or a mapping with key ``time``.
    """
    if hasattr(inputs, "columns"):  # pandas DataFrame
        columns = {c: inputs[c].to_numpy() for c in inputs.columns}
        if "time" not in columns:
            columns = {"time": inputs.index.to_numpy(), **columns}
    elif isinstance(inputs, np.ndarray) and inputs.dtype.names:
        columns = {name: inputs[name] for name in inputs.dtype.names}
    elif isinstance(inputs, Mapping):
        columns = {str(k): np.asarray(v) for k, v in inputs.items()}
    else:
        raise TypeError(
            "inputs: expected a structured numpy array (first field 'time'), a pandas DataFrame "
            f"or a dict with a 'time' entry, got {type(inputs).__name__}"
        )
    if "time" not in columns:
        raise ValueError("inputs: no 'time' column; give the sample times as 'time'")
    times = np.asarray(columns.pop("time"), dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ValueError("inputs: 'time' must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0):
        raise ValueError("inputs: 'time' must be finite and non-decreasing")
    variables, rows = [], []
    for name, column in columns.items():
        variable = model.variable(name, argument="inputs")
        if variable.causality != "input" and variable.variability != "tunable":
            raise ValueError(
                f"inputs: {name} is a {variable.causality} variable; only inputs (and tunable "
                "parameters) can be driven"
            )
        if variable.kind not in _KIND_TO_CORE:
            raise TypeError(
                f"inputs: {name} is {variable.type}; tables drive Real/Integer/Boolean (FMI 2) "
                "and Float64/Int32/Boolean (FMI 3) variables"
            )
        values = np.asarray(column, dtype=float)
        if values.shape != times.shape:
            raise ValueError(f"inputs[{name!r}]: {values.size} values for {times.size} time points")
        variables.append(variable)
        rows.append(values)
    values = np.array(rows, dtype=float).reshape(len(rows), times.size)
    # Events: repeated times (step changes), and changes of discrete-time signals.
    events = set(times[1:][np.diff(times) == 0].tolist())
    for variable, row in zip(variables, values, strict=True):
        if variable.variability in ("discrete", "tunable") or variable.kind != "real":
            events.update(times[1:][np.diff(row) != 0].tolist())
    return times, variables, values, np.array(sorted(events), dtype=float)


def _is_continuous(variable: Variable) -> bool:
    return variable.kind == "real" and variable.variability not in ("discrete", "tunable")


def recorded_variables(model: FmuModel, outputs: Sequence[str] | None) -> list[Variable]:
    """The variables a run records: ``outputs`` by name (unknown names get the closest-names
    error), or by default the model's outputs, else its states."""
    if outputs is None:
        chosen = model.outputs or model.states
    else:
        if isinstance(outputs, str):
            raise TypeError("outputs: give a list of variable names, not a single string")
        chosen = [model.variable(name, argument="outputs") for name in outputs]
    for variable in chosen:
        if variable.kind not in _KIND_TO_CORE:
            raise TypeError(
                f"outputs: {variable.name} is {variable.type}; Real/Integer/Boolean (FMI 2) and "
                "Float64/Int32/Boolean (FMI 3) variables can be recorded"
            )
    return chosen


def simulate(
    fmu: FmuModel | str | os.PathLike[str],
    stop_time: float | None = None,
    step: float | None = None,
    *,
    start_time: float | None = None,
    inputs: Any = None,
    outputs: Sequence[str] | None = None,
    start_values: Mapping[str, Any] | None = None,
    kind: str | None = None,
    solver: str = "dopri45",
    rtol: float | None = None,
    atol: float = 1e-8,
    solver_step: float | None = None,
    progress: bool | Callable[[float, float], None] = False,
) -> SimulationResult:
    """Simulates ``fmu`` from ``start_time`` to ``stop_time`` with communication step ``step``.

    Parameters
    ----------
    fmu: an FMU path or a model from :func:`fmitwin.load_fmu`.
    stop_time, start_time, step: default to the FMU's default experiment (stop 1 s after start;
        step = (stop - start) / 500 when the FMU gives none). Results are recorded every ``step``.
    inputs: input signals over time (structured array / DataFrame / dict with ``time``); real
        continuous inputs are interpolated linearly, other inputs are held; a repeated time is a
        step change.
    outputs: names of the variables to record (default: the outputs, else the states).
    start_values: name -> value, set before/inside initialization mode.
    kind: "cs" (co-simulation) or "me" (model exchange); default: co-simulation when offered.
    solver, rtol, atol, solver_step: model exchange only. "dopri45" (adaptive; ``solver_step`` is
        the largest step) or "rk4" (fixed ``solver_step``, default ``step``); rtol (default: the
        FMU's default tolerance, else 1e-6) is also passed to the FMU.
    progress: True for a progress bar on stderr, or a callback ``f(time, stop_time)``.

    Returns a :class:`SimulationResult` with ``len = number of communication points + 1``.
    """
    model = fmu if isinstance(fmu, FmuModel) else load_fmu(fmu)
    kind = model.check_kind(kind)
    exp = model.default_experiment
    t0 = float(start_time if start_time is not None else (exp.start_time or 0.0))
    t1 = float(stop_time if stop_time is not None else (exp.stop_time or t0 + 1.0))
    if not t1 > t0:
        raise ValueError(f"stop_time: must be greater than start_time ({t0}), got {t1}")
    if step is None:
        step = exp.step_size or (t1 - t0) / 500
    step = float(step)
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step: must be a positive number, got {step}")
    recorded = recorded_variables(model, outputs)
    start_values = model.check_start_values(start_values or {})
    if inputs is not None:
        times, in_vars, in_values, events = _input_table(model, inputs)
    else:
        times, in_vars, in_values, events = np.zeros(0), [], np.zeros((0, 0)), np.zeros(0)

    instance = model.instantiate(kind)
    try:
        sim = instance.simulator
        if kind == "me":
            tolerance = rtol if rtol is not None else (exp.tolerance or 1e-6)
            sim.configure_solver(solver, tolerance, atol, solver_step or step)
        elif rtol is not None:
            raise ValueError("rtol: applies to model exchange only (kind='me')")
        by_kind = {k: [v.value_reference for v in recorded if v.kind == k] for k in _KIND_TO_CORE}
        run = _core.SimulationRun(
            sim,
            t0,
            t1,
            step,
            model.capabilities[kind].can_handle_variable_step,
            times.tolist(),
            [v.value_reference for v in in_vars],
            [_KIND_TO_CORE[v.kind] for v in in_vars],
            [_is_continuous(v) for v in in_vars],
            in_values.ravel().tolist(),
            events.tolist(),
            by_kind["real"],
            by_kind["integer"],
            by_kind["boolean"],
        )
        instance.initialize(
            t0,
            t1,
            start_values=start_values,
            during_initialization=lambda: run.apply_inputs(t0, False),
        )
        _advance(run, instance, t1, progress)
        sim.terminate()
    finally:
        instance.free()
    units = {v.name: v.unit for v in recorded}
    return SimulationResult(_result_data(run, recorded), units, run.terminated_by_fmu)


def _result_data(run: Any, recorded: list[Variable]) -> np.ndarray:
    """The finished run's rows as a structured array: fields ``time`` and the recorded names.

    The run records each row's time and real outputs side by side (rows x (1 + reals) float64),
    which is the memory of a structured array of float64 fields: when every recorded variable is
    real (the usual case) the array is that memory, not a copy; otherwise it is assembled column
    by column.
    """
    table, integers, booleans = run.take_results()
    dtype = np.dtype([("time", np.float64)] + [(v.name, _DTYPES[v.kind]) for v in recorded])
    if all(v.kind == "real" for v in recorded):
        return table.view(dtype).reshape(len(table))
    data = np.empty(len(table), dtype=dtype)
    data["time"] = table[:, 0]
    columns = {"real": table[:, 1:], "integer": integers, "boolean": booleans}
    position = dict.fromkeys(_KIND_TO_CORE, 0)
    for variable in recorded:
        data[variable.name] = columns[variable.kind][:, position[variable.kind]]
        position[variable.kind] += 1
    return data


def _advance(
    run: Any, instance: Any, stop_time: float, progress: bool | Callable[[float, float], None]
) -> None:
    """Runs to the end in C++ chunks (GIL released), reporting progress between chunks."""
    total = max(run.remaining_steps, 1)
    # 200 progress updates; without progress, 20 chunks (Ctrl-C is handled between chunks).
    chunk = max(1000, total // (200 if progress else 20))
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="step", desc="simulating", leave=False)
    try:
        while True:
            before = run.remaining_steps
            try:
                more = run.advance(chunk)
            except (_core.FmuError, ValueError, RuntimeError) as exc:
                raise instance.error(f"the simulation failed at t = {run.time:g} ({exc})") from exc
            if bar is not None:
                bar.update(before - run.remaining_steps)
            elif callable(progress):
                progress(run.time, stop_time)
            if not more:
                break
    finally:
        if bar is not None:
            bar.close()
