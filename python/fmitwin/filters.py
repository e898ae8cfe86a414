"""Kalman filtering on the compiled core: the extended Kalman filter, its batch mode and models.

The arithmetic runs in C++ (``fmitwin._core``); this module adds the keyword constructor, named
states and measurements, chi-square gate set-up, snapshots and the batch result type. Calls that
step the filter (``predict``, ``update``) go straight to C++ with no Python in between.

Shapes: n = ``dim_x`` states, m = ``dim_z`` measurements, k = ``dim_u`` inputs, T = steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fmitwin import _core

ProcessModel = _core.ProcessModel
MeasurementModel = _core.MeasurementModel
LinearProcessModel = _core.LinearProcessModel
LinearMeasurementModel = _core.LinearMeasurementModel
PythonProcessModel = _core.PythonProcessModel
PythonMeasurementModel = _core.PythonMeasurementModel
DampedPendulumModel = _core.DampedPendulumModel
UpdateResult = _core.UpdateResult

_STATE_KEYS = ("x", "P", "Q", "R", "u", "gate_probability")


def gate_thresholds(gate_probability: float | None, dim_z: int) -> list[float]:
    """NIS thresholds g_k = chi2.ppf(p, k) for k = 0..dim_z entries used (inf: no gate).

    An update using k measurement entries is rejected when its NIS exceeds g_k, which a
    consistent filter does with probability 1 - p.
    """
    if gate_probability is None:
        return [math.inf] * (dim_z + 1)
    p = float(gate_probability)
    if not 0.0 < p < 1.0:
        raise ValueError(f"gate_probability must be in (0, 1) or None, got {gate_probability!r}")
    from scipy.stats import chi2

    return [math.inf, *(float(g) for g in chi2.ppf(p, np.arange(1, dim_z + 1)))]


def _names(names: Sequence[str] | None, count: int, argument: str) -> tuple[str, ...] | None:
    if names is None:
        return None
    names = tuple(str(name) for name in names)
    if len(names) != count:
        raise ValueError(f"{argument} must name {count} entries, got {len(names)}: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"{argument} must be unique, got {names}")
    return names


def _check_model(model: Any, base: type, argument: str) -> None:
    if model is not None and not isinstance(model, base):
        raise TypeError(
            f"{argument} must be a fmitwin.{base.__name__} (e.g. Linear{base.__name__} or "
            f"Python{base.__name__}), got {type(model).__name__}"
        )


def _kept_model(compiled_class: type, name: str) -> property:
    """The compiled filter's model property ``name``, also keeping the model object alive.

    The compiled filter holds its models through C++ shared pointers only, which do not keep the
    Python side of a model alive (an FMU-backed model's FmuInstance owns the loaded FMU)."""
    compiled = getattr(compiled_class, name)

    def get(self: Any) -> Any:
        return compiled.__get__(self)

    def set_model(self: Any, model: Any) -> None:
        compiled.__set__(self, model)
        setattr(self, f"_{name}_object", model)

    return property(get, set_model, doc=f"The filter's {name.replace('_', ' ')}, or None.")


@dataclass(frozen=True)
class BatchResult:
    """Results of a filter's ``batch_filter`` over T steps.

    states (T, n) posterior means, or None when not recorded; covariances (T, n, n), their
    diagonals (T, n), or None; innovations (T, m) with NaN for entries not used; nis (T,) and
    log_likelihood (T,) with NaN for skipped updates; accepted (T,) True where the update was
    applied.
    """

    states: NDArray[np.float64] | None
    covariances: NDArray[np.float64] | None
    innovations: NDArray[np.float64]
    nis: NDArray[np.float64]
    log_likelihood: NDArray[np.float64]
    accepted: NDArray[np.bool_]


class _KalmanFilterAPI:
    """The Python side both Kalman filters share: set-up from keywords (``_compiled_args`` go on
    to the compiled class's constructor), named states and measurements, the chi-square gate,
    snapshots and the batch run (on the compiled class's ``x``, ``P``, ``Q``, ``R``, ``u``,
    ``gate_thresholds``, ``_set_state`` and ``_batch``)."""

    def __init__(
        self,
        dim_x: int,
        dim_z: int,
        *,
        x0: ArrayLike | None = None,
        P0: ArrayLike | None = None,
        Q: ArrayLike | None = None,
        R: ArrayLike | None = None,
        process_model: ProcessModel | None = None,
        measurement_model: MeasurementModel | None = None,
        gate_probability: float | None = None,
        state_names: Sequence[str] | None = None,
        measurement_names: Sequence[str] | None = None,
        _compiled_args: tuple[float, ...] = (),
    ) -> None:
        super().__init__(int(dim_x), int(dim_z), *_compiled_args)
        _check_model(process_model, ProcessModel, "process_model")
        _check_model(measurement_model, MeasurementModel, "measurement_model")
        self.state_names = _names(state_names, self.dim_x, "state_names")
        self.measurement_names = _names(measurement_names, self.dim_z, "measurement_names")
        if process_model is not None:
            self.process_model = process_model
        if measurement_model is not None:
            self.measurement_model = measurement_model
        if x0 is not None:
            self.x = x0
        if P0 is not None:
            self.P = P0
        if Q is not None:
            self.Q = Q
        if R is not None:
            self.R = R
        self.gate_probability = gate_probability

    @property
    def gate_probability(self) -> float | None:
        """Chi-square gate probability p, or None when updates are never gated."""
        return self._gate_probability

    @gate_probability.setter
    def gate_probability(self, p: float | None) -> None:
        self.gate_thresholds = gate_thresholds(p, self.dim_z)
        self._gate_probability = None if p is None else float(p)

    @property
    def std(self) -> NDArray[np.float64]:
        """Standard deviations sqrt(diag P) (n,)."""
        return np.sqrt(np.diag(self.P))

    def named_state(self) -> dict[str, float]:
        """The state as {state name: value} (names default to x0, x1, ...)."""
        names = self.state_names or tuple(f"x{i}" for i in range(self.dim_x))
        return dict(zip(names, self.x.tolist(), strict=True))

    def measurement_vector(self, values: Mapping[str, float]) -> NDArray[np.float64]:
        """z (m,) from {measurement name: value}; names left out become NaN (missing)."""
        if self.measurement_names is None:
            raise ValueError("measurement_vector() needs the filter's measurement_names")
        unknown = set(values) - set(self.measurement_names)
        if unknown:
            raise ValueError(
                f"unknown measurement names {sorted(unknown)}; known: {self.measurement_names}"
            )
        return np.array([values.get(name, np.nan) for name in self.measurement_names], float)

    def get_state(self) -> dict[str, Any]:
        """A snapshot {x, P, Q, R, u, gate_probability} of copies, for :meth:`set_state`."""
        return {
            "x": self.x,
            "P": self.P,
            "Q": self.Q,
            "R": self.R,
            "u": self.u,
            "gate_probability": self.gate_probability,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores a :meth:`get_state` snapshot; validated in full before anything changes."""
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise ValueError(f"state is missing {missing}; expected the keys {_STATE_KEYS}")
        thresholds = gate_thresholds(state["gate_probability"], self.dim_z)
        self._set_state(state["x"], state["P"], state["Q"], state["R"], state["u"])
        self.gate_thresholds = thresholds
        self._gate_probability = state["gate_probability"]

    def batch_filter(
        self,
        z: ArrayLike,
        dt: float | ArrayLike = 1.0,
        u: ArrayLike | None = None,
        *,
        quality: ArrayLike | None = None,
        states: bool = True,
        covariances: str = "full",
    ) -> BatchResult:
        """Runs T steps of predict(dt_t, u_t) then update(z_t, quality=q_t) in C++.

        Uses the filter's process and measurement models, Q and R; the GIL is released, and the
        extended filter with linear models and no input takes a compiled loop with no per-step
        overhead.

        Args:
            z: measurements (T, m); NaN entries are missing.
            dt: step length, a scalar or (T,).
            u: inputs (T, k), or None for zeros.
            quality: per-step quality (T,) in [0, 1], or None for 1.
            states: record the posterior means (T, n).
            covariances: ``"full"`` (T, n, n), ``"diagonal"`` (T, n) or ``"none"``.

        The filter ends at the last posterior; if any step fails, it is left as it was.
        """
        out = self._batch(z, dt, u, quality, bool(states), covariances)
        return BatchResult(**out)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim_x={self.dim_x}, dim_z={self.dim_z}, "
            f"x={np.array2string(self.x, precision=4)})"
        )


class ExtendedKalmanFilter(_KalmanFilterAPI, _core.ExtendedKalmanFilter):
    """Extended Kalman filter with state x (n,) and covariance P (n, n), in C++.

    Predict (``predict(dt, u)``): x <- f(x, u, dt), P <- F P F' + Q, with f and F = df/dx from
    the process model, or x <- F x for an explicit F.

    Update (``update(z)``): y = z - h(x), S = H P H' + R / q, K = P H' S^-1,
    x <- x + K y, P <- (I - K H) P (I - K H)' + K (R / q) K' (Joseph form, kept symmetric),
    with h and H = dh/dx from the measurement model, or h(x) = H x for an explicit H.
    NaN entries of z are left out of the update; quality q in [0, 1] scales R to R / q (0 skips).
    With ``gate_probability`` p, an update whose NIS y' S^-1 y exceeds the chi-square quantile
    chi2.ppf(p, k) for the k entries used is rejected and the estimate stays as it was.

    Args:
        dim_x: n, the number of states.
        dim_z: m, the number of measurement entries.
        x0: initial state (n,), default zeros.
        P0: initial covariance (n, n), symmetric positive definite, default identity.
        Q: process noise covariance per step (n, n), symmetric positive semi-definite, default
            identity.
        R: measurement noise covariance (m, m), symmetric positive definite, default identity.
        process_model: a :class:`ProcessModel` giving f and F (``LinearProcessModel``, a native
            C++ model, ``PythonProcessModel`` (slow path) or an FMU-backed model).
        measurement_model: a :class:`MeasurementModel` giving h and H.
        gate_probability: p in (0, 1) for chi-square outlier gating, or None for no gate.
        state_names, measurement_names: optional names of the n states / m measurements.

    Bad arguments raise ValueError / TypeError naming the argument, the expected and the actual
    shape; a rejected call leaves the filter exactly as it was.
    """

    process_model = _kept_model(_core.ExtendedKalmanFilter, "process_model")
    measurement_model = _kept_model(_core.ExtendedKalmanFilter, "measurement_model")


class UnscentedKalmanFilter(_KalmanFilterAPI, _core.UnscentedKalmanFilter):
    """Unscented Kalman filter with state x (n,) and covariance P (n, n), in C++.

    Carries the estimate through the models by 2n + 1 scaled sigma points (Van der Merwe) instead
    of Jacobians: lambda = alpha^2 (n + kappa) - n, L the lower Cholesky factor of
    (n + lambda) P, chi_0 = x, chi_{1+i} = x + L[:, i], chi_{1+n+i} = x - L[:, i], with weights
    Wm_0 = lambda / (n + lambda), Wc_0 = Wm_0 + 1 - alpha^2 + beta, Wm_i = Wc_i =
    1 / (2 (n + lambda)) (FilterPy's ``MerweScaledSigmaPoints``, same order).

    Predict (``predict(dt, u)``): chi_i <- f(chi_i, u, dt), x <- sum Wm_i chi_i,
    P <- sum Wc_i (chi_i - x)(chi_i - x)' + Q.

    Update (``update(z)``): sigma points drawn afresh from the current (x, P) (so an update
    depends on the current estimate alone), Z_i = h(chi_i), z^ = sum Wm_i Z_i,
    S = sum Wc_i (Z_i - z^)(Z_i - z^)' + R / q, Pxz = sum Wc_i (chi_i - x)(Z_i - z^)',
    K = Pxz S^-1, x <- x + K (z - z^), P <- P - K S K' (kept symmetric positive definite).
    NaN entries of z, quality q and ``gate_probability`` work as in
    :class:`ExtendedKalmanFilter`; models are asked for values only, never Jacobians.

    Args:
        dim_x, dim_z, x0, P0, Q, R, gate_probability, state_names, measurement_names: as for
            :class:`ExtendedKalmanFilter`.
        process_model: a :class:`ProcessModel` giving f (required for ``predict``).
        measurement_model: a :class:`MeasurementModel` giving h (required for ``update``).
        alpha: sigma point spread > 0 (small, e.g. 1e-3, keeps the points near x).
        beta: prior knowledge of the distribution (2 is optimal for a Gaussian).
        kappa: secondary scaling, with dim_x + kappa > 0 (0, or 3 - dim_x).

    Bad arguments raise ValueError / TypeError naming the argument, the expected and the actual
    shape; a rejected call leaves the filter exactly as it was.
    """

    def __init__(
        self,
        dim_x: int,
        dim_z: int,
        *,
        alpha: float = 1.0,
        beta: float = 2.0,
        kappa: float = 0.0,
        **settings: Any,
    ) -> None:
        super().__init__(
            dim_x, dim_z, _compiled_args=(float(alpha), float(beta), float(kappa)), **settings
        )

    process_model = _kept_model(_core.UnscentedKalmanFilter, "process_model")
    measurement_model = _kept_model(_core.UnscentedKalmanFilter, "measurement_model")


@dataclass(frozen=True)
class FleetResult:
    """Results of :meth:`FleetKalmanFilter.run` over T steps of N filters.

    nis (T, N) with NaN where an update was skipped; accepted (T, N) True where applied.
    """

    nis: NDArray[np.float64]
    accepted: NDArray[np.bool_]


class FleetKalmanFilter(_core.KalmanFleet):
    """N independent linear Kalman filters of the same dimensions, stepped together in C++.

    Every filter i has its own state x_i (n,) and covariance P_i (n, n) and shares the model:
    x_i <- F x_i, P_i <- F P_i F' + Q, then the same Joseph-form update as
    :class:`ExtendedKalmanFilter` with z_i = H x_i + v, v ~ N(0, R / q_i), NaN entries of z_i
    missing, q_i = 0 skipping, and optional chi-square gating. States are kept in contiguous
    arrays (``x`` is (N, n), ``P`` is (N, n, n)); :meth:`run` releases the GIL and can split the
    fleet over ``threads`` worker threads.

    Args:
        count: N, the number of filters.
        dim_x, dim_z: n states and m measurement entries per filter.
        F: state transition (n, n); H: measurement matrix (m, n).
        Q: process noise (n, n), default identity; R: measurement noise (m, m), default identity.
        x0: initial states (n,) for all or (N, n); default zeros.
        P0: initial covariances (n, n) for all or (N, n, n); default identity.
        gate_probability: chi-square gate probability in (0, 1), or None.
        threads: worker threads used by :meth:`run` (1: the calling thread).
    """

    def __init__(
        self,
        count: int,
        dim_x: int,
        dim_z: int,
        *,
        F: ArrayLike,
        H: ArrayLike,
        Q: ArrayLike | None = None,
        R: ArrayLike | None = None,
        x0: ArrayLike | None = None,
        P0: ArrayLike | None = None,
        gate_probability: float | None = None,
        threads: int = 1,
    ) -> None:
        super().__init__(int(count), int(dim_x), int(dim_z))
        self.F = F
        self.H = H
        if Q is not None:
            self.Q = Q
        if R is not None:
            self.R = R
        if x0 is not None:
            self.x = x0
        if P0 is not None:
            self.P = P0
        self.gate_thresholds = gate_thresholds(gate_probability, self.dim_z)
        self.threads = threads

    @property
    def threads(self) -> int:
        """Worker threads used by :meth:`run`."""
        return self._threads

    @threads.setter
    def threads(self, threads: int) -> None:
        if int(threads) != threads or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self._threads = int(threads)

    def run(self, z: ArrayLike, *, quality: ArrayLike | None = None) -> FleetResult:
        """T steps of predict then update for every filter; z (T, N, m), quality (T, N).

        If any filter fails (diverges), every filter is left as it was before the call.
        """
        nis, accepted = self._run(z, quality, self._threads)
        return FleetResult(nis=nis, accepted=accepted)

    def step(self, z: ArrayLike, *, quality: ArrayLike | None = None) -> FleetResult:
        """One predict + update for every filter; z (N, m), quality (N,); results are (N,)."""
        z = np.asarray(z, dtype=float)
        if z.shape != (self.count, self.dim_z):
            raise ValueError(f"z must have shape {(self.count, self.dim_z)}, got {z.shape}")
        if quality is not None:
            quality = np.asarray(quality, dtype=float)
            if quality.shape != (self.count,):
                raise ValueError(f"quality must have shape {(self.count,)}, got {quality.shape}")
            quality = quality[None]
        result = self.run(z[None], quality=quality)
        return FleetResult(nis=result.nis[0], accepted=result.accepted[0])

    def __repr__(self) -> str:
        return (
            f"FleetKalmanFilter(count={self.count}, dim_x={self.dim_x}, dim_z={self.dim_z}, "
            f"threads={self.threads})"
        )
