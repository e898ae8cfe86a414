"""Parametric degradation models with Bayesian updating: exponential and linear paths.

Both models are linear in their parameters after a transform g of the degradation signal S:

* exponential: S(t) = phi + theta exp(beta t + eps), g(S) = ln(S - phi) = ln(theta) + beta t + eps
* linear:      S(t) = a + b t + eps,                 g(S) = S

with eps ~ N(0, sigma^2) independent per observation and (a, b) = (ln theta, beta) or (a, b)
jointly Gaussian. The prior N(m0, C0), sigma and the failure threshold D are fitted from a fleet's
run-to-failure histories (``fit``); each observation of the monitored unit updates the posterior in
closed form (conjugate Gaussian). RUL is the time until the path g crosses g(D), a
``CrossingTimeRUL``: online with ``update``/``rul``, or for a whole history with ``predict_rul``
(the ``RULModel`` interface). A one-sided slope test on the unit's own data (``SlopeDetector``)
gates the RUL: no RUL is claimed before degradation is detected.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from fmitwin.maintenance.rul import CrossingTimeRUL

__all__ = [
    "ExponentialDegradationModel",
    "LinearDegradationModel",
    "SlopeDetector",
    "check_history",
]


def check_history(
    times: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, name: str = "history"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one time series: 1-D, equal lengths, non-empty, finite, strictly increasing time.

    Returns float arrays; raises ``ValueError`` naming ``name`` and the fix otherwise.
    """
    t = np.asarray(times, dtype=float)
    s = np.asarray(values, dtype=float)
    if t.ndim != 1 or s.ndim != 1 or t.shape != s.shape:
        raise ValueError(
            f"{name}: times and values must be 1-D arrays of equal length "
            f"(got shapes {t.shape} and {s.shape})"
        )
    if t.size == 0:
        raise ValueError(f"{name} is empty: give at least one (time, value) observation")
    if not (np.isfinite(t).all() and np.isfinite(s).all()):
        bad = int(np.flatnonzero(~(np.isfinite(t) & np.isfinite(s)))[0])
        raise ValueError(
            f"{name} has a NaN/inf at index {bad}: drop or interpolate missing samples first"
        )
    if t.size > 1 and np.any(np.diff(t) <= 0):
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise ValueError(
            f"{name}: time is not strictly increasing at index {bad} "
            f"({t[bad - 1]!r} then {t[bad]!r}); sort by time and remove duplicates"
        )
    return t, s


@dataclass(frozen=True)
class SlopeDetector:
    """Degradation onset test: the unit's own least-squares slope of g(S) over time is positive
    with one-sided significance ``alpha`` (t-test), from at least ``min_points`` observations."""

    alpha: float = 0.05
    min_points: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"SlopeDetector alpha={self.alpha!r} must lie in (0, 1), e.g. 0.05")
        if self.min_points < 3:
            raise ValueError(f"SlopeDetector min_points={self.min_points!r} must be at least 3")

    def detected(self, times: np.ndarray, g: np.ndarray) -> bool:
        n = times.size
        if n < self.min_points:
            return False
        tc = times - times.mean()
        sxx = float(tc @ tc)
        slope = float(tc @ (g - g.mean())) / sxx
        residual = g - g.mean() - slope * tc
        dof = n - 2
        stderr = np.sqrt(max(float(residual @ residual) / dof, 1e-300) / sxx)
        return bool(stats.t.sf(slope / stderr, dof) < self.alpha)


