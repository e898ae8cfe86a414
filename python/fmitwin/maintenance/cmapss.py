"""The C-MAPSS remaining-life pipeline: fit a model on run-to-failure engines, calibrate it for
test engines cut like the given test file, predict every test engine at its last cycle, validate
with the test-like protocol.

Models (``MODELS``): ``boosted`` (default; LightGBM on windowed features with horizon-conditional
conformal intervals) and ``similarity`` (sensor health index matched against the fleet's
trajectories, Wang et al. 2008, with locally calibrated errors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fmitwin.datasets import CMAPSS_SENSORS
from fmitwin.maintenance.boosted import BoostedRULModel
from fmitwin.maintenance.decisions import MaintenancePolicy
from fmitwin.maintenance.fleet import FleetRULEstimator
from fmitwin.maintenance.health import SensorHealthIndex
from fmitwin.maintenance.model import History, RULModel
from fmitwin.maintenance.report import AssetReport, fleet_reports
from fmitwin.maintenance.validation import TruncationProfile

__all__ = [
    "MODELS",
    "ModelFactory",
    "engine_reports",
    "health_index",
    "make_model",
    "predict_units",
    "quadratic_trend",
    "cut_profile",
]

MODELS = ("boosted", "similarity")


def cut_profile(
    training: Sequence[History], testing: Sequence[History], *, settings: int = 3
) -> TruncationProfile:
    """How the test engines were cut, read off the test file (lengths and health at the cut)
    with a sensor health index fitted on the training engines (see ``TruncationProfile.fit``)."""
    index = health_index(training, settings=settings)
    return TruncationProfile.fit(
        [(t, index.transform(v[:, settings:])) for t, v in training],
        [(t, index.transform(v[:, settings:])) for t, v in testing],
    )


@dataclass(frozen=True)
class ModelFactory:
    """A picklable ``make_model()`` for ``validate``: a fresh unfitted model per call."""

    name: str = "boosted"
    rul_cap: float = 125.0
    profile: TruncationProfile | None = None
    seed: int = 0

    def __call__(self) -> RULModel:
        if self.name == "boosted":
            return BoostedRULModel(
                sensor_names=CMAPSS_SENSORS, rul_cap=self.rul_cap, profile=self.profile,
                seed=self.seed,
            )  # fmt: skip
        if self.name == "similarity":
            return FleetRULEstimator(
                sensor_names=CMAPSS_SENSORS, rul_cap=self.rul_cap, calibration_seed=self.seed
            )
        raise ValueError(f"unknown RUL model {self.name!r}; choose one of {MODELS}")


def make_model(
    name: str = "boosted",
    *,
    rul_cap: float = 125.0,
    profile: TruncationProfile | None = None,
    seed: int = 0,
) -> RULModel:
    """An unfitted C-MAPSS model of ``MODELS`` (histories from ``cmapss_histories``)."""
    return ModelFactory(name, rul_cap, profile, seed)()


def predict_units(
    model: RULModel, histories: Mapping[object, History], *, level: float = 0.9
) -> pd.DataFrame:
    """unit, rul (median), rul_low, rul_high (``level`` interval) of every unit at its last
    sample."""
    rows = []
    for unit, (times, values) in histories.items():
        estimate = model.predict_rul(times, values)
        rows.append((unit, estimate.median, *estimate.interval(level)))
    return pd.DataFrame(rows, columns=["unit", "rul", "rul_low", "rul_high"])


def health_index(training: Sequence[History], *, settings: int = 3) -> SensorHealthIndex:
    """Linear sensor health index of the engines (what the reports plot)."""
    sensors = np.vstack([v[:, settings:] for _, v in training])
    to_failure = np.concatenate([t[-1] - t for t, _ in training])
    return SensorHealthIndex().fit(sensors, to_failure, CMAPSS_SENSORS)


def engine_reports(
    directory: str | Path,
    model: RULModel,
    training: Mapping[object, History],
    testing: Mapping[object, History],
    *,
    policy: MaintenancePolicy,
    units: Sequence[int] | None = None,
    every: int = 5,
) -> list[AssetReport]:
    """Maintenance prediction of every test engine; plots (health index with its quadratic
    trend, RUL over time, latest distribution) of ``units`` (default: the 5 most urgent)."""
    if units is None:
        table = predict_units(model, testing, level=policy.interval_level)
        units = table.sort_values("rul")["unit"].head(5).tolist()
    unknown = [u for u in units if u not in testing]
    if unknown:
        raise ValueError(f"units {unknown} are not in the test file")
    index = health_index(list(training.values()))
    failure = float(np.median([index.transform(v[-1:, 3:])[0] for _, v in training.values()]))
    return fleet_reports(
        directory, model, {f"engine {u}": h for u, h in testing.items()},
        failure_mode="HPC degradation", policy=policy, plotted=[f"engine {u}" for u in units],
        indicator=lambda values: index.transform(values[:, 3:]), fitted=quadratic_trend,
        threshold=failure, time_unit="cycles", indicator_name="health index",
        fitted_name="quadratic trend", every=every, first=10,
    )  # fmt: skip


def quadratic_trend(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares quadratic (lower degree for short series) of values over time."""
    degree = min(2, times.size - 1)
    return np.polyval(np.polyfit(times - times[0], values, degree), times - times[0])
