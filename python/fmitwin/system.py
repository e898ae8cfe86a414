"""Co-simulation of coupled FMUs: a :class:`System` of named FMU instances and connections.

Build a system in Python (or import one with :func:`fmitwin.ssp.read_ssp`; write one with
:func:`fmitwin.ssp.write_ssp`), then :meth:`System.simulate` it, or :meth:`System.start` a
:class:`SystemRun` to advance it step by step, checkpoint it and branch what-if runs. The time
loop runs in the compiled core (``fmitwin._core.Execution``) with the GIL released: stepping and
value transfer call the FMUs' C functions directly.

Coupling semantics (base communication step h, t_k = t0 + k h):

* ``method="jacobi"``: every instance holds its inputs over [t_k, t_k+1] at the values the
  connected outputs had at t_k, so every connection delays its signal by one step.
* ``method="gauss_seidel"``: instances step one after another (``order``, default the data-flow
  order of the connections); an instance sees the outputs of instances before it at t_k+1 (no
  delay) and of instances after it at t_k (one-step delay).
* Recording, under every method: the row at t_k is taken after the transfer at t_k, so it
  satisfies every connection equation (``target = factor * source + offset`` with both values
  at t_k), and a recorded input is the value its instance holds from t_k on.

  Worked example: ``a.y`` -> ``b.u`` where b integrates its input (``der(x) = u``), step h:

  ======  ==========  ==========  =============================  ============================
  row     a.y         b.u         b.x, Jacobi                    b.x, Gauss-Seidel (a, b)
  ======  ==========  ==========  =============================  ============================
  t_k     y(t_k)      y(t_k)      x(t_k)                         x(t_k)
  t_k+1   y(t_k+1)    y(t_k+1)    x(t_k) + h y(t_k)              x(t_k) + h y(t_k+1)
  ======  ==========  ==========  =============================  ============================

  ``b.u = a.y`` in every row under both methods; the delay shows in b's state: Jacobi stepped b
  over [t_k, t_k+1] with a's output at t_k, Gauss-Seidel with a's output at t_k+1 (a stepped
  first). With ``order=["b", "a"]`` Gauss-Seidel steps b first and so delays like Jacobi.
* ``method="variable"``: Jacobi with error control by step doubling (one step h against two
  steps h/2 from a saved state, error on the coupling signals); rejected steps are rolled back.
  Needs every FMU to get/set its state.
* ``step_multiple=m`` (multi-rate): the instance latches its inputs at t_k (k % m == 0) and steps
  [t_k, t_k+m] at once; its outputs change for the others at t_k+m.
* A connection sets ``target = factor * source + offset``.
* An FMU asking to end the simulation (FMI ``terminateSimulation``) ends the run cleanly: at
  the time it reached when that is the end of the step (the step completes and is recorded),
  else at the last communication point all instances reached; ``terminated_by_fmu`` is set on
  the result and :attr:`SystemRun.termination` names the instance. Errors of the
  co-simulation core (a discarded step, a loop that does not converge) are
  :class:`fmitwin.FmuError`.
* Tolerance: each co-simulation FMU receives its instance's ``tolerance`` (default its
  DefaultExperiment tolerance, else none); see :func:`fmitwin.simulation.run_tolerance`.
* Outputs that depend directly on inputs (the FMUs' model structure) are made consistent with
  them before each step; algebraic loops (cycles through connections and direct feedthrough,
  :meth:`System.algebraic_loops`) are solved by fixed-point iteration to ``loop_tolerance``, or by
  Newton's method (``loop_solver="newton"``) where the loop gain exceeds 1.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fmitwin import _core
from fmitwin.fmi_types import with_article
from fmitwin.fmu import FmuError, FmuModel, Variable, load_fmu
from fmitwin.run_checks import check_result_memory, experiment_times
from fmitwin.signals import read_signals
from fmitwin.simulation import SimulationInterrupted, SimulationResult, report_nan, run_tolerance

_CORE_TYPES = {
    "real": _core.VariableType.real,
    "integer": _core.VariableType.integer,
    "boolean": _core.VariableType.boolean,
}
_DTYPES = {"real": np.float64, "integer": np.int64, "boolean": np.bool_}
METHODS = ("jacobi", "gauss_seidel", "variable")


@dataclass(frozen=True)
class Connection:
    """``target = factor * source + offset``; ``source``/``target`` are "instance.variable"."""

    source: str
    target: str
    factor: float = 1.0
    offset: float = 0.0


@dataclass
class Instance:
    """One named instance of an FMU in a system."""

    name: str
    model: FmuModel
    kind: str
    step_multiple: int = 1
    start_values: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    logging: bool = False  # the FMU logs (see fmitwin.simulate's logging)


def _split(name: str, argument: str) -> tuple[str, str]:
    instance, dot, variable = name.partition(".")
    if not dot or not instance or not variable:
        raise ValueError(f"{argument}: {name!r} must be 'instance.variable'")
    return instance, variable


class System:
    """A system of named FMU instances with output -> input connections.

    ``inputs`` maps a system-level input name to the instance inputs it drives; ``outputs`` maps a
    system-level output name to the instance output it exposes. ``experiment`` holds defaults
    for running it (``start_time``, ``stop_time``, ``step``, ``method``), e.g. from an SSP file.
    """

    def __init__(self, name: str = "system"):
        self.name = name
        self.experiment: dict[str, Any] = {}
        self.instances: dict[str, Instance] = {}
        self.connections: list[Connection] = []
        self.inputs: dict[str, list[str]] = {}
        self.outputs: dict[str, str] = {}

    # -- building ----------------------------------------------------------------------------

    def add(
        self,
        name: str,
        fmu: FmuModel | str | os.PathLike[str],
        *,
        kind: str | None = None,
        step_multiple: int = 1,
        start_values: Mapping[str, Any] | None = None,
        tolerance: float | None = None,
        logging: bool = False,
    ) -> Instance:
        """Adds an instance of ``fmu`` called ``name`` (several instances of one FMU are fine).

        ``kind``: "cs" or "me" (model exchange, integrated by the native solver); default
        co-simulation when offered. ``start_values``: parameters and start values by name.
        ``tolerance``: this instance's relative tolerance, by the rule of
        :func:`fmitwin.simulation.run_tolerance`: a co-simulation FMU receives it (default: its
        DefaultExperiment tolerance, else undefined); a model-exchange instance uses it as its
        solver's rtol (default: ``solver_rtol`` of :meth:`start`).
        ``logging``: the instance logs (its messages go to the ``fmitwin.fmu`` Python logger).
        """
        if not name or "." in name:
            raise ValueError(f"name: {name!r} must be non-empty and contain no '.'")
        if name in self.instances:
            raise ValueError(f"name: an instance called {name!r} exists already; pick another")
        if int(step_multiple) != step_multiple or step_multiple < 1:
            raise ValueError(f"step_multiple: must be an integer >= 1, got {step_multiple!r}")
        model = fmu if isinstance(fmu, FmuModel) else load_fmu(fmu)
        kind = model.check_kind(kind)
        d = model.description
        iface = d.coSimulation if kind == "cs" else d.modelExchange
        if getattr(iface, "canBeInstantiatedOnlyOncePerProcess", False) and any(
            other.model.path == model.path for other in self.instances.values()
        ):
            raise ValueError(
                f"fmu: {model.path.name} can be instantiated only once per process "
                "(canBeInstantiatedOnlyOncePerProcess); it cannot appear twice in a system"
            )
        checked = model.check_start_values(dict(start_values or {}))
        if tolerance is not None:
            tolerance = run_tolerance(model, kind, tolerance)
        instance = Instance(
            name, model, kind, int(step_multiple), checked, tolerance, bool(logging)
        )
        self.instances[name] = instance
        return instance

    def set_start_values(self, instance: str, values: Mapping[str, Any]) -> None:
        """Sets parameters / start values of ``instance`` (checked against its FMU)."""
        inst = self._instance(instance, "instance")
        checked = inst.model.check_start_values(dict(values))
        inst.start_values.update(checked)

    def connect(
        self, source: str, target: str, *, factor: float = 1.0, offset: float = 0.0
    ) -> None:
        """Connects output ``source`` to input ``target`` ("instance.variable" each).

        Types must match; units must match unless a ``factor``/``offset`` converts between them.
        """
        out = self.variable(source, argument="source")
        inp = self.variable(target, argument="target")
        if out.causality != "output":
            raise ValueError(f"source: {source} is {with_article(out.causality)}, not an output")
        if inp.causality != "input":
            raise ValueError(f"target: {target} is {with_article(inp.causality)}, not an input")
        if out.kind != inp.kind or out.kind not in _CORE_TYPES:
            raise TypeError(
                f"connect: {source} is {out.type} but {target} is {inp.type}; connect variables "
                "of the same real, integer or boolean type"
            )
        transformed = factor != 1.0 or offset != 0.0
        if transformed and out.kind != "real":
            raise TypeError(f"connect: factor/offset apply to real variables only ({source})")
        if out.unit and inp.unit and out.unit != inp.unit and not transformed:
            raise ValueError(
                f"connect: {source} is in {out.unit} but {target} in {inp.unit}; give factor "
                "(and offset) converting one into the other"
            )
        for c in self.connections:
            if c.target == target:
                raise ValueError(f"target: {target} is already driven by {c.source}")
        for name, targets in self.inputs.items():
            if target in targets:
                raise ValueError(f"target: {target} is already driven by system input {name!r}")
        self.connections.append(Connection(source, target, float(factor), float(offset)))

    def add_input(self, name: str, targets: str | Sequence[str]) -> None:
        """A system-level input ``name`` driving one or more instance inputs."""
        targets = [targets] if isinstance(targets, str) else list(targets)
        if name in self.inputs or name in self.outputs:
            raise ValueError(f"name: {name!r} is already a system input or output")
        if not targets:
            raise ValueError("targets: give at least one 'instance.input'")
        kinds = set()
        for target in targets:
            var = self.variable(target, argument="targets")
            if var.causality != "input":
                raise ValueError(
                    f"targets: {target} is {with_article(var.causality)}, not an input"
                )
            if any(c.target == target for c in self.connections):
                raise ValueError(f"targets: {target} is already driven by a connection")
            kinds.add(var.kind)
        if len(kinds) > 1:
            raise TypeError(f"targets: {targets} mix types {sorted(kinds)}")
        self.inputs[name] = targets

    def add_output(self, name: str, source: str) -> None:
        """A system-level output ``name`` exposing instance variable ``source``."""
        if name in self.inputs or name in self.outputs:
            raise ValueError(f"name: {name!r} is already a system input or output")
        var = self.variable(source, argument="source")
        if var.kind not in _CORE_TYPES:
            raise TypeError(f"source: {source} is {var.type}; only real, integer, boolean")
        self.outputs[name] = source

    def _instance(self, name: str, argument: str) -> Instance:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(self.instances) or "none yet"
            raise KeyError(f"{argument}: no instance {name!r} (instances: {known})") from None

    def variable(self, name: str, *, argument: str = "name") -> Variable:
        """The variable "instance.variable" (KeyError naming the closest names when unknown)."""
        instance, variable = _split(name, argument)
        return self._instance(instance, argument).model.variable(variable, argument=argument)

    # -- structure -----------------------------------------------------------------------------

    def summary(self) -> str:
        """A readable description: components (FMU, kind, parameter and start values),
        connections, system inputs and outputs, and the default experiment."""

        def assignments(values: Mapping[str, Any]) -> str:
            return ", ".join(f"{name} = {value!r}" for name, value in values.items())

        lines = [f"System {self.name}", f"Components ({len(self.instances)}):"]
        for inst in self.instances.values():
            every = f", every {inst.step_multiple} steps" if inst.step_multiple != 1 else ""
            lines.append(
                f"  {inst.name}: {inst.model.name} ({inst.model.path.name}, {inst.kind}{every})"
            )
            if inst.start_values:
                lines.append(f"    values: {assignments(inst.start_values)}")
        lines.append(f"Connections ({len(self.connections)}):")
        for c in self.connections:
            scaled = "" if (c.factor, c.offset) == (1.0, 0.0) else f" * {c.factor:g} + {c.offset:g}"
            lines.append(f"  {c.source}{scaled} -> {c.target}")
        lines.append(f"Inputs ({len(self.inputs)}):")
        lines += [f"  {name} -> {', '.join(targets)}" for name, targets in self.inputs.items()]
        lines.append(f"Outputs ({len(self.outputs)}):")
        lines += [f"  {name} <- {source}" for name, source in self.outputs.items()]
        if self.experiment:
            lines.append(f"Default experiment: {assignments(self.experiment)}")
        return "\n".join(lines)

    def feedthrough(self) -> list[tuple[str, str]]:
        """(input, output) pairs, "instance.variable", where an output depends directly on an input.

        From each FMU's model structure; an output declaring no dependencies depends on all inputs.
        """
        pairs = []
        for inst in self.instances.values():
            inputs = {v.name for v in inst.model.inputs}
            for unknown in inst.model.description.outputs:
                deps = unknown.dependencies
                names = inputs if deps is None else {d.name for d in deps if d.name in inputs}
                for name in sorted(names):
                    pairs.append((f"{inst.name}.{name}", f"{inst.name}.{unknown.variable.name}"))
        return pairs

    def algebraic_loops(self) -> list[list[str]]:
        """Cycles through connections and direct feedthrough, as variable names along each cycle."""
        core, _ = self._build_core(simulators=None)
        return core.algebraic_loops()

    def _build_core(self, simulators: Mapping[str, Any] | None) -> tuple[Any, dict[str, int]]:
        """The ``_core.CoupledSystem`` and instance indices (no simulators: for analysis only)."""
        core = _core.CoupledSystem()
        index = {}
        for name, inst in self.instances.items():
            sim = simulators[name] if simulators is not None else None
            index[name] = core.add_instance(name, sim, inst.step_multiple)
        for c in self.connections:
            src, dst = (
                self.variable(c.source, argument="source"),
                self.variable(c.target, argument="target"),
            )
            core.connect(
                index[_split(c.source, "source")[0]],
                src.value_reference,
                index[_split(c.target, "target")[0]],
                dst.value_reference,
                _CORE_TYPES[src.kind],
                c.factor,
                c.offset,
                c.source,
                c.target,
            )
        for inp, out in self.feedthrough():
            vi, vo = self.variable(inp, argument="input"), self.variable(out, argument="output")
            if vi.kind in _CORE_TYPES and vo.kind in _CORE_TYPES:
                core.add_feedthrough(
                    index[_split(inp, "input")[0]],
                    vi.value_reference,
                    _CORE_TYPES[vi.kind],
                    vo.value_reference,
                    _CORE_TYPES[vo.kind],
                )
        return core, index

    # -- running -------------------------------------------------------------------------------

    def start(
        self,
        step: float,
        *,
        stop_time: float,
        start_time: float = 0.0,
        method: str = "jacobi",
        order: Sequence[str] | None = None,
        inputs: Any = None,
        outputs: Sequence[str] | None = None,
        output_interval: float | None = None,
        start_values: Mapping[str, Any] | None = None,
        rtol: float = 1e-4,
        atol: float = 1e-6,
        min_step: float | None = None,
        max_step: float | None = None,
        loop_tolerance: float = 1e-10,
        max_loop_iterations: int = 100,
        loop_solver: str = "fixed_point",
        solver: str = "dopri45",
        solver_rtol: float = 1e-6,
        solver_atol: float = 1e-8,
    ) -> SystemRun:
        """Instantiates and initializes every FMU; returns a :class:`SystemRun` at ``start_time``.

        step: base communication step (``method="variable"``: the initial step).
        stop_time: the end of the experiment (passed to the FMUs; results are preallocated to it).
        method: "jacobi", "gauss_seidel" or "variable" (see the module docstring).
        order: Gauss-Seidel instance order (default: data-flow order of the connections).
        inputs: system inputs over time: a mapping ``name -> constant`` or ``name -> (times,
            values)``, or a DataFrame / structured array with a ``time`` column and one column per
            input; real inputs are interpolated linearly, integer/boolean held.
        outputs: what to record: system output names and/or "instance.variable" names (default:
            the system outputs, else every instance's outputs).
        output_interval: recording interval (default: ``step``; variable step: (stop-start)/500);
            fixed step: a multiple of ``step``.
        start_values: "instance.variable" -> value for this run, over the instances' own.
        rtol, atol, min_step, max_step: variable step error control.
        loop_tolerance, max_loop_iterations, loop_solver: algebraic loops are solved by
            "fixed_point" iteration (converges for loop gains below 1) or "newton" (Newton's
            method on the loop's real inputs, finite-difference Jacobian).
        solver, solver_rtol, solver_atol: native integrator of model-exchange instances.
        """
        if not self.instances:
            raise ValueError("the system has no instances; add() some first")
        if loop_solver not in ("fixed_point", "newton"):
            raise ValueError(f"loop_solver: 'fixed_point' or 'newton', got {loop_solver!r}")
        if method not in METHODS:
            raise ValueError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
        t0, t1, step = experiment_times(start_time, stop_time, step)
        if method != "variable":
            _require_grid(t1 - t0, step, "stop_time - start_time")
        if output_interval is None:
            output_interval = step if method != "variable" else (t1 - t0) / 500
        output_interval = float(output_interval)
        if not output_interval > 0:
            raise ValueError(f"output_interval: must be positive, got {output_interval}")
        if method != "variable":
            _require_grid(output_interval, step, "output_interval")
        count = int(math.floor((t1 - t0) / output_interval * (1 + 1e-12))) + 1
        recorded = self._recorded(outputs)
        check_result_memory(count + 1, 1 + len(recorded))
        output_times = t0 + output_interval * np.arange(count)
        if output_times[-1] < t1 - 1e-9 * max(1.0, abs(t1)):
            output_times = np.append(output_times, t1)
        per_instance = {name: dict(inst.start_values) for name, inst in self.instances.items()}
        for name, value in (start_values or {}).items():
            instance, variable = _split(name, "start_values")
            model = self._instance(instance, "start_values").model
            per_instance[instance].update(model.check_start_values({variable: value}))
        signals = self._signals(inputs, per_instance)
        order_index = None
        if order is not None:
            if method != "gauss_seidel":
                raise ValueError("order: applies to method='gauss_seidel' only")
            missing = set(self.instances) ^ set(order)
            if missing or len(order) != len(self.instances):
                raise ValueError(
                    f"order: must list every instance once ({', '.join(self.instances)})"
                )
            names = list(self.instances)
            order_index = [names.index(n) for n in order]
        if method == "variable":
            algorithm = _core.VariableStepAlgorithm(
                rtol=rtol,
                atol=atol,
                initial_step=step,
                min_step=min_step if min_step is not None else step * 1e-6,
                max_step=max_step if max_step is not None else (t1 - t0),
            )
        else:
            algorithm = _core.FixedStepAlgorithm(method, step, order_index or [])
        return SystemRun(
            self,
            algorithm,
            t0,
            t1,
            recorded,
            output_times,
            signals,
            per_instance,
            grid=None if method == "variable" else step,
            loop=(loop_tolerance, max_loop_iterations, loop_solver == "newton"),
            solver=(solver, solver_rtol, solver_atol, step),
        )

    def simulate(
        self,
        stop_time: float,
        step: float,
        *,
        progress: bool | Callable[[float, float], None] = False,
        real_time_factor: float = 0.0,
        strict: bool = False,
        isolate: bool = False,
        timeout: float | None = None,
        **options: Any,
    ) -> SimulationResult:
        """Simulates the system to ``stop_time`` and returns the recorded result.

        Options as :meth:`start`; ``real_time_factor`` > 0 paces simulated time to wall-clock
        time; ``progress``: True for a progress bar, or a callback ``f(time, stop_time)``.
        ``strict``: a recorded NaN raises FmuError (default: a RuntimeWarning naming the
        variable and time). An FMU asking to terminate ends the run there (the result's
        ``terminated_by_fmu``); Ctrl-C raises :class:`fmitwin.SimulationInterrupted` carrying
        the rows recorded so far.
        ``isolate=True`` runs it in a worker process (:mod:`fmitwin.isolation`): an FMU that
        crashes, or a run longer than ``timeout`` seconds, gives an FmuError with the log.
        """
        if isolate:
            if callable(progress):
                raise ValueError("progress: a callback cannot run in an isolated worker")
            from fmitwin.isolation import run_isolated

            return run_isolated(
                self.simulate,
                stop_time,
                step,
                what=f"system {self.name!r}",
                timeout=timeout,
                progress=progress,
                real_time_factor=real_time_factor,
                strict=strict,
                **options,
            )
        if timeout is not None:
            raise ValueError("timeout: applies to isolated runs only (isolate=True)")
        run = self.start(step, stop_time=stop_time, **options)
        try:
            run.real_time_factor = real_time_factor
            try:
                run.advance_to(stop_time, progress=progress)
            except KeyboardInterrupt as interrupt:
                raise SimulationInterrupted(run.result()) from interrupt
            result = run.result()
        finally:
            run.close()
        report_nan(result, f"system {self.name!r}", strict)
        return result

    def _recorded(self, outputs: Sequence[str] | None) -> list[tuple[str, str]]:
        """(column name, "instance.variable") pairs to record."""
        if isinstance(outputs, str):
            raise TypeError("outputs: give a list of names, not a single string")
        if outputs is None:
            if self.outputs:
                return list(self.outputs.items())
            return [
                (f"{i.name}.{v.name}", f"{i.name}.{v.name}")
                for i in self.instances.values()
                for v in i.model.outputs
                if v.kind in _CORE_TYPES
            ]
        chosen = []
        for name in outputs:
            source = self.outputs.get(name, name)
            var = self.variable(source, argument="outputs")
            if var.kind not in _CORE_TYPES:
                raise TypeError(f"outputs: {name} is {var.type}; only real, integer, boolean")
            chosen.append((name, source))
        return chosen

    def _signals(
        self, inputs: Any, start_values: Mapping[str, Mapping[str, Any]]
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(instance input, times, values) for every instance input a system input drives.

        A system input given no values holds its first target's start value (so that a run can
        replace it later, e.g. in a what-if branch).
        """
        table = self._checked_inputs(inputs)
        signals = []
        for name, targets in self.inputs.items():
            if name in table:
                times, values = table[name]
            else:
                instance, variable = _split(targets[0], "inputs")
                start = start_values[instance].get(variable, self.variable(targets[0]).start)
                times, values = np.zeros(1), np.array([float(start or 0.0)])
            signals.extend((target, times, values) for target in targets)
        return signals

    def _checked_inputs(self, inputs: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        table = read_signals(inputs)
        unknown = set(table) - set(self.inputs)
        if unknown:
            raise KeyError(
                f"inputs: no system input {', '.join(sorted(unknown))} "
                f"(system inputs: {', '.join(self.inputs) or 'none'}; add_input() first)"
            )
        return table

    def __repr__(self) -> str:
        return (
            f"System({self.name!r}: {len(self.instances)} instances, "
            f"{len(self.connections)} connections)"
        )


def _require_grid(length: float, step: float, argument: str) -> None:
    n = round(length / step)
    if n < 1 or abs(n * step - length) > 1e-9 * max(abs(length), step):
        raise ValueError(
            f"{argument}: {length} is not a whole number of steps of {step}; fixed-step methods "
            "need it on the step grid"
        )


class Checkpoint:
    """A saved state of a :class:`SystemRun` (``time`` is when it was taken).

    It keeps its run's FMUs alive while it exists and frees its saved FMU states before them.
    """

    def __init__(self, core: Any, run: SystemRun):
        self._core = core
        self._run = run

    @property
    def time(self) -> float:
        return self._core.time

    def __del__(self) -> None:
        # drop the saved FMU states while the run (and so its FMUs) is certainly still alive
        self._core = None

    def __repr__(self) -> str:
        return f"Checkpoint(time={self.time})"


class SystemRun:
    """A started co-simulation: advance it, read its result, checkpoint and restore it.

    Created by :meth:`System.start`. ``time`` is the current communication point. Instances are
    freed by :meth:`close` (also on garbage collection).
    """

    def __init__(
        self,
        system: System,
        algorithm: Any,
        start_time: float,
        stop_time: float,
        recorded: list[tuple[str, str]],
        output_times: np.ndarray,
        signals: list[tuple[str, np.ndarray, np.ndarray]],
        start_values: dict[str, dict[str, Any]],
        *,
        grid: float | None,
        loop: tuple[float, int, bool],
        solver: tuple[str, float, float, float],
    ):
        self.system = system
        self.stop_time = stop_time
        self._grid = grid
        self._fmu_instances: dict[str, Any] = {}
        self._checkpoints: weakref.WeakSet[Checkpoint] = weakref.WeakSet()
        self._closed = False
        try:
            for name, inst in system.instances.items():
                fmu_instance = inst.model.instantiate(
                    inst.kind,
                    instance_name=name,
                    logging=inst.logging,
                    start_values=start_values[name],
                )
                self._fmu_instances[name] = fmu_instance
                if inst.kind == "me":
                    method, rtol, atol, step = solver
                    rtol = inst.tolerance if inst.tolerance is not None else rtol
                    fmu_instance.simulator.configure_solver(method, rtol, atol, step)
                else:
                    tolerance = run_tolerance(inst.model, "cs", inst.tolerance)
                    fmu_instance.simulator.tolerance = tolerance or 0.0
            simulators = {n: i.simulator for n, i in self._fmu_instances.items()}
            core, index = system._build_core(simulators)
            core.set_loop_solver(
                rtol=loop[0], atol=loop[0] * 1e-2, max_iterations=loop[1], newton=loop[2]
            )
            self._index = index
            for target, times, values in signals:
                self._set_signal(core.set_input_signal, target, times, values)
            variables = [system.variable(source, argument="outputs") for _, source in recorded]
            self._columns = [(name, v) for (name, _), v in zip(recorded, variables, strict=True)]
            self._recorder = _core.Recorder(
                [
                    (index[_split(source, "outputs")[0]], v.value_reference, _CORE_TYPES[v.kind])
                    for (_, source), v in zip(recorded, variables, strict=True)
                ],
                output_times.tolist(),
            )
            self._algorithm = algorithm
            self._execution = _core.Execution(core, algorithm)
            self._execution.add_observer(self._recorder)
            for name, fmu_instance in self._fmu_instances.items():
                try:
                    fmu_instance.initialize(start_time, stop_time, start_values=start_values[name])
                except FmuError as exc:
                    raise FmuError(f"instance {name!r}: {exc}") from exc
            with self._fmu_errors():
                self._execution.initialize(start_time, stop_time, set_up_simulators=False)
        except BaseException:
            self.close()
            raise

    def _set_signal(self, setter: Any, target: str, times: np.ndarray, values: np.ndarray) -> None:
        var = self.system.variable(target, argument="inputs")
        interpolation = "linear" if var.kind == "real" else "hold"
        setter(
            self._index[_split(target, "inputs")[0]],
            var.value_reference,
            _CORE_TYPES[var.kind],
            times.tolist(),
            values.tolist(),
            interpolation,
        )

    @property
    def time(self) -> float:
        return self._execution.time

    def set_input(self, name: str, value: Any) -> None:
        """Replaces system input ``name`` from now on: a constant or ``(times, values)``.

        Takes effect at the current communication point (a multi-rate instance: at its next
        one); with :meth:`restore` it branches what-if runs from a checkpoint.
        """
        self._require_open()
        ((times, values),) = self.system._checked_inputs({name: value}).values()
        for target in self.system.inputs[name]:
            self._set_signal(self._execution.set_input_signal, target, times, values)

    @property
    def real_time_factor(self) -> float:
        """0: as fast as possible; f > 0: simulated time runs f times as fast as wall-clock time."""
        return self._execution.real_time_factor

    @real_time_factor.setter
    def real_time_factor(self, factor: float) -> None:
        self._execution.real_time_factor = float(factor)

    @property
    def rejected_steps(self) -> int:
        """Steps the variable-step method rolled back (0 for fixed step)."""
        return getattr(self._algorithm, "rejected_steps", 0)

    def advance_to(
        self, time: float, *, progress: bool | Callable[[float, float], None] = False
    ) -> float:
        """Runs to ``time`` (at most the stop time) in C++; returns the time reached."""
        self._require_open()
        time = float(time)
        if time > self.stop_time * (1 + 1e-12) + 1e-12:
            raise ValueError(f"time: {time} is past the run's stop_time {self.stop_time}")
        if progress is False:
            with self._fmu_errors():
                return self._execution.run_until(time)
        start = self.time
        chunks = np.linspace(start, time, 101)[1:]
        if self._grid is not None:  # fixed step: chunk ends on the step grid
            chunks = np.unique(start + np.round((chunks - start) / self._grid) * self._grid)
            chunks = chunks[chunks > start]
            chunks[-1] = time
        bar = None
        if progress is True:
            from tqdm import tqdm

            bar = tqdm(total=time - start, unit="s", desc="co-simulating", leave=False)
        try:
            for target in chunks:
                before = self.time
                with self._fmu_errors():
                    self._execution.run_until(target)
                if bar is not None:
                    bar.update(self.time - before)
                elif callable(progress):
                    progress(self.time, time)
        finally:
            if bar is not None:
                bar.close()
        return self.time

    def stop(self) -> None:
        """Asks a running :meth:`advance_to` (in another thread) to return at its next step."""
        self._execution.request_stop()

    def checkpoint(self) -> Checkpoint:
        """A snapshot of the whole system (every FMU state, the coupling values and the time).

        Restore it any number of times with :meth:`restore` to branch what-if runs.
        """
        self._require_open()
        checkpoint = Checkpoint(self._execution.checkpoint(), self)
        self._checkpoints.add(checkpoint)
        return checkpoint

    def restore(self, checkpoint: Checkpoint) -> None:
        """Puts the run back to ``checkpoint``; results recorded after it are dropped."""
        self._require_open()
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError("checkpoint: give an object returned by SystemRun.checkpoint()")
        with self._fmu_errors():
            self._execution.restore(checkpoint._core)

    def result(self) -> SimulationResult:
        """The recorded rows so far, as a named result (``time`` plus one column per output)."""
        values = self._recorder.values()
        data = np.zeros(
            len(values),
            dtype=[("time", np.float64)] + [(name, _DTYPES[v.kind]) for name, v in self._columns],
        )
        data["time"] = self._recorder.times()
        for j, (name, _) in enumerate(self._columns):
            data[name] = values[:, j]
        units = {name: v.unit for name, v in self._columns}
        return SimulationResult(data, units, self.termination is not None)

    @property
    def termination(self) -> tuple[str, float] | None:
        """(instance, time) once an FMU asked to end the simulation, else None.

        The run then ends cleanly: at that time when the instance reached the end of its step
        (the step completes, its row is recorded), else at the last communication point every
        instance reached; :meth:`advance_to` returns the time reached and advances no further.
        """
        return self._execution.termination

    def close(self) -> None:
        """Frees the FMU instances (idempotent); the run cannot advance afterwards."""
        self._closed = True
        # Saved FMU states are freed through their FMU, so they go first.
        for checkpoint in list(self._checkpoints):
            checkpoint._core.release()
        for fmu_instance in self._fmu_instances.values():
            fmu_instance.free()
        self._fmu_instances = {}

    @contextlib.contextmanager
    def _fmu_errors(self) -> Iterator[None]:
        """Turns the core's FMU errors into FmuError with the FMU file and its log messages."""
        try:
            yield
        except _core.FmuError as exc:
            match = re.search(r"instance '([^']+)'", str(exc))
            fmu_instance = self._fmu_instances.get(match.group(1)) if match else None
            if fmu_instance is None:
                raise FmuError(str(exc)) from exc
            raise fmu_instance.error(str(exc)) from exc

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                "this run is closed (its FMU instances are freed); start() a new one"
            )

    def __enter__(self) -> SystemRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
