"""Remaining-useful-life distributions: median, intervals and probability of failure in a horizon.

Two families, one interface (``RULDistribution``):

* ``CrossingTimeRUL``: the failure time of a degradation path that is linear in time in some
  transformed space, ``g(S(t)) = a + b t`` with ``(a, b) ~ N(m, C)``, failing when it crosses
  ``g(D)``. Following Gebraeel et al. (2005), ``P(T <= t) = Phi((m_a + m_b t - g(D)) / sqrt(v(t)))``
  with ``v(t) = C_aa + 2 t C_ab + t^2 C_bb``, conditioned on survival up to the current time.
* ``EmpiricalRUL``: weighted RUL samples (similarity neighbours, calibrated errors, Monte Carlo);
  ``state_rul`` builds one from a twin's state estimate and a physical failure-time law.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

__all__ = ["CrossingTimeRUL", "EmpiricalRUL", "RULDistribution", "state_rul"]


class RULDistribution(ABC):
    """Distribution of the remaining useful life R >= 0 (in the time unit of the data)."""

    @abstractmethod
    def cdf(self, rul: float | np.ndarray) -> np.ndarray:
        """P(R <= rul)."""

    @abstractmethod
    def quantile(self, q: float) -> float:
        """Smallest r with P(R <= r) >= q; ``inf`` when the path may never fail that surely."""

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """Equal-tailed interval (low, high) holding R with probability ``level``."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level={level!r} must lie strictly between 0 and 1, e.g. 0.9")
        tail = (1.0 - level) / 2.0
        return self.quantile(tail), self.quantile(1.0 - tail)

    def probability_of_failure(self, horizon: float) -> float:
        """P(R <= horizon): probability that the asset fails within ``horizon`` from now."""
        if not horizon >= 0:
            raise ValueError(f"horizon={horizon!r} must be a non-negative duration")
        return float(self.cdf(horizon))


@dataclass(frozen=True)
class CrossingTimeRUL(RULDistribution):
    """RUL of a Gaussian-parameter path ``a + b t`` crossing ``level``, seen at time ``now``.

    ``mean`` (2,) and ``cov`` (2, 2) describe (a, b); the path degrades upwards (b > 0 fails).
    """

    mean: np.ndarray
    cov: np.ndarray
    level: float
    now: float

    def _failure_cdf(self, t: np.ndarray) -> np.ndarray:
        m_a, m_b = self.mean
        var = self.cov[0, 0] + 2.0 * t * self.cov[0, 1] + t * t * self.cov[1, 1]
        return special.ndtr((m_a + m_b * t - self.level) / np.sqrt(np.maximum(var, 1e-300)))

    def cdf(self, rul: float | np.ndarray) -> np.ndarray:
        rul = np.maximum(np.asarray(rul, dtype=float), 0.0)
        survived = float(self._failure_cdf(np.asarray(self.now)))
        if survived > 1.0 - 1e-12:
            # the path is past the threshold already: failure is due now
            return np.ones_like(rul)
        failed = self._failure_cdf(self.now + rul)
        return np.clip((failed - survived) / (1.0 - survived), 0.0, 1.0)

    def quantile(self, q: float) -> float:
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile q={q!r} must lie strictly between 0 and 1")
        if float(self.cdf(0.0)) >= q:
            return 0.0
        # the crossing probability saturates below 1 when b < 0 is plausible: no finite quantile
        span = 1.0
        while float(self.cdf(span)) < q:
            span *= 2.0
            if span > 1e12:
                return math.inf
        return float(optimize.brentq(lambda r: float(self.cdf(r)) - q, 0.0, span, xtol=1e-9))


@dataclass(frozen=True)
class EmpiricalRUL(RULDistribution):
    """Weighted RUL samples (similarity neighbours, calibrated errors, Monte Carlo draws);
    ``cdf`` and ``quantile`` are those of the weighted empirical law."""

    samples: np.ndarray
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=float).ravel()
        if samples.size == 0 or not np.isfinite(samples).all():
            raise ValueError("EmpiricalRUL needs at least one finite RUL sample")
        weights = np.ones_like(samples) if self.weights is None else np.asarray(self.weights)
        if weights.shape != samples.shape or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("EmpiricalRUL weights must be non-negative, shaped like samples")
        order = np.argsort(samples)
        object.__setattr__(self, "samples", np.maximum(samples[order], 0.0))
        object.__setattr__(self, "weights", weights[order] / weights.sum())

    def cdf(self, rul: float | np.ndarray) -> np.ndarray:
        cumulative = np.r_[0.0, np.cumsum(self.weights)]
        return cumulative[np.searchsorted(self.samples, np.asarray(rul, dtype=float), "right")]

    def quantile(self, q: float) -> float:
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile q={q!r} must lie strictly between 0 and 1")
        cumulative = np.cumsum(self.weights)
        index = min(int(np.searchsorted(cumulative, q - 1e-12)), cumulative.size - 1)
        return float(self.samples[index])


def state_rul(
    mean: np.ndarray,
    cov: np.ndarray,
    time_to_failure: Callable[[np.ndarray], np.ndarray],
    *,
    draws: int = 4000,
    seed: int | np.random.Generator | None = 0,
) -> EmpiricalRUL:
    """RUL from a twin's Gaussian state estimate N(mean (n,), cov (n, n)): the failure-time
    function ``time_to_failure(states (draws, n)) -> (draws,)`` (physics, e.g. the closed-form
    wear law) applied to Monte Carlo draws of the state. Non-finite results count as never
    failing within 1e12 time units."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    if mean.ndim != 1 or cov.shape != (mean.size, mean.size):
        raise ValueError(
            f"state_rul: mean (n,) and cov (n, n) expected, got {mean.shape}, {cov.shape}"
        )
    rng = np.random.default_rng(seed)
    states = rng.multivariate_normal(mean, cov, size=draws, method="cholesky")
    rul = np.asarray(time_to_failure(states), dtype=float)
    if rul.shape != (draws,):
        raise ValueError(f"state_rul: time_to_failure must return ({draws},), got {rul.shape}")
    return EmpiricalRUL(np.where(np.isfinite(rul), np.clip(rul, 0.0, 1e12), 1e12))
