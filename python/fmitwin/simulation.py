"""Simulate one FMU from the compiled core: ``simulate(fmu, stop_time, step, ...)``.

The FMU is instantiated through FMPy, then stepped entirely in C++ (``_core.SimulationRun``) with
the GIL released, in chunks so that a progress bar can follow a long run (the loop checks for
Ctrl-C every few milliseconds). Communication points, input handling and the tolerance passed to
the FMU follow FMPy's ``simulate_fmu``, so co-simulation results are bit-identical to it;
model-exchange FMUs are integrated by the native RK4 or Dormand-Prince 5(4) solver, events
located inside steps.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fmitwin import _core
from fmitwin.fmi_types import (
    column_dtype,
    core_type,
    is_continuous,
    record_buffer,
    value_range_error,
    with_article,
)
from fmitwin.fmu import FmuError, FmuModel, Variable, element_names, load_fmu
from fmitwin.run_checks import check_result_memory, experiment_times
from fmitwin.signals import read_table, step_times

# Input tables carry float64 values: whole numbers are exact up to 2**53 in magnitude.
_EXACT_INTEGER_LIMIT = 2**53


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


class SimulationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run: still a KeyboardInterrupt (a script stops as usual), carrying the
    rows recorded up to that point as ``result`` (a :class:`SimulationResult`).

    Raised by :func:`simulate` and :meth:`fmitwin.System.simulate` within about 20 ms of the
    interrupt (the compiled loop checks for signals while it runs)::

        try:
            result = fmitwin.simulate(fmu, 1e6, 1e-3)
        except fmitwin.SimulationInterrupted as stopped:
            result = stopped.result  # time and outputs up to the interruption
    """

    def __init__(self, result: SimulationResult):
        end = f"t = {result.time[-1]:g}" if len(result) else "the start"
        super().__init__(
            f"interrupted at {end}; the {len(result)} rows recorded until then are this "
            "exception's .result"
        )
        self.result = result


def _input_table(
    model: FmuModel, inputs: Any
) -> tuple[np.ndarray, list[Variable], np.ndarray, np.ndarray]:
    """(times, variables, values signals x times, event times) from the ``inputs`` argument.

    Accepts a numpy structured array with a first field ``time`` (FMPy's input format), a pandas
    DataFrame with a ``time`` column or a time index, or a mapping with key ``time``.
    """
    times, columns = read_table(inputs)
    variables, rows = [], []
    for name, column in columns.items():
        variable = model.variable(name, argument="inputs")
        if variable.is_array:
            raise TypeError(
                f"inputs: {name} is an array; input tables drive scalar variables (set an "
                "array input's value with start_values)"
            )
        if variable.causality != "input" and variable.variability != "tunable":
            raise ValueError(
                f"inputs: {name} is {with_article(variable.causality)} variable; only inputs "
                "(and tunable parameters) can be driven"
            )
        if variable.scalar_type is None:
            raise TypeError(
                f"inputs: {name} is {variable.type}; tables drive numeric and Boolean variables "
                "(String, Binary and Clock variables are not supported)"
            )
        column = np.asarray(column)
        variables.append(variable)
        rows.append(_signal_values(variable, column, times))
    values = np.array(rows, dtype=float).reshape(len(rows), times.size)
    # Events: repeated times (step changes), and changes of discrete-time signals.
    events = set(step_times(times).tolist())
    for variable, row in zip(variables, values, strict=True):
        if not is_continuous(variable):
            events.update(times[1:][np.diff(row) != 0].tolist())
    return times, variables, values, np.array(sorted(events), dtype=float)


