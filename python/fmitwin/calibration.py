"""Model updating: fit FMU parameters to recorded data offline, and recalibrate online.

Offline (``calibrate``): nonlinear least squares (``scipy.optimize.least_squares``) over FMU
simulations. With p parameters, m residuals r = (y_sim - y_data) / scale and Jacobian J at the
optimum, the covariance of the estimates is s^2 (J^T J)^-1 with s^2 = |r|^2 / (m - p), and the
standard errors are its root diagonal. The Jacobian is built from forward differences, one
simulation per parameter, run in ``workers`` processes at once. The fit stays inside the bounds
the FMU declares; measured data in a DataFrame is matched to the outputs by column name;
parameters the data cannot separate (a near-singular J^T J) are named in the result; robust
losses (``loss="soft_l1"`` ...) bound the weight of outliers.

Online (``OnlineRecalibrator``): an augmented-state EKF (parameters appended to the state, held
constant by a tiny process noise), typically the FMU-backed one from
``fmitwin.fmu_models(fmu, measurements=..., parameters=[...]).filter(...)``, runs on live
measurements; a divergence detector on the normalised innovation squared (NIS) opens a
recalibration window in which the parameters' process noise is raised so the filter re-learns
them, and the window is recorded as an event with the parameters before and after. Its predict
and update are :class:`AugmentedStep`, which the live synchronizer runs too.
"""

from __future__ import annotations

import inspect
import math
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import optimize, stats

__all__ = [
    "AugmentedStep",
    "CalibrationResult",
    "FmuSimulation",
    "ModelFailure",
    "NisDivergenceDetector",
    "OnlineRecalibrator",
    "RecalibrationEvent",
    "calibrate",
]


class FmuSimulation:
    """Picklable ``simulate(parameters: dict) -> (T, k) outputs at times`` for one FMU.

    Runs ``fmitwin.simulate`` (stepping in C++) from ``times[0]`` to ``times[-1]`` with
    communication step min(diff(times)), recording ``outputs`` and interpolating them onto
    ``times``. ``fixed`` start values apply to every run, the calibrated ``parameters`` on top of
    them; ``inputs`` are input signals as ``fmitwin.simulate`` takes them; ``options`` go to
    ``fmitwin.simulate`` (kind, solver, rtol, ...). The FMU is loaded once per process.
    """

    def __init__(
        self,
        fmu: str | os.PathLike[str],
        outputs: Sequence[str],
        times: Sequence[float],
        *,
        fixed: Mapping[str, float] | None = None,
        inputs: Any = None,
        **options: Any,
    ) -> None:
        self.fmu = os.fspath(fmu)
        self.outputs = list(outputs)
        self.times = np.asarray(times, dtype=float)
        if self.times.ndim != 1 or self.times.size < 2 or np.any(np.diff(self.times) <= 0):
            raise ValueError("FmuSimulation: times must be a strictly increasing 1-D array")
        self.fixed = dict(fixed or {})
        self.inputs = inputs
        from fmitwin.simulation import recorded_variables, simulate

        accepted = set(inspect.signature(simulate).parameters) - {"fmu", "stop_time", "step"}
        unknown = set(options) - accepted
        if unknown:
            raise TypeError(
                f"FmuSimulation: unknown option(s) {sorted(unknown)}; fmitwin.simulate takes "
                f"{sorted(accepted)}"
            )
        self.options = options
        # fmitwin.simulate's own checks, run now so that a bad name fails here, not in a worker
        model = self._load()
        recorded_variables(model, self.outputs)
        model.check_start_values(self.fixed)

    def parameter_bounds(self, name: str) -> tuple[float, float]:
        """(min, max) the FMU declares for ``name`` (-inf / inf where it declares none);
        :func:`calibrate` keeps the fit inside them."""
        from fmitwin.study import declared_range

        self._load().variable(name, argument="initial")
        return declared_range(self._load(), name)

    def _load(self) -> Any:
        if getattr(self, "_model", None) is None:
            from fmitwin.fmu import load_fmu

            self._model = load_fmu(self.fmu)
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        # a loaded FMU (binary, unzipped files) belongs to one process: workers load their own
        return {k: v for k, v in self.__dict__.items() if k != "_model"}

    def __call__(self, parameters: Mapping[str, float]) -> np.ndarray:
        from fmitwin.simulation import simulate

        result = simulate(
            self._load(),
            float(self.times[-1]),
            float(np.min(np.diff(self.times))),
            start_time=float(self.times[0]),
            inputs=self.inputs,
            outputs=self.outputs,
            start_values={**self.fixed, **{k: float(v) for k, v in parameters.items()}},
            **self.options,
        )
        return np.column_stack(
            [np.interp(self.times, result.time, result[name]) for name in self.outputs]
        )