class _GaussianPathModel:
    """Shared machinery: g(S) = a + b t + eps with a Gaussian prior on (a, b), known sigma."""

    def __init__(
        self,
        threshold: float,
        prior_mean: Sequence[float],
        prior_cov: np.ndarray,
        noise_std: float,
        slope_detector: SlopeDetector | None = None,
    ) -> None:
        prior_mean = np.asarray(prior_mean, dtype=float)
        prior_cov = np.asarray(prior_cov, dtype=float)
        if prior_mean.shape != (2,) or prior_cov.shape != (2, 2):
            raise ValueError("prior_mean must have shape (2,) and prior_cov shape (2, 2)")
        if not np.allclose(prior_cov, prior_cov.T) or np.linalg.eigvalsh(prior_cov).min() <= 0:
            raise ValueError("prior_cov must be symmetric positive definite")
        if not (np.isfinite(noise_std) and noise_std > 0):
            raise ValueError(f"noise_std={noise_std!r} must be a positive finite number")
        if not np.isfinite(threshold):
            raise ValueError(f"threshold={threshold!r} must be finite")
        self.threshold = float(threshold)
        self.prior_mean = prior_mean
        self.prior_cov = prior_cov
        self.noise_std = float(noise_std)
        self.slope_detector = slope_detector or SlopeDetector()
        self._threshold_g = float(self._transform(np.array([self.threshold]), "threshold")[0])
        self.reset()

    # --- transform to the linear space (subclasses) -------------------------------------------
    def _transform(self, s: np.ndarray, name: str) -> np.ndarray:
        raise NotImplementedError

    def _inverse(self, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _slope(self, s: np.ndarray) -> np.ndarray:
        """dg/dS at s."""
        raise NotImplementedError

    # --- fleet fit ------------------------------------------------------------------------------
    @staticmethod
    def _fleet_prior(
        histories: list[tuple[np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-unit least squares of g on t; prior = mean and covariance of the unit estimates,
        sigma = pooled residual standard deviation."""
        estimates, squared, dof = [], 0.0, 0
        for t, g in histories:
            design = np.column_stack([np.ones_like(t), t])
            coef, *_ = np.linalg.lstsq(design, g, rcond=None)
            residual = g - design @ coef
            estimates.append(coef)
            squared += float(residual @ residual)
            dof += t.size - 2
        estimates = np.asarray(estimates)
        cov = np.cov(estimates, rowvar=False) + 1e-12 * np.eye(2)
        return estimates.mean(axis=0), cov, float(np.sqrt(squared / dof))

    @staticmethod
    def _check_fleet(histories: Sequence[tuple[Sequence[float], Sequence[float]]]) -> list:
        if len(histories) < 3:
            raise ValueError(
                f"fit needs run-to-failure histories of at least 3 units (got {len(histories)})"
            )
        checked = [check_history(t, s, f"histories[{i}]") for i, (t, s) in enumerate(histories)]
        short = [i for i, (t, _) in enumerate(checked) if t.size < 3]
        if short:
            raise ValueError(f"histories {short} have fewer than 3 observations; drop them")
        return checked

    @staticmethod
    def _failure_level(checked: list[tuple[np.ndarray, np.ndarray]]) -> float:
        """Default failure threshold: the median last value (S at failure) of the fleet."""
        return float(np.median([s[-1] for _, s in checked]))

    # --- per-unit Bayesian updating -------------------------------------------------------------
    def reset(self) -> None:
        """Forget the monitored unit's observations (back to the fleet prior)."""
        self._info = np.linalg.inv(self.prior_cov)
        self._info_mean = self._info @ self.prior_mean
        self._times: list[float] = []
        self._g: list[float] = []

    def update(
        self,
        times: float | Sequence[float],
        values: float | Sequence[float],
        std: float | Sequence[float] | None = None,
    ) -> None:
        """Condition on observations (one or many) of the monitored unit, in time order.

        Posterior precision C^-1 = C0^-1 + X^T W X, mean = C (C0^-1 m0 + X^T W g) with rows
        X = [1, t] and weights W = 1 / (sigma^2 + (g'(S) std)^2): ``std`` is the standard
        deviation of each value when it is itself an estimate (e.g. a twin's state with its
        Kalman covariance), propagated to g by the delta method. A rejected call (bad input, time
        going back) changes nothing.
        """
        t, s = check_history(np.atleast_1d(times), np.atleast_1d(values), "update")
        if self._times and t[0] <= self._times[-1]:
            raise ValueError(
                f"update: time {t[0]!r} is not after the last observation {self._times[-1]!r}; "
                "observations must arrive in increasing time"
            )
        variance = np.full(t.shape, self.noise_std**2)
        if std is not None:
            std = np.broadcast_to(np.asarray(std, dtype=float), t.shape)
            if not (np.isfinite(std).all() and (std >= 0).all()):
                raise ValueError("update: std must be finite and non-negative, one per value")
            variance = variance + (self._slope(s) * std) ** 2
        g = self._transform(s, "update")
        design = np.column_stack([np.ones_like(t), t])
        self._info = self._info + design.T @ (design / variance[:, None])
        self._info_mean = self._info_mean + design.T @ (g / variance)
        self._times.extend(t.tolist())
        self._g.extend(g.tolist())

    @property
    def posterior_cov(self) -> np.ndarray:
        return np.linalg.inv(self._info)

    @property
    def posterior_mean(self) -> np.ndarray:
        return np.linalg.solve(self._info, self._info_mean)

    @property
    def degradation_detected(self) -> bool:
        return self.slope_detector.detected(np.asarray(self._times), np.asarray(self._g))

    def predict(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """Posterior-mean path S at ``times``."""
        a, b = self.posterior_mean
        return self._inverse(a + b * np.asarray(times, dtype=float))

    def rul(self, now: float | None = None, *, force: bool = False) -> CrossingTimeRUL | None:
        """RUL distribution at time ``now`` (default: the last observation).

        Returns None while degradation is not detected (see ``SlopeDetector``) unless ``force``.
        """
        if now is None:
            if not self._times:
                raise ValueError("rul: no observation yet; pass now= or call update() first")
            now = self._times[-1]
        if not force and not self.degradation_detected:
            return None
        return CrossingTimeRUL(self.posterior_mean, self.posterior_cov, self._threshold_g, now)

    def conditioned(
        self, times: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray
    ) -> _GaussianPathModel:
        """A copy of the fleet model conditioned on one unit's whole history (times, values);
        this model's own online state (``update``/``rul``) is left as it was."""
        unit = copy.copy(self)
        unit.reset()
        unit.update(times, values)
        return unit

    def predict_rul(
        self, times: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray
    ) -> CrossingTimeRUL | None:
        """``RULModel`` interface: RUL at the history's last time (None while degradation is
        not detected)."""
        return self.conditioned(times, values).rul()


class LinearDegradationModel(_GaussianPathModel):
    """S(t) = a + b t + eps, failing when S reaches ``threshold`` (S rises with degradation)."""

    def _transform(self, s: np.ndarray, name: str) -> np.ndarray:
        return s

    def _inverse(self, g: np.ndarray) -> np.ndarray:
        return g

    def _slope(self, s: np.ndarray) -> np.ndarray:
        return np.ones_like(s)

    @classmethod
    def fit(
        cls,
        histories: Sequence[tuple[Sequence[float], Sequence[float]]],
        threshold: float | None = None,
        slope_detector: SlopeDetector | None = None,
    ) -> LinearDegradationModel:
        """Fleet prior from run-to-failure ``histories`` [(times, S), ...] (each ends at failure);
        ``threshold`` defaults to the median S at failure."""
        checked = cls._check_fleet(histories)
        mean, cov, sigma = cls._fleet_prior(checked)
        threshold = cls._failure_level(checked) if threshold is None else threshold
        return cls(threshold, mean, cov, sigma, slope_detector)


class ExponentialDegradationModel(_GaussianPathModel):
    """S(t) = phi + theta exp(beta t + eps), failing when S reaches ``threshold``.

    Parameters (a, b) = (ln theta, beta); S must stay above ``phi``.
    """

    def __init__(
        self,
        threshold: float,
        phi: float,
        prior_mean: Sequence[float],
        prior_cov: np.ndarray,
        noise_std: float,
        slope_detector: SlopeDetector | None = None,
    ) -> None:
        if not np.isfinite(phi):
            raise ValueError(f"phi={phi!r} must be finite")
        self.phi = float(phi)
        super().__init__(threshold, prior_mean, prior_cov, noise_std, slope_detector)

    def _transform(self, s: np.ndarray, name: str) -> np.ndarray:
        if np.any(s <= self.phi):
            raise ValueError(
                f"{name}: value {float(s.min())!r} is not above the model offset phi={self.phi!r}; "
                "the exponential model needs S > phi (refit with a lower phi)"
            )
        return np.log(s - self.phi)

    def _inverse(self, g: np.ndarray) -> np.ndarray:
        return self.phi + np.exp(g)

    def _slope(self, s: np.ndarray) -> np.ndarray:
        return 1.0 / np.maximum(s - self.phi, 1e-300)

    @classmethod
    def fit(
        cls,
        histories: Sequence[tuple[Sequence[float], Sequence[float]]],
        threshold: float | None = None,
        phi: float | None = None,
        slope_detector: SlopeDetector | None = None,
    ) -> ExponentialDegradationModel:
        """Fleet prior from run-to-failure ``histories`` [(times, S), ...] (each ends at failure).

        ``phi`` defaults to its profile maximum-likelihood value: for a trial phi each unit's
        ln(S - phi) is fitted by least squares, and the Gaussian log-likelihood of S (including
        the Jacobian -sum ln(S - phi)) is maximised over phi < min S. ``threshold`` defaults to
        the median S at failure.
        """
        checked = cls._check_fleet(histories)
        s_all = np.concatenate([s for _, s in checked])
        lowest, spread = float(s_all.min()), float(np.ptp(s_all)) or 1.0
        if phi is None:

            def negative_log_likelihood(trial: float) -> float:
                logs = [(t, np.log(s - trial)) for t, s in checked]
                _, _, sigma = cls._fleet_prior(logs)
                return s_all.size * np.log(sigma) + sum(float(g.sum()) for _, g in logs)

            phi = float(
                optimize.minimize_scalar(
                    negative_log_likelihood,
                    bounds=(lowest - 10.0 * spread, lowest - 1e-6 * spread),
                    method="bounded",
                ).x
            )
        elif phi >= lowest:
            raise ValueError(f"phi={phi!r} must lie below every observed value (min {lowest!r})")
        mean, cov, sigma = cls._fleet_prior([(t, np.log(s - phi)) for t, s in checked])
        threshold = cls._failure_level(checked) if threshold is None else threshold
        return cls(threshold, phi, mean, cov, sigma, slope_detector)
