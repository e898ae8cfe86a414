"""Fleet RUL from multichannel sensor tables (C-MAPSS style): sensor health index + similarity
model with calibrated intervals, and held-out validation on truncated run-to-failure units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fmitwin.maintenance import metrics
from fmitwin.maintenance.health import SensorHealthIndex
from fmitwin.maintenance.rul import EmpiricalRUL
from fmitwin.maintenance.similarity import SimilarityRULModel, truncation_points

__all__ = ["FleetRULEstimator", "holdout_validation"]


@dataclass
class FleetRULEstimator:
    """Fit on run-to-failure units (one row per sample: unit, time, sensor columns), then estimate
    the RUL of each unit of another table at its last sample.

    RUL follows the piecewise-linear convention, capped at ``rul_cap`` (a healthy unit's RUL is
    not observable from its sensors). Intervals are equal-tailed at ``interval_level``.
    """

    unit_column: str = "unit"
    time_column: str = "cycle"
    sensors: Sequence[str] | None = None
    rul_cap: float = 125.0
    interval_level: float = 0.9
    neighbours: int = 10
    calibration_seed: int = 0
    health_index: SensorHealthIndex = field(init=False)
    similarity: SimilarityRULModel = field(init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError(f"interval_level={self.interval_level!r} must lie in (0, 1), e.g. 0.9")
        if not self.rul_cap > 0:
            raise ValueError(f"rul_cap={self.rul_cap!r} must be a positive number of cycles")

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        missing = {self.unit_column, self.time_column} - set(frame.columns)
        if missing:
            raise ValueError(f"table lacks column(s) {sorted(missing)}; name them or rename")
        if self.sensors is not None:
            absent = [name for name in self.sensors if name not in frame.columns]
            if absent:
                raise ValueError(f"table lacks sensor column(s) {absent}")
            return list(self.sensors)
        fixed = {self.unit_column, self.time_column}
        # default: the C-MAPSS naming, sensors s1..s21
        return [c for c in frame.columns if c not in fixed and c[:1] == "s" and c[1:].isdigit()]

    def histories(self, frame: pd.DataFrame) -> list[tuple[object, np.ndarray, np.ndarray]]:
        """[(unit, times, health index), ...] of every unit of ``frame``, sorted by unit."""
        if frame.empty:
            raise ValueError("the sensor table is empty: give at least one unit's history")
        columns = self._columns(frame)
        return [
            (
                unit,
                group[self.time_column].to_numpy(dtype=float),
                self.health_index.transform(group[columns].to_numpy(dtype=float)),
            )
            for unit, group in frame.groupby(self.unit_column, sort=True)
        ]

    def fit(self, frame: pd.DataFrame) -> FleetRULEstimator:
        """Fit the health index and the calibrated similarity model on run-to-failure units."""
        columns = self._columns(frame)
        if frame.empty:
            raise ValueError("the training table is empty: give run-to-failure histories")
        life = frame.groupby(self.unit_column)[self.time_column].transform("max")
        self.health_index = SensorHealthIndex(rul_cap=self.rul_cap).fit(
            frame[columns].to_numpy(dtype=float),
            (life - frame[self.time_column]).to_numpy(dtype=float),
            columns,
        )
        library = [(t, hi) for _, t, hi in self.histories(frame)]
        # the index regresses towards the mean: at failure it sits above the target 0
        self.failure_level_ = float(np.median([hi[-1] for _, hi in library]))
        self.similarity = SimilarityRULModel(neighbours=self.neighbours, rul_cap=self.rul_cap)
        self.similarity.calibrate(library, seed=self.calibration_seed)
        return self

    def predict_distributions(self, frame: pd.DataFrame) -> dict[object, EmpiricalRUL]:
        """RUL distribution of every unit at its last sample."""
        return {unit: self.similarity.predict(t, hi) for unit, t, hi in self.histories(frame)}

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """DataFrame with columns unit, rul (median), rul_low, rul_high; one row per unit."""
        rows = []
        for unit, distribution in self.predict_distributions(frame).items():
            low, high = distribution.interval(self.interval_level)
            rows.append((unit, distribution.median, low, high))
        return pd.DataFrame(rows, columns=["unit", "rul", "rul_low", "rul_high"])


def holdout_validation(
    frame: pd.DataFrame,
    *,
    folds: int = 5,
    cuts_per_unit: int = 3,
    min_length: int = 31,
    seed: int = 12345,
    **estimator_options: object,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Validate on run-to-failure units held out and truncated at random points (truth known).

    Units are split into ``folds``; for each fold an estimator is fitted on the other units and
    predicts every held-out unit truncated at ``cuts_per_unit`` random lengths (>= ``min_length``
    samples, so the truth RUL is >= 1). Truth is capped at ``rul_cap`` like the predictions.
    Returns the per-prediction table (unit, length, true_rul, rul, rul_low, rul_high) and metrics:
    rmse, phm08_score (summed) and phm08_score_mean, coverage, alpha_accuracy (fraction within
    +/-20 % of the truth) and interval_level.
    """
    estimator = FleetRULEstimator(**estimator_options)
    units = np.sort(frame[estimator.unit_column].unique())
    if len(units) < 2 * folds:
        raise ValueError(f"holdout_validation: {len(units)} units cannot make {folds} folds")
    rng = np.random.default_rng(seed)
    rows = []
    for held in np.array_split(rng.permutation(units), folds):
        train = frame[~frame[estimator.unit_column].isin(held)]
        fitted = FleetRULEstimator(**estimator_options).fit(train)
        for unit in held:
            history = frame[frame[estimator.unit_column] == unit]
            times = history[estimator.time_column].to_numpy()
            for cut in truncation_points(len(history), cuts_per_unit, min_length, rng):
                table = fitted.predict(history.iloc[:cut])
                true = min(times[-1] - times[cut - 1], fitted.rul_cap)
                rows.append((unit, cut, true, *table.iloc[0, 1:].to_numpy(dtype=float)))
    columns = ["unit", "length", "true_rul", "rul", "rul_low", "rul_high"]
    result = pd.DataFrame(rows, columns=columns)
    true, predicted = result["true_rul"].to_numpy(), result["rul"].to_numpy()
    summary = {
        "predictions": float(len(result)),
        "rmse": metrics.rmse(predicted, true),
        "phm08_score": metrics.phm08_score(predicted, true),
        "phm08_score_mean": metrics.phm08_score(predicted, true) / len(result),
        "coverage": metrics.interval_coverage(result["rul_low"], result["rul_high"], true),
        "interval_level": estimator.interval_level,
        "alpha_accuracy": float(np.mean(np.abs(predicted - true) <= 0.2 * np.maximum(true, 1.0))),
    }
    return result, summary