@dataclass(frozen=True)
class CalibrationResult:
    """Estimates with standard errors, their covariance (p, p), and the fit's residuals (T, k)
    in the data's units (simulated minus measured; NaN where the data had no sample)."""

    names: tuple[str, ...]
    estimates: np.ndarray
    standard_errors: np.ndarray
    covariance: np.ndarray
    residuals: np.ndarray
    residual_std: float
    success: bool
    message: str
    simulations: int
    # parameters the data cannot tell apart (a direction of J^T J with a singular value below
    # identifiability_tolerance of the largest, in relative units): their standard errors are
    # inf, and the other parameters' are conditional on them
    unidentifiable: tuple[str, ...] = ()
    condition_number: float = 1.0  # of J^T J in relative parameter units
    loss: str = "linear"

    def as_dict(self) -> dict[str, tuple[float, float]]:
        """{name: (estimate, standard error)}."""
        return {
            n: (float(e), float(s))
            for n, e, s in zip(self.names, self.estimates, self.standard_errors, strict=True)
        }

    def summary(self) -> str:
        lines = [f"{'parameter':<20}{'estimate':>14}{'std error':>14}"]
        for name, (value, error) in self.as_dict().items():
            lines.append(f"{name:<20}{value:>14.6g}{error:>14.3g}")
        lines.append(f"residual std {self.residual_std:.4g} from {self.simulations} simulations")
        if self.unidentifiable:
            lines.append(
                f"not identifiable from these data: {', '.join(self.unidentifiable)} (J^T J "
                f"condition number {self.condition_number:.3g}); fix all but one of them, or "
                "add data that separates them"
            )
        return "\n".join(lines)


def _run(simulate: Callable[[Mapping[str, float]], np.ndarray], parameters: dict) -> np.ndarray:
    return np.asarray(simulate(parameters), dtype=float)