def _signal_values(variable: Variable, column: np.ndarray, times: np.ndarray) -> np.ndarray:
    """One input column as the float64 values the table carries, each exactly what the variable
    will be set to: integer types take whole numbers within their range, represented exactly
    (any up to 2**53 in magnitude, larger ones when a float64 holds them); Float32 columns are
    rounded to float32 here (as FMPy does: interpolation then works on the values the variable
    can hold). Raises ValueError naming the variable, its type and range, and the first bad value
    with its time."""
    name, stype = variable.name, variable.scalar_type
    if column.dtype.kind in "iu":  # exact integers: check them before any float conversion
        exact = column.tolist()
        values = np.asarray(column, dtype=float)
        bad = [
            i
            for i in np.flatnonzero(np.abs(values) >= _EXACT_INTEGER_LIMIT).tolist()
            if float(exact[i]) != exact[i]
        ]
        if bad:
            raise ValueError(
                f"inputs[{name!r}]: {exact[bad[0]]} at t = {times[bad[0]]:g} is not exact in an "
                "input table (float64 values: whole numbers up to 2**53 in magnitude)"
            )
    else:
        values = np.asarray(column, dtype=float)
        exact = values.tolist()
    for i in _extremes(values, stype):
        problem = value_range_error(variable, exact[i])
        if problem is not None:
            raise ValueError(f"inputs[{name!r}]: {problem} at t = {times[i]:g}")
    return values.astype(np.float32).astype(float) if stype == "float32" else values


def _extremes(values: np.ndarray, scalar_type: str) -> list[int]:
    """Indices of the values a range check must see: for an integer type the first fractional
    or non-finite value, then the smallest and the largest value."""
    if values.size == 0 or scalar_type in ("float64", "boolean"):
        return []
    odd = []
    if scalar_type != "float32":
        odd = np.flatnonzero(~np.isfinite(values) | (values != np.trunc(values)))[:1].tolist()
    finite = np.where(np.isnan(values), 0.0, values)
    return odd + [int(np.argmin(finite)), int(np.argmax(finite))]


def recorded_variables(model: FmuModel, outputs: Sequence[str] | None) -> list[Variable]:
    """The variables a run records: ``outputs`` by name (unknown names get the closest-names
    error), or by default the model's numeric and Boolean outputs (String and Binary outputs
    are left out), else its states."""
    if outputs is None:
        chosen = [v for v in model.outputs if v.scalar_type is not None] or model.states
    else:
        if isinstance(outputs, str):
            raise TypeError("outputs: give a list of variable names, not a single string")
        chosen = [model.variable(name, argument="outputs") for name in outputs]
    for variable in chosen:
        if variable.scalar_type is None:
            raise TypeError(
                f"outputs: {variable.name} is {variable.type}; numeric and Boolean variables can "
                "be recorded (String, Binary and Clock variables cannot)"
            )
    return chosen


def run_tolerance(
    model: FmuModel, kind: str, tolerance: float | None, rtol: float | None = None
) -> float | None:
    """The relative tolerance a run of ``model`` as ``kind`` uses (None: undefined).

    One rule for :func:`simulate`, :class:`fmitwin.System` and ``fmitwin simulate --tolerance``:
    the value given (``tolerance``, or its solver name ``rtol``; both only when equal), else the
    FMU's DefaultExperiment tolerance (as FMPy), else undefined for co-simulation (the FMU's
    solver picks its own) and 1e-6 for the native model-exchange solver. Raises ValueError for a
    tolerance that is not a positive finite number.
    """
    if tolerance is not None and rtol is not None and float(tolerance) != float(rtol):
        raise ValueError(
            f"tolerance={tolerance} and rtol={rtol}: they are one setting (rtol is its solver "
            "name); give one"
        )
    given = tolerance if tolerance is not None else rtol
    if given is not None:
        given = float(given)
        if not (np.isfinite(given) and given > 0):
            raise ValueError(f"tolerance: must be a positive finite number, got {given}")
        return given
    default = model.default_experiment.tolerance
    if default:
        return float(default)
    return 1e-6 if kind == "me" else None


