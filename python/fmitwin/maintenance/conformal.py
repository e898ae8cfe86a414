"""Conformal RUL intervals conditional on the predicted horizon (Mondrian split conformal).

Calibration pairs (predicted p_i, true r_i) come from units the model did not see (held-out folds,
truncated like the units it will be used on). They are grouped into horizon bands by their
prediction, edges ``e_0 < e_1 < ...``; within a band b with n_b residuals e = r - p sorted
ascending, the interval at level 1 - alpha for a new prediction p in band b is

    [p + e_(lo), p + e_(hi)],  lo = floor((n_b + 1) alpha / 2),  hi = ceil((n_b + 1)(1 - alpha / 2))

(ranks from 1, clipped to 1..n_b; a bound past the sample is infinite), which holds the truth with
probability >= 1 - alpha for exchangeable units within the band (Vovk et al., 2005; Mondrian
conformal). Conditioning on the band keeps short and long horizons both covered, where one pooled
residual quantile would be too wide near failure and too narrow far from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmitwin.maintenance.rul import RULDistribution

__all__ = ["ConformalRUL", "HorizonConformal"]


def conformal_offset(residuals: np.ndarray, q: float) -> float:
    """The conformal rank of sorted ``residuals`` for quantile ``q`` (see the module text);
    inf (-inf) where the rank falls past the sample."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile q={q!r} must lie strictly between 0 and 1")
    n = residuals.size
    rank = math.ceil((n + 1) * q) if q >= 0.5 else math.floor((n + 1) * q)
    if rank > n:
        return math.inf
    if rank < 1:
        return -math.inf
    return float(residuals[rank - 1])


@dataclass(frozen=True)
class ConformalRUL(RULDistribution):
    """RUL ``point`` + sorted calibration ``residuals`` of its horizon band, with conformal ranks:
    ``quantile(q)`` is the ceil((n + 1) q)-th residual for q >= 1/2 and the floor((n + 1) q)-th
    for q < 1/2 (so ``interval(level)`` is the conformal interval), never below 0."""

    point: float
    residuals: np.ndarray

    def cdf(self, rul: float | np.ndarray) -> np.ndarray:
        values = np.maximum(self.point + self.residuals, 0.0)
        count = np.searchsorted(values, np.asarray(rul, dtype=float), "right")
        return count / (values.size + 1.0)

    def quantile(self, q: float) -> float:
        return max(self.point + conformal_offset(self.residuals, q), 0.0)

    @property
    def median(self) -> float:
        return max(self.point, 0.0)


@dataclass
class HorizonConformal:
    """Mondrian conformal calibrator: ``bands`` horizon bands with equal numbers of calibration
    predictions (at least ``min_per_band`` each), edges at the predictions' quantiles."""

    bands: int = 5
    min_per_band: int = 40

    def fit(self, predicted: np.ndarray, true: np.ndarray) -> HorizonConformal:
        predicted = np.asarray(predicted, dtype=float).ravel()
        true = np.asarray(true, dtype=float).ravel()
        if predicted.shape != true.shape or not np.isfinite(predicted).all():
            raise ValueError("HorizonConformal.fit: predicted and true must be finite, one each")
        if not np.isfinite(true).all():
            raise ValueError("HorizonConformal.fit: true RUL values must be finite")
        bands = max(1, min(self.bands, predicted.size // self.min_per_band))
        if predicted.size < self.min_per_band:
            raise ValueError(
                f"HorizonConformal.fit: {predicted.size} calibration pairs; give at least "
                f"{self.min_per_band} (more held-out units or cuts per unit)"
            )
        self.edges_ = np.quantile(predicted, np.linspace(0.0, 1.0, bands + 1)[1:-1])
        band = self.band(predicted)
        self.residuals_ = [np.sort(true[band == b] - predicted[band == b]) for b in range(bands)]
        return self

    def band(self, predicted: float | np.ndarray) -> np.ndarray:
        """Band index of each prediction (0: shortest horizons)."""
        return np.searchsorted(self.edges_, np.asarray(predicted, dtype=float), "right")

    def distribution(self, predicted: float) -> ConformalRUL:
        if not hasattr(self, "residuals_"):
            raise RuntimeError("HorizonConformal is not fitted: call fit() first")
        return ConformalRUL(float(predicted), self.residuals_[int(self.band(predicted))])

    def table(self, level: float = 0.9) -> pd.DataFrame:
        """Per band: predicted-horizon range, calibration pairs, the interval's offsets from the
        prediction (low, high), its width and the share of calibration truths it holds."""
        if not hasattr(self, "residuals_"):
            raise RuntimeError("HorizonConformal is not fitted: call fit() first")
        edges = np.r_[-np.inf, self.edges_, np.inf]
        rows = []
        for b, residuals in enumerate(self.residuals_):
            tail = (1.0 - level) / 2.0
            low, high = conformal_offset(residuals, tail), conformal_offset(residuals, 1 - tail)
            held = float(np.mean((residuals >= low) & (residuals <= high)))
            rows.append((edges[b], edges[b + 1], residuals.size, low, high, high - low, held))
        columns = ["predicted_from", "predicted_to", "pairs", "low", "high", "width", "coverage"]
        return pd.DataFrame(rows, columns=columns)