def calibrate(
    simulate: Callable[[Mapping[str, float]], np.ndarray],
    data: np.ndarray,
    initial: Mapping[str, float],
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    scale: Sequence[float] | np.ndarray | None = None,
    workers: int = 1,
    relative_step: float = 1e-4,
    max_simulations: int = 200,
    loss: str = "linear",
    f_scale: float | None = None,
    identifiability_tolerance: float = 1e-3,
) -> CalibrationResult:
    """Fit ``initial``'s parameters so that ``simulate(parameters)`` matches ``data``.

    ``simulate`` returns a (T, k) array (e.g. an ``FmuSimulation``); ``data`` is the measured
    (T, k) array on the same times, NaN where a sample is missing (an infinite value is an
    error), or a DataFrame whose columns are matched by name to ``simulate.outputs`` (any
    order; a ``time`` column or index must equal ``simulate.times``). ``scale`` (k,) divides
    each output's residual (default: each measured output's standard deviation) so outputs in
    different units weigh alike. ``bounds`` (name -> (low, high)) narrow the fit; the bounds
    the FMU declares (``simulate.parameter_bounds``) always apply. ``workers`` > 1 runs the
    Jacobian's simulations in that many processes (``simulate`` must then be picklable).

    ``loss``: "linear" (least squares), or a robust loss of ``scipy.optimize.least_squares``
    ("soft_l1", "huber", "cauchy", "arctan") for data with outliers; ``f_scale`` is the scaled
    residual beyond which it grows sub-quadratically (default: 1.4826 times the median absolute
    residual of a least-squares fit run first). The covariance is then s^2 (J^T W J)^-1 with
    W = rho'(z), z = (r / f_scale)^2, and s^2 = sum(W r^2) / (m - p).

    Parameters the data cannot tell apart (e.g. ``m`` and ``c_p`` of the tank, which only act
    through m c_p) are named in ``unidentifiable`` instead of failing the fit.
    """
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"calibrate: workers={workers!r} must be a positive integer")
    names = tuple(initial)
    if not names:
        raise ValueError("calibrate: initial must name at least one parameter to fit")
    x0 = np.array([float(initial[n]) for n in names])
    if not np.isfinite(x0).all():
        raise ValueError(f"calibrate: initial values must be finite, got {dict(initial)}")
    if loss not in _LOSSES:
        raise ValueError(f"calibrate: loss must be one of {', '.join(_LOSSES)}, got {loss!r}")
    if f_scale is not None and not (math.isfinite(f_scale) and f_scale > 0):
        raise ValueError(f"calibrate: f_scale={f_scale!r} must be a positive number")
    data = _data_array(simulate, data)
    if data.ndim == 1:
        data = data[:, None]
    if np.isinf(data).any():
        row, column = np.argwhere(np.isinf(data))[0]
        raise ValueError(
            f"calibrate: data has an infinite value (row {row}, column {column}); mark a "
            "missing sample with NaN, and check the logger for overflow"
        )
    observed = np.isfinite(data)
    if observed.sum() <= len(names):
        raise ValueError(
            f"calibrate: {int(observed.sum())} finite data points cannot determine "
            f"{len(names)} parameters; give more data"
        )
    if scale is None:
        scale = np.nanstd(data, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    scale = np.broadcast_to(np.asarray(scale, dtype=float), (data.shape[1],))
    bounds = dict(bounds or {})
    unknown = set(bounds) - set(names)
    if unknown:
        raise ValueError(f"calibrate: bounds given for parameters not fitted: {sorted(unknown)}")
    declared = getattr(simulate, "parameter_bounds", None)
    lower, upper = np.empty(len(names)), np.empty(len(names))
    for i, name in enumerate(names):
        low, high = bounds.get(name, (-np.inf, np.inf))
        fmu_low, fmu_high = declared(name) if declared is not None else (-np.inf, np.inf)
        lower[i], upper[i] = max(float(low), fmu_low), min(float(high), fmu_high)
        if not lower[i] <= x0[i] <= upper[i]:
            given = f"bounds ({low:g}, {high:g})" if name in bounds else "no bounds"
            raise ValueError(
                f"calibrate: the initial value {name} = {x0[i]:g} lies outside its bounds "
                f"[{lower[i]:g}, {upper[i]:g}] ({given}; the FMU declares "
                f"[{fmu_low:g}, {fmu_high:g}]); start inside them"
            )
    # optimise x / typical so that parameters of very different magnitude are steered alike
    typical = np.where(x0 != 0, np.abs(x0), 1.0)
    count = 0

    def residual_of(output: np.ndarray) -> np.ndarray:
        if output.shape != data.shape:
            raise ValueError(f"simulate returned shape {output.shape}; data has {data.shape}")
        return ((output - data) / scale)[observed]

    def parameters_at(u: np.ndarray) -> dict[str, float]:
        return dict(zip(names, (u * typical).tolist(), strict=True))

    cache: dict[bytes, np.ndarray] = {}

    def residuals(u: np.ndarray) -> np.ndarray:
        nonlocal count
        key = u.tobytes()
        if key not in cache:
            count += 1
            cache.clear()
            cache[key] = residual_of(_run(simulate, parameters_at(u)))
        return cache[key]

    def jacobian(u: np.ndarray) -> np.ndarray:
        nonlocal count
        base = residuals(u)
        steps = relative_step * np.maximum(np.abs(u), 1e-3)
        # step inwards at an upper bound so every trial stays feasible
        steps = np.where(u + steps > upper / typical, -steps, steps)
        trials = [u + np.eye(u.size)[i] * steps[i] for i in range(u.size)]
        outputs = _map(executor, simulate, [parameters_at(t) for t in trials])
        count += len(trials)
        return np.column_stack(
            [(residual_of(o) - base) / h for o, h in zip(outputs, steps, strict=True)]
        )

    executor = None
    if workers > 1:
        executor = ProcessPoolExecutor(workers, initializer=_install_worker, initargs=(simulate,))

    def fit_from(start: np.ndarray, loss: str, f_scale: float) -> Any:
        return optimize.least_squares(
            residuals,
            start,
            jac=jacobian,
            bounds=(lower / typical, upper / typical),
            max_nfev=max_simulations,
            x_scale="jac",
            loss=loss,
            f_scale=f_scale,
        )

    try:
        start = x0 / typical
        if loss != "linear" and f_scale is None:
            # the robust loss needs the noise level: from a least-squares fit's residuals
            first = fit_from(start, "linear", 1.0)
            start = first.x
            f_scale = 1.4826 * float(np.median(np.abs(first.fun))) or 1.0
        fit = fit_from(start, loss, 1.0 if f_scale is None else f_scale)
        final = residuals(fit.x)
        jac = jacobian(fit.x) / typical  # d residual / d parameter, in parameter units
    finally:
        if executor is not None:
            executor.shutdown()
    weights = _loss_weights(loss, final, 1.0 if f_scale is None else f_scale)
    dof = final.size - len(names)
    variance = float(weights @ final**2) / max(dof, 1)
    covariance, unidentifiable, condition = _covariance(
        jac * np.sqrt(weights)[:, None], typical, names, variance, identifiability_tolerance
    )
    full = np.full(data.shape, np.nan)
    full[observed] = final
    return CalibrationResult(
        names=names,
        estimates=fit.x * typical,
        standard_errors=np.sqrt(np.abs(np.diag(covariance))),
        covariance=covariance,
        residuals=full * scale,
        residual_std=float(np.sqrt(np.nanmean((full * scale) ** 2))),
        success=bool(fit.success),
        message=str(fit.message),
        simulations=count,
        unidentifiable=unidentifiable,
        condition_number=condition,
        loss=loss,
    )


_LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")


def _loss_weights(loss: str, residuals: np.ndarray, f_scale: float) -> np.ndarray:
    """rho'(z) at z = (r / f_scale)^2 for scipy's losses (1 for least squares)."""
    z = (residuals / f_scale) ** 2
    if loss == "soft_l1":
        return 1 / np.sqrt(1 + z)
    if loss == "huber":
        return np.where(z <= 1, 1.0, 1 / np.sqrt(np.maximum(z, 1)))
    if loss == "cauchy":
        return 1 / (1 + z)
    if loss == "arctan":
        return 1 / (1 + z**2)
    return np.ones_like(z)


def _covariance(
    jac: np.ndarray, typical: np.ndarray, names: tuple[str, ...], variance: float, tol: float
) -> tuple[np.ndarray, tuple[str, ...], float]:
    """(covariance (p, p), unidentifiable names, condition number of J^T J).

    ``jac`` (m, p) is d residual / d parameter; in relative units J_rel = J diag(typical) a
    right singular vector whose singular value is below ``tol`` times the largest is a
    direction the data cannot see: the parameters with a large share in it (|v_i| > 0.3) are
    unidentifiable and get infinite variance; the others' covariance is s^2 (J^T J)^-1 over
    their own columns."""
    relative = jac * typical
    singular, vectors = np.linalg.svd(relative, full_matrices=False)[1:]
    if singular.size == 0 or not np.all(np.isfinite(singular)) or singular[0] == 0:
        return np.full((len(names),) * 2, np.inf), names, math.inf
    condition = float((singular[0] / singular[-1]) ** 2) if singular[-1] > 0 else math.inf
    weak = vectors[singular < tol * singular[0]]
    blind = np.any(np.abs(weak) > 0.3, axis=0) if weak.size else np.zeros(len(names), bool)
    covariance = np.full((len(names),) * 2, np.inf)
    keep = np.flatnonzero(~blind)
    if keep.size:
        block = jac[:, keep]
        covariance[np.ix_(keep, keep)] = variance * np.linalg.pinv(block.T @ block)
    return covariance, tuple(n for n, b in zip(names, blind, strict=True) if b), condition


def _data_array(simulate: Any, data: Any) -> np.ndarray:
    """The measured data as a (T, k) array in the order of ``simulate.outputs``: a DataFrame's
    columns are matched by name (a ``time`` column or index must equal ``simulate.times``)."""
    if not hasattr(data, "columns"):
        return np.asarray(data, dtype=float)
    outputs = getattr(simulate, "outputs", None)
    if outputs is None:
        raise ValueError(
            "calibrate: data is a DataFrame but simulate names no outputs to match its columns; "
            "use an FmuSimulation, or give data as an array in simulate's column order"
        )
    frame = data
    times = None
    if "time" in frame.columns:
        times, frame = frame["time"].to_numpy(dtype=float), frame.drop(columns="time")
    elif frame.index.name == "time":
        times = frame.index.to_numpy(dtype=float)
    unknown = [c for c in frame.columns if c not in outputs]
    missing = [o for o in outputs if o not in frame.columns]
    if unknown or missing:
        raise ValueError(
            "calibrate: data columns must name the simulated outputs "
            f"({', '.join(outputs)}): "
            + "; ".join(
                part
                for part in (
                    unknown and f"unknown {', '.join(map(str, unknown))}",
                    missing and f"missing {', '.join(missing)}",
                )
                if part
            )
        )
    expected = getattr(simulate, "times", None)
    if times is not None and expected is not None:
        if times.shape != np.shape(expected) or not np.allclose(times, expected, rtol=1e-12):
            raise ValueError(
                "calibrate: the data's time column differs from simulate.times; resample the "
                "data onto the simulation times (or build the FmuSimulation on the data's times)"
            )
    return frame[list(outputs)].to_numpy(dtype=float)


# the simulation of a worker process, installed once by the pool initializer so that an FMU is
# loaded once per worker rather than once per task
_worker_simulate: Callable[[Mapping[str, float]], np.ndarray] | None = None


def _install_worker(simulate: Callable[[Mapping[str, float]], np.ndarray]) -> None:
    global _worker_simulate
    _worker_simulate = simulate


def _run_in_worker(parameters: dict) -> np.ndarray:
    assert _worker_simulate is not None, "worker started without _install_worker"
    return _run(_worker_simulate, parameters)


def _map(executor: Executor | None, simulate: Callable, parameter_sets: list[dict]) -> list:
    if executor is None:
        return [_run(simulate, p) for p in parameter_sets]
    return list(executor.map(_run_in_worker, parameter_sets))


@dataclass
class NisDivergenceDetector:
    """Flags a twin that no longer matches its plant: over the last ``window`` accepted updates
    the NIS values sum to a chi-square with sum(dof) degrees of freedom for a consistent filter;
    divergence when its upper tail probability falls below ``alpha``, i.e. when the sum exceeds
    ``chi2.ppf(1 - alpha, sum(dof))`` (:attr:`bound`). Shared by :class:`OnlineRecalibrator` and
    the live synchronizer's per-sensor monitors (dof = 1 per reading there).

    The sum is kept running (O(1) per update) and the bound is computed once per distinct dof.
    """

    window: int = 20
    alpha: float = 1e-3
    _recent: deque = field(init=False, repr=False)
    _bounds: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.window < 1 or not 0 < self.alpha < 1:
            raise ValueError("NisDivergenceDetector needs window >= 1 and 0 < alpha < 1")
        self._recent = deque(maxlen=self.window)
        self._bounds = {}
        self.total = 0.0  # sum of the NIS values in the window
        self.dof = 0  # sum of their degrees of freedom
        self._updates = 0

    def reset(self) -> None:
        self._recent.clear()
        self.total, self.dof = 0.0, 0

    @property
    def full(self) -> bool:
        return len(self._recent) == self.window

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def bound(self) -> float:
        """The chi-square quantile the window's sum is compared with."""
        if self.dof not in self._bounds:
            self._bounds[self.dof] = float(stats.chi2.ppf(1.0 - self.alpha, max(self.dof, 1)))
        return self._bounds[self.dof]

    @property
    def diverged(self) -> bool:
        return self.full and self.total > self.bound

    @property
    def passes(self) -> bool:
        """A full window consistent with the filter (e.g. to lift a quarantine)."""
        return self.full and self.total <= self.bound

    def update(self, nis: float, dof: int) -> bool:
        """Add one update's NIS with its ``dof`` measurements used; True when diverged."""
        if dof > 0 and math.isfinite(nis):
            if self.full:
                old_nis, old_dof = self._recent[0]
                self.total -= old_nis
                self.dof -= old_dof
            self._recent.append((nis, dof))
            self.total += nis
            self.dof += dof
            self._updates += 1
            if self._updates % self.window == 0:  # re-sum exactly: no rounding drift in long runs
                self.total = math.fsum(n for n, _ in self._recent)
        return self.diverged


def _state_entries(ekf: Any, entries: Sequence[str | int]) -> tuple[np.ndarray, tuple[str, ...]]:
    """(indices, names) of the EKF state entries given by name or index."""
    n = ekf.x.size
    names = tuple(getattr(ekf, "state_names", None) or (f"x{i}" for i in range(n)))
    if isinstance(entries, str) or len(entries) == 0:
        raise ValueError(f"parameters: give a list of state names or indices, got {entries!r}")
    indices = []
    for entry in entries:
        if isinstance(entry, str):
            if entry not in names:
                raise ValueError(
                    f"parameters: {entry!r} is not in the EKF state {names}; name an augmented "
                    "parameter (fmu_models(..., parameters=[...])) or give its index"
                )
            indices.append(names.index(entry))
        elif not 0 <= int(entry) < n:
            raise ValueError(f"parameters: index {entry} is outside the EKF state of size {n}")
        else:
            indices.append(int(entry))
    if len(set(indices)) != len(indices):
        raise ValueError(f"parameters: {list(entries)} names a state entry twice")
    index_array = np.asarray(indices, dtype=int)
    return index_array, tuple(names[i] for i in index_array)


@dataclass(frozen=True)
class RecalibrationEvent:
    """One online recalibration: when it ran (data time) and the parameters before and after."""

    started: float
    finished: float
    evidence: dict[str, Any]
    before: dict[str, float]
    after: dict[str, float]
    after_std: dict[str, float]


class RecalibrationWindow:
    """The recalibration window of an augmented-state EKF, shared by :class:`OnlineRecalibrator`
    and the live synchronizer.

    ``indices`` / ``names``: the parameter entries of the state. While the window is open the
    parameters' process noise grows by ``noise`` (variance per unit time, one per parameter or
    one for all) on top of the filter's own Q, so the parameters follow the data; ``duration``
    time units after it opened, ``close_if_due`` closes it and returns the
    :class:`RecalibrationEvent` with the parameters before and after and their standard
    deviations after.

    Call order, per filter step: ``inflate(Q, dt)`` on the Q given to ``predict``, then, after
    the update, ``close_if_due(time, x, P)``; ``open(time, evidence, x)`` whenever a divergence
    detector fires.
    """

    def __init__(
        self,
        indices: Sequence[int],
        names: Sequence[str],
        *,
        noise: Sequence[float] | float,
        duration: float,
    ) -> None:
        self.indices = np.asarray(indices, dtype=int)
        self.names = tuple(names)
        if len(self.names) != self.indices.size:
            raise ValueError(f"names {self.names} and indices {self.indices} differ in length")
        noise_array = np.asarray(noise, float)
        if noise_array.ndim > 1 or noise_array.size not in (1, self.indices.size):
            raise ValueError(
                f"noise: expected one variance rate or one per parameter ({len(self.names)}), "
                f"got {noise!r}"
            )
        if not (np.all(np.isfinite(noise_array)) and np.all(noise_array >= 0)):
            raise ValueError(f"noise: variance rates must be finite and >= 0, got {noise!r}")
        self.noise = np.broadcast_to(noise_array, self.indices.shape)
        if not duration > 0:
            raise ValueError(f"duration={duration!r} must be positive")
        self.duration = float(duration)
        self._open: tuple[float, dict, dict[str, float]] | None = None  # start, evidence, before

    @property
    def is_open(self) -> bool:
        return self._open is not None

    def parameters(self, x: np.ndarray) -> dict[str, float]:
        """The parameter entries of the state vector ``x`` (n,), by name."""
        return {n: float(x[i]) for n, i in zip(self.names, self.indices, strict=True)}

    def open(self, time: float, evidence: Mapping[str, Any] | None, x: np.ndarray) -> bool:
        """Open the window at data time ``time`` with the state ``x`` before; False (and
        nothing changes) if one is already open."""
        if self._open is not None:
            return False
        self._open = (float(time), dict(evidence or {}), self.parameters(x))
        return True

    def inflate(self, Q: np.ndarray, dt: float) -> np.ndarray:
        """``Q`` (n, n) with ``noise * dt`` added to the parameters' diagonal entries while the
        window is open (in place; returned for chaining)."""
        if self._open is not None:
            Q[self.indices, self.indices] += self.noise * dt
        return Q

    def close_if_due(self, time: float, x: np.ndarray, P: np.ndarray) -> RecalibrationEvent | None:
        """Close the window once ``duration`` has passed at data time ``time``; returns the
        event (state ``x`` (n,) and covariance ``P`` (n, n) after), else None."""
        if self._open is None or time - self._open[0] < self.duration:
            return None
        started, evidence, before = self._open
        self._open = None
        std = np.sqrt(np.clip(np.diag(P), 0.0, None))[self.indices]
        return RecalibrationEvent(
            started,
            float(time),
            evidence,
            before,
            self.parameters(x),
            dict(zip(self.names, std.tolist(), strict=True)),
        )


class ModelFailure(ArithmeticError):
    """The filter's state or covariance stopped being finite."""


class AugmentedStep:
    """The online predict-then-update step of an augmented-state EKF (estimated parameters
    appended to its state), shared by :class:`OnlineRecalibrator` and the live synchronizer.

    Process noise, the one rule: a predict over ``dt`` adds

        Q = Q_step + diag(q_rate) * scale * dt + [window open] diag(window.noise) * dt

    ``Q_step`` (n, n) is a covariance per predict call (the recalibrator's filter Q; None for
    none), ``q_rate`` (n,) variances per unit time (the live twin's ``[filter] Q``; the
    recalibrator's ``parameter_noise`` on the parameters), ``scale`` the caller's temporary
    inflation (the synchronizer's ``merge`` policy), and the :class:`RecalibrationWindow`'s
    noise applies to the parameters while it is open. A predict runs in steps of at most
    ``max_step``; ``dt = 0`` predicts nothing.

    ``update`` updates the filter, hands the result to ``observe`` (the caller's divergence
    detection, which may open the window), then closes the window when due and returns the
    :class:`RecalibrationEvent`. A predict or update that leaves a non-finite state or
    covariance raises :class:`ModelFailure`.
    """

    def __init__(
        self,
        q_rate: Sequence[float] | np.ndarray,
        *,
        Q_step: np.ndarray | None = None,
        window: RecalibrationWindow | None = None,
        max_step: float = math.inf,
    ) -> None:
        self.q_rate = np.asarray(q_rate, dtype=float)
        self.Q_step = None if Q_step is None else np.array(Q_step, dtype=float)
        self.window = window
        if not max_step > 0:
            raise ValueError(f"max_step={max_step!r} must be positive")
        self.max_step = float(max_step)

    def process_noise(self, dt: float, scale: float = 1.0) -> np.ndarray:
        """The Q (n, n) of one predict over ``dt`` (see the class docstring)."""
        Q = np.diag(self.q_rate * scale * dt)
        if self.Q_step is not None:
            Q += self.Q_step
        if self.window is not None:
            self.window.inflate(Q, dt)
        return Q

    def predict(self, ekf: Any, dt: float, u: np.ndarray | None = None, scale: float = 1.0) -> None:
        """Predict ``ekf`` over ``dt`` (with inputs ``u``), in steps of at most ``max_step``."""
        remaining = dt
        while remaining > 0:
            h = min(self.max_step, remaining)
            Q = self.process_noise(h, scale)
            if u is None:
                ekf.predict(h, Q=Q)
            else:
                ekf.predict(h, u, Q=Q)
            check_finite(ekf, "predict")
            remaining -= h

    def update(
        self,
        ekf: Any,
        time: float,
        z: np.ndarray,
        observe: Callable[[Any], None] | None = None,
        **options: Any,
    ) -> tuple[Any, RecalibrationEvent | None]:
        """Update ``ekf`` with ``z`` at data time ``time`` (``options`` go to ``ekf.update``),
        call ``observe(result)``, then close the window when due; returns (result, event)."""
        result = ekf.update(z, **options)
        check_finite(ekf, "update")
        if observe is not None:
            observe(result)
        event = None
        if self.window is not None:
            event = self.window.close_if_due(time, ekf.x, ekf.P)
        return result, event


def check_finite(ekf: Any, stage: str) -> None:
    """Raise :class:`ModelFailure` when ``ekf``'s state or covariance is not finite."""
    if not (np.all(np.isfinite(ekf.x)) and np.all(np.isfinite(ekf.P))):
        raise ModelFailure(f"the {stage} left a non-finite state or covariance")


class OnlineRecalibrator:
    """Runs an augmented-state EKF some of whose state entries (``parameters``) are parameters.

    ``parameters`` names them as the filter's ``state_names`` do (an FMU-backed filter names
    its augmented parameters after the FMU's), or gives their indices in the state. Normally the
    parameters' process noise is ``parameter_noise`` (per unit time, variances); when
    ``detector`` (default a ``NisDivergenceDetector()``) reports divergence, or an external
    detector calls ``trigger`` (``detector="external"`` relies on that alone), a
    :class:`RecalibrationWindow` adds ``recalibration_noise`` for ``duration`` time units, and
    the event is recorded in ``events`` with the parameters before and after.
    """

    def __init__(
        self,
        ekf: Any,
        parameters: Sequence[str | int],
        *,
        parameter_noise: Sequence[float] | float = 0.0,
        recalibration_noise: Sequence[float] | float,
        duration: float,
        detector: NisDivergenceDetector | Literal["external"] | None = None,
    ) -> None:
        self.ekf = ekf
        self.indices, self.names = _state_entries(ekf, parameters)
        q_rate = np.zeros(ekf.x.size)
        q_rate[self.indices] = np.broadcast_to(
            np.asarray(parameter_noise, float), self.indices.size
        )
        self.window = RecalibrationWindow(
            self.indices, self.names, noise=recalibration_noise, duration=duration
        )
        self.detector = None if detector == "external" else detector or NisDivergenceDetector()
        self.stepper = AugmentedStep(q_rate, Q_step=self.ekf.Q, window=self.window)
        self.events: list[RecalibrationEvent] = []

    def trigger(self, time: float, evidence: Mapping[str, Any] | None = None) -> bool:
        """Open a recalibration window at data time ``time`` (an external divergence detector
        calls this); False if one is already open."""
        return self.window.open(time, evidence, self.ekf.x)

    def divergence_sink(self, kind: str, fields: Mapping[str, Any]) -> None:
        """Event sink ``(kind, fields)``: a ``"divergence"`` event with time ``fields["t"]``
        triggers a recalibration; other events are ignored."""
        if kind == "divergence":
            self.trigger(float(fields["t"]), fields)

    @property
    def recalibrating(self) -> bool:
        return self.window.is_open

    def parameters(self) -> dict[str, float]:
        return self.window.parameters(self.ekf.x)

    def step(self, time: float, dt: float, z: np.ndarray, u: np.ndarray | None = None) -> Any:
        """Predict over ``dt`` (with ``u``), update with ``z`` at data time ``time`` (the shared
        :class:`AugmentedStep`); returns the filter's update result."""

        def observe(result: Any) -> None:
            if self.detector is None or self.window.is_open:
                return
            if self.detector.update(result.nis, int(np.count_nonzero(result.used))):
                self.trigger(time, {"nis": float(result.nis)})

        self.stepper.predict(self.ekf, dt, u)
        result, event = self.stepper.update(self.ekf, time, np.asarray(z, dtype=float), observe)
        if event is not None:
            self.events.append(event)
            if self.detector is not None:
                self.detector.reset()
        return result