def _output_reads(recorded: list[Variable]) -> dict[str, dict[str, list[Variable]]]:
    """buffer ('real' / 'integer' / 'boolean') -> scalar type -> its recorded variables: one
    FMI call per type and row; the buffer's columns follow this order."""
    reads: dict[str, dict[str, list[Variable]]] = {"real": {}, "integer": {}, "boolean": {}}
    for variable in recorded:
        stype = variable.scalar_type
        reads[record_buffer(stype)].setdefault(stype, []).append(variable)
    return reads


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
    tolerance: float | None = None,
    rtol: float | None = None,
    atol: float = 1e-8,
    solver_step: float | None = None,
    record_events: bool = False,
    strict: bool = False,
    progress: bool | Callable[[float, float], None] = False,
    logging: bool = False,
    isolate: bool = False,
    timeout: float | None = None,
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
    tolerance: the run's relative tolerance (``rtol`` is the same argument under its solver
        name; give one of them). It is passed to the FMU (``fmi2SetupExperiment`` /
        ``fmi3EnterInitializationMode``), whose internal solver uses it in co-simulation, and is
        the native solver's rtol in model exchange. Default, as FMPy: the FMU's
        DefaultExperiment tolerance; without one, co-simulation leaves it undefined (the FMU
        chooses) and model exchange uses 1e-6. See :func:`run_tolerance`.
    solver, atol, solver_step: model exchange only. "dopri45" (adaptive; ``solver_step`` is
        the largest step) or "rk4" (fixed ``solver_step``, default ``step``); ``atol`` is scaled
        by the states' nominal values.
    record_events: model exchange: also record both sides of every event inside the run (a row
        with the values just before it, the left limit, then one with the values after it).
        Without it rows are the communication points only.
    strict: a recorded real output that is NaN raises FmuError (naming the variable and the
        first time); by default it is reported as a RuntimeWarning and kept.
    progress: True for a progress bar on stderr, or a callback ``f(time, stop_time)``.
    logging: instantiate the FMU with logging on: its messages (FMI 2 formats formatted) go to
        the ``fmitwin.fmu`` Python logger, and errors quote the last ones.
    isolate, timeout: run the FMU in a worker process (:mod:`fmitwin.isolation`): a crash
        (segmentation fault, abort) or a run longer than ``timeout`` seconds becomes an
        FmuError with the FMU's log instead of taking this process down.

    Conventions at events: a row at a communication point holds the values after every FMU
    event at that instant (time, state and step events), as a co-simulation FMU gives them at
    the end of its step and FMPy records them; an input's step change at a communication point
    (a repeated time in ``inputs``) acts from that point on, so that point's row still shows the
    outputs before it. An FMU asking to terminate ends the run with one row at the time it
    reached, holding its final values (``terminated_by_fmu``).

    Returns a :class:`SimulationResult` with ``len = number of communication points + 1`` (fewer
    when the FMU terminates early, more with ``record_events``). Ctrl-C raises
    :class:`SimulationInterrupted` carrying the rows recorded so far.
    """
    model = fmu if isinstance(fmu, FmuModel) else load_fmu(fmu)
    if isolate:
        if callable(progress):
            raise ValueError("progress: a callback cannot run in an isolated worker; use True")
        from fmitwin.isolation import run_isolated

        return run_isolated(
            simulate,
            model,
            stop_time,
            step,
            what=str(model.path),
            timeout=timeout,
            start_time=start_time,
            inputs=inputs,
            outputs=outputs,
            start_values=start_values,
            kind=kind,
            solver=solver,
            rtol=rtol,
            atol=atol,
            solver_step=solver_step,
            progress=progress,
            logging=logging,
            tolerance=tolerance,
            strict=strict,
            record_events=record_events,
        )
    if timeout is not None:
        raise ValueError("timeout: applies to isolated runs only (isolate=True)")
    kind = model.check_kind(kind)
    t0, t1, step = experiment_times(start_time, stop_time, step, **model.experiment_defaults())
    recorded = recorded_variables(model, outputs)
    start_values = model.check_start_values(start_values or {})
    shapes = model.shapes(start_values)
    columns = {v.name: element_names(v.name, shapes.get(v.name, ())) for v in recorded}
    check_result_memory((t1 - t0) / step + 2, 1 + sum(map(len, columns.values())))
    if inputs is not None:
        times, in_vars, in_values, events = _input_table(model, inputs)
    else:
        times, in_vars, in_values, events = np.zeros(0), [], np.zeros((0, 0)), np.zeros(0)

    instance = model.instantiate(kind, logging=logging, start_values=start_values)
    try:
        sim = instance.simulator
        tolerance = run_tolerance(model, kind, tolerance, rtol)
        if kind == "me":
            sim.configure_solver(solver, tolerance, atol, solver_step or step)
        else:
            sim.tolerance = tolerance or 0.0
        reads = _output_reads(recorded)
        typed = {
            buffer: [
                # an array: its value reference once per element (see FmuAccess arrays)
                (core_type(stype), [v.value_reference for v in variables for _ in columns[v.name]])
                for stype, variables in by_type.items()
            ]
            for buffer, by_type in reads.items()
        }
        run = _core.SimulationRun(
            sim,
            t0,
            t1,
            step,
            model.capabilities[kind].can_handle_variable_step,
            times.tolist(),
            [v.value_reference for v in in_vars],
            [core_type(v.scalar_type) for v in in_vars],
            [is_continuous(v) for v in in_vars],
            in_values.ravel().tolist(),
            events.tolist(),
            typed["real"],
            typed["integer"],
            [
                v.value_reference
                for v in reads["boolean"].get("boolean", [])
                for _ in columns[v.name]
            ],
        )
        instance.initialize(
            t0,
            t1,
            start_values=start_values,
            during_initialization=lambda: run.apply_inputs(t0, False),
        )
        run.record_events = bool(record_events)
        units = {name: v.unit for v in recorded for name in columns[v.name]}
        try:
            _advance(run, instance, t1, progress)
        except KeyboardInterrupt as interrupt:
            run.stop_early()
            partial = SimulationResult(_result_data(run, recorded, reads, columns), units, False)
            raise SimulationInterrupted(partial) from interrupt
        sim.terminate()
    finally:
        instance.free()
    data = _result_data(run, recorded, reads, columns)
    result = SimulationResult(data, units, run.terminated_by_fmu)
    report_nan(result, model.path.name, strict)
    return result


def report_nan(result: SimulationResult, source: str, strict: bool) -> None:
    """Reports recorded floating-point columns holding NaN, naming the first such variable and
    the time it first appears: a RuntimeWarning, or FmuError when ``strict``."""
    columns = [name for name in result.names if np.issubdtype(result.data.dtype[name], np.floating)]
    bad = [(name, int(np.argmax(np.isnan(result[name])))) for name in columns]
    bad = [(name, row) for name, row in bad if np.isnan(result[name][row])]
    if not bad:
        return
    name, row = min(bad, key=lambda item: item[1])
    others = f" (also: {', '.join(n for n, _ in bad if n != name)})" if len(bad) > 1 else ""
    message = (
        f"{source}: {name} is NaN from t = {result.time[row]:g} on{others}; the FMU computed "
        "an undefined value (check its inputs and parameters)"
    )
    if strict:
        raise FmuError(message + "; recorded nothing (strict)")
    warnings.warn(message + "; recorded as NaN", RuntimeWarning, stacklevel=3)


def _result_data(
    run: Any,
    recorded: list[Variable],
    reads: dict[str, dict[str, list[Variable]]],
    columns: Mapping[str, list[str]],
) -> np.ndarray:
    """The finished run's rows as a structured array: fields ``time`` and the recorded names.

    The run records each row's time and real outputs side by side (rows x (1 + reals) float64),
    which is the memory of a structured array of float64 fields: when the recorded variables are
    exactly those columns in that order (the usual case: all Float64) the array is that memory,
    not a copy; otherwise it is assembled column by column. UInt64 columns hold the bit pattern
    and are read back as uint64.
    """
    table, integers, booleans = run.take_results()
    dtype = np.dtype(
        [("time", np.float64)]
        + [(name, column_dtype(v.scalar_type)) for v in recorded for name in columns[v.name]]
    )
    order = [v for by_type in reads.values() for variables in by_type.values() for v in variables]
    if order == recorded and not reads["integer"] and not reads["boolean"]:
        return table.view(dtype).reshape(len(table))
    data = np.empty(len(table), dtype=dtype)
    data["time"] = table[:, 0]
    buffers = {"real": table[:, 1:], "integer": integers, "boolean": booleans}
    for buffer, by_type in reads.items():
        position = 0
        for stype, variables in by_type.items():
            for variable in variables:
                for name in columns[variable.name]:
                    column = buffers[buffer][:, position]
                    data[name] = column.view(np.uint64) if stype == "uint64" else column
                    position += 1
    return data


def _advance(
    run: Any, instance: Any, stop_time: float, progress: bool | Callable[[float, float], None]
) -> None:
    """Runs to the end in C++ chunks (GIL released), reporting progress between chunks."""
    total = max(run.remaining_steps, 1)
    # 200 progress updates; without progress, 20 chunks (Ctrl-C is seen inside a chunk too).
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
            except (ValueError, RuntimeError) as exc:  # FmuError is a RuntimeError
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
