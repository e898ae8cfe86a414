"""Similarity-based RUL: match a unit's health-index history against the fleet's run-to-failure
trajectories (Wang et al., 2008), with intervals calibrated on held-out units.

Each fleet trajectory's health index is smoothed by a polynomial in time and sampled on a grid of
step ``h`` (the fleet's median sampling step). A query history (t_j, q_j), j = 1..L, is slid along
each trajectory; for a trial end position e the distance is

    D_i(e) = sum_j w_j (q_j - c_i(e h - (t_L - t_j)))^2 / sum_j w_j
    w_j = exp(-r (t_L - t_j) / span)

(recent samples weigh more with recency r). The best e of trajectory i gives the neighbour RUL
T_i - e h. The ``neighbours`` closest trajectories are combined with weights exp(-D_i / D_min);
RUL values may be capped (the piecewise-linear RUL convention). ``calibrate`` runs the model on
held-out units truncated at random points and stores its errors; the RUL distribution is then the
point estimate plus the errors of the calibration predictions closest to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fmitwin.maintenance.degradation import check_history
from fmitwin.maintenance.rul import EmpiricalRUL

__all__ = ["SimilarityRULModel"]


class SimilarityRULModel:
    """Health-index similarity model (HI falls with degradation or rises: only shape matters)."""

    def __init__(
        self,
        *,
        degree: int = 3,
        neighbours: int = 10,
        recency: float = 3.0,
        rul_cap: float | None = None,
        local_errors: int = 150,
    ) -> None:
        if degree < 1 or neighbours < 1 or local_errors < 10 or recency < 0:
            raise ValueError(
                "SimilarityRULModel needs degree >= 1, neighbours >= 1, recency >= 0 and "
                "local_errors >= 10"
            )
        if rul_cap is not None and not rul_cap > 0:
            raise ValueError(f"rul_cap={rul_cap!r} must be positive (or None for no cap)")
        self.degree = degree
        self.neighbours = neighbours
        self.recency = recency
        self.rul_cap = rul_cap
        self.local_errors = local_errors
        self._curves: list[np.ndarray] = []
        self._squares: list[np.ndarray] = []
        self._lives: np.ndarray = np.empty(0)
        self._step = 1.0
        self._calibration: tuple[np.ndarray, np.ndarray] | None = None

    # --- fitting ------------------------------------------------------------------------------
    def fit(
        self, histories: Sequence[tuple[Sequence[float], Sequence[float]]]
    ) -> SimilarityRULModel:
        """Library of run-to-failure histories [(times, hi), ...]; each ends at its failure."""
        if len(histories) < self.neighbours:
            raise ValueError(
                f"fit: {len(histories)} histories given but neighbours={self.neighbours}; "
                "give more run-to-failure units or lower neighbours"
            )
        checked = [check_history(t, s, f"histories[{i}]") for i, (t, s) in enumerate(histories)]
        short = [i for i, (t, _) in enumerate(checked) if t.size <= self.degree + 1]
        if short:
            raise ValueError(
                f"histories {short[:5]} have too few samples for a degree-{self.degree} fit"
            )
        self._step = float(np.median(np.concatenate([np.diff(t) for t, _ in checked])))
        curves, lives = [], []
        for t, hi in checked:
            span = t - t[0]
            scale = max(float(span[-1]), self._step)
            coefficients = np.polyfit(span / scale, hi, self.degree)
            grid = np.arange(0.0, span[-1] + 0.5 * self._step, self._step)
            curves.append(np.polyval(coefficients, grid / scale))
            lives.append(span[-1])
        self._curves, self._lives = curves, np.asarray(lives)
        self._squares = [curve * curve for curve in curves]
        self._calibration = None
        return self

    def calibrate(
        self,
        histories: Sequence[tuple[Sequence[float], Sequence[float]]],
        *,
        folds: int = 5,
        cuts_per_unit: int = 5,
        min_length: int = 30,
        seed: int = 0,
    ) -> SimilarityRULModel:
        """Fit on ``histories`` and calibrate intervals by K-fold cross-validation over units:
        each held-out unit is truncated at ``cuts_per_unit`` random points (at least
        ``min_length`` samples kept, at least one removed) and predicted by a model fitted on the
        other folds; the errors (true - predicted) are stored with their predictions."""
        if folds < 2 or len(histories) < 2 * folds:
            raise ValueError(f"calibrate: folds={folds} needs at least {2 * folds} histories")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(histories))
        predictions, errors = [], []
        for held in np.array_split(order, folds):
            held_set = set(held.tolist())
            inner = self._clone().fit([h for i, h in enumerate(histories) if i not in held_set])
            for index in held:
                t, hi = check_history(*histories[index], f"histories[{index}]")
                for cut in truncation_points(t.size, cuts_per_unit, min_length, rng):
                    point = inner._point(t[:cut], hi[:cut])
                    predictions.append(point)
                    errors.append(self._capped(t[-1] - t[cut - 1]) - point)
        self.fit(histories)
        order = np.argsort(predictions)
        self._calibration = (np.asarray(predictions)[order], np.asarray(errors)[order])
        return self

    # --- prediction ---------------------------------------------------------------------------
    def predict_rul(self, times: Sequence[float], hi: Sequence[float]) -> EmpiricalRUL:
        """RUL distribution at the last sample of a unit's history (times, hi).

        Calibrated (see ``calibrate``): point + local held-out errors. Uncalibrated: the
        neighbours' RULs with their similarity weights.
        """
        t, q = check_history(times, hi, "predict_rul")
        if not self._curves:
            raise RuntimeError("SimilarityRULModel is not fitted: call fit() or calibrate() first")
        rul, weights = self._neighbours(t, q)
        point = float(np.sum(weights * rul) / np.sum(weights))
        if self._calibration is None:
            return EmpiricalRUL(rul, weights)
        predicted, errors = self._calibration
        nearest = np.argsort(np.abs(predicted - point))[: self.local_errors]
        return EmpiricalRUL(self._capped(np.maximum(point + errors[nearest], 0.0)))

    def _point(self, t: np.ndarray, q: np.ndarray) -> float:
        rul, weights = self._neighbours(t, q)
        return float(np.sum(weights * rul) / np.sum(weights))

    def _neighbours(self, t: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        back = np.rint((t[-1] - t) / self._step).astype(np.int64)  # grid steps before the end
        span = max(float(back[0]), 1.0)
        weights = np.exp(-self.recency * back / span)
        # evenly sampled query: sum w (q - c)^2 = sum w q^2 - 2 sum (w q) c + sum w c^2 with the
        # sliding sums as correlations, no (ends x samples) temporary
        even = bool(np.all(np.diff(back) == -1))
        weighted = weights * q
        tail_weight = np.cumsum(weights[::-1])  # [m - 1]: sum over the last m samples
        tail_power = np.cumsum((weighted * q)[::-1])
        distances, ruls = [], []
        for curve, square, life in zip(self._curves, self._squares, self._lives, strict=True):
            # the query may be longer than a short trajectory: match only its overlapping tail
            if even:
                m = min(q.size, curve.size)
                cross = np.correlate(curve, weighted[-m:], "valid")
                power = np.correlate(square, weights[-m:], "valid")
                d = (tail_power[m - 1] - 2.0 * cross + power) / tail_weight[m - 1]
                first = m - 1
            else:
                usable = back <= curve.size - 1
                first = int(back[usable][0])
                trial = curve[np.arange(first, curve.size)[:, None] - back[usable][None, :]]
                w = weights[usable]
                d = ((trial - q[usable]) ** 2 @ w) / w.sum()
            best = int(np.argmin(d))
            distances.append(d[best])
            ruls.append(life - (first + best) * self._step)
        distances, ruls = np.asarray(distances), self._capped(np.maximum(ruls, 0.0))
        nearest = np.argsort(distances)[: self.neighbours]
        closest = max(float(distances[nearest[0]]), 1e-12)
        return ruls[nearest], np.exp(-distances[nearest] / closest)

    def _capped(self, rul: float | np.ndarray) -> np.ndarray:
        return np.asarray(rul if self.rul_cap is None else np.minimum(rul, self.rul_cap), float)

    def _clone(self) -> SimilarityRULModel:
        return SimilarityRULModel(
            degree=self.degree,
            neighbours=self.neighbours,
            recency=self.recency,
            rul_cap=self.rul_cap,
            local_errors=self.local_errors,
        )


def truncation_points(
    length: int, count: int, min_length: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` random history lengths in [min(min_length, length - 1), length - 1]: truncating a
    run-to-failure history there hides at least its last sample (truth RUL > 0)."""
    low = max(1, min(min_length, length - 1))
    return rng.integers(low, length, size=count, endpoint=False)
