"""Similarity RUL for multichannel sensor histories (C-MAPSS style): a linear sensor health
index fitted on the fleet, matched by the similarity model with calibrated intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fmitwin.maintenance.health import SensorHealthIndex
from fmitwin.maintenance.model import History
from fmitwin.maintenance.rul import EmpiricalRUL
from fmitwin.maintenance.similarity import SimilarityRULModel

__all__ = ["FleetRULEstimator"]


@dataclass
class FleetRULEstimator:
    """RUL model for histories (times (n,), values (n, settings + sensors)): the first
    ``settings`` columns are ignored (one operating regime), the sensors form a
    ``SensorHealthIndex`` whose history the ``SimilarityRULModel`` matches against the fleet's.

    RUL follows the piecewise-linear convention, capped at ``rul_cap`` (a healthy unit's RUL is
    not observable from its sensors).
    """

    settings: int = 3
    sensor_names: Sequence[str] | None = None
    rul_cap: float = 125.0
    neighbours: int = 10
    calibration_seed: int = 0
    health_index: SensorHealthIndex = field(init=False)
    similarity: SimilarityRULModel = field(init=False)

    def __post_init__(self) -> None:
        if not self.rul_cap > 0:
            raise ValueError(f"rul_cap={self.rul_cap!r} must be a positive number of cycles")

    def _sensors(self, values: np.ndarray, name: str) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or values.shape[1] <= self.settings:
            raise ValueError(
                f"{name}: values must be (n, settings + sensors) = (n, > {self.settings}); "
                f"got {values.shape}"
            )
        return values[:, self.settings :]

    def health(self, values: np.ndarray) -> np.ndarray:
        """(n,) health index of a history's values (about 1 healthy, 0 at failure)."""
        return self.health_index.transform(self._sensors(values, "health"))

    def fit(self, histories: Sequence[History]) -> FleetRULEstimator:
        """Fit the health index and the calibrated similarity model on run-to-failure units."""
        if not histories:
            raise ValueError("FleetRULEstimator.fit: no histories; give run-to-failure units")
        sensors = [self._sensors(v, f"histories[{i}]") for i, (_, v) in enumerate(histories)]
        to_failure = np.concatenate([np.asarray(t)[-1] - np.asarray(t) for t, _ in histories])
        self.health_index = SensorHealthIndex(rul_cap=self.rul_cap).fit(
            np.vstack(sensors), to_failure, self.sensor_names
        )
        library = [(np.asarray(t, float), self.health_index.transform(x))
                   for (t, _), x in zip(histories, sensors, strict=True)]  # fmt: skip
        # the index regresses towards the mean: at failure it sits above the target 0
        self.failure_level_ = float(np.median([hi[-1] for _, hi in library]))
        self.similarity = SimilarityRULModel(neighbours=self.neighbours, rul_cap=self.rul_cap)
        self.similarity.calibrate(library, seed=self.calibration_seed)
        return self

    def predict_rul(self, times: np.ndarray, values: np.ndarray) -> EmpiricalRUL:
        """RUL distribution at the history's last sample."""
        if not hasattr(self, "similarity"):
            raise RuntimeError("FleetRULEstimator is not fitted: call fit() first")
        return self.similarity.predict_rul(times, self.health(values))
