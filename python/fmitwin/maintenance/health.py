"""Health indicators: registered functions of twin state, residuals or raw signals, timed in the
asset's operating hours taken from the data's own timestamps (never the wall clock), and a
sensor health index regressed onto a health target from run-to-failure fleets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "HEALTH_INDICATORS",
    "SensorHealthIndex",
    "compute_indicator",
    "health_indicator",
    "operating_hours",
    "read_indicator_csv",
]

# name -> function(values (n, k) array, **options) -> (n,) indicator
HEALTH_INDICATORS: dict[str, Callable[..., np.ndarray]] = {}


def health_indicator(name: str) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Decorator registering ``func(values, **options) -> (n,)`` as health indicator ``name``.

    ``values`` is an (n, k) array: n time samples of twin states, residuals or raw signals.
    """

    def register(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        if name in HEALTH_INDICATORS:
            raise ValueError(f"health indicator {name!r} is already registered")
        HEALTH_INDICATORS[name] = func
        return func

    return register


def compute_indicator(name: str, values: np.ndarray | Sequence, **options: object) -> np.ndarray:
    """Evaluate the registered indicator ``name`` on ``values`` (n,) or (n, k)."""
    func = HEALTH_INDICATORS.get(name)
    if func is None:
        raise KeyError(
            f"unknown health indicator {name!r}; registered: {sorted(HEALTH_INDICATORS)} "
            "(add one with @health_indicator)"
        )
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"indicator {name!r}: values must be a non-empty (n,) or (n, k) array")
    if not np.isfinite(array).all():
        raise ValueError(f"indicator {name!r}: values contain NaN/inf; clean them first")
    return np.asarray(func(array, **options), dtype=float)


@health_indicator("component")
def _component(values: np.ndarray, index: int = 0) -> np.ndarray:
    """One column, e.g. an estimated wear state of the twin."""
    return values[:, index]


@health_indicator("rms")
def _rolling_rms(values: np.ndarray, window: int = 10) -> np.ndarray:
    """Trailing root-mean-square over ``window`` samples of all columns (vibration, residuals)."""
    squares = np.mean(values**2, axis=1)
    cumulative = np.r_[0.0, np.cumsum(squares)]
    index = np.arange(1, squares.size + 1)
    start = np.maximum(index - window, 0)
    return np.sqrt((cumulative[index] - cumulative[start]) / (index - start))


@health_indicator("nis")
def _normalised_innovation(values: np.ndarray, window: int = 10) -> np.ndarray:
    """Trailing mean of normalised innovation squared values (first column) per degree of
    freedom (second column, default 1): about 1 while the twin matches the plant."""
    dof = values[:, 1] if values.shape[1] > 1 else np.ones(values.shape[0])
    ratio = values[:, 0] / dof
    cumulative = np.r_[0.0, np.cumsum(ratio)]
    index = np.arange(1, ratio.size + 1)
    start = np.maximum(index - window, 0)
    return (cumulative[index] - cumulative[start]) / (index - start)


def operating_hours(
    timestamps: np.ndarray | Sequence,
    running: np.ndarray | Sequence[bool] | None = None,
    *,
    max_gap_hours: float | None = None,
) -> np.ndarray:
    """Cumulative operating hours at each sample, from the data's own timestamps.

    ``timestamps`` are datetime64 values or seconds (floats), strictly increasing. An interval
    between consecutive samples counts when the asset runs at its start (``running``, default
    always) and, if ``max_gap_hours`` is given, only up to that length (a logging outage is not
    operation). Returns (n,) hours starting at 0.
    """
    stamps = np.asarray(timestamps)
    if stamps.ndim != 1 or stamps.size == 0:
        raise ValueError("operating_hours: timestamps must be a non-empty 1-D array")
    if np.issubdtype(stamps.dtype, np.datetime64):
        if np.isnat(stamps).any():
            raise ValueError("operating_hours: timestamps contain NaT; drop those samples")
        seconds = (stamps - stamps[0]) / np.timedelta64(1, "s")
    else:
        seconds = stamps.astype(float)
        if not np.isfinite(seconds).all():
            raise ValueError("operating_hours: timestamps contain NaN/inf; drop those samples")
    steps = np.diff(seconds) / 3600.0
    if (steps <= 0).any():
        bad = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(
            f"operating_hours: timestamps are not strictly increasing at index {bad}; "
            "sort them and remove duplicates"
        )
    if running is not None:
        running = np.asarray(running, dtype=bool)
        if running.shape != stamps.shape:
            raise ValueError("operating_hours: running must have one flag per timestamp")
        steps = np.where(running[:-1], steps, 0.0)
    if max_gap_hours is not None:
        steps = np.minimum(steps, max_gap_hours)
    return np.r_[0.0, np.cumsum(steps)]


def read_indicator_csv(
    path: str | Path,
    *,
    asset_column: str = "asset",
    time_column: str = "time",
    value_column: str = "value",
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{asset: (hours (n,), values (n,))} from a CSV with one row per sample.

    ``time_column`` holds operating hours (numbers) or timestamps (then elapsed hours from the
    asset's first sample, ``operating_hours``). Raises ``ValueError`` naming the file and the
    missing column, empty table or empty value.
    """
    table = pd.read_csv(path)
    needed = [asset_column, time_column, value_column]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; name them with --*-column options")
    if table.empty:
        raise ValueError(f"{path} has no rows: give at least one sample per asset")
    if table[value_column].isna().any():
        raise ValueError(f"{path}: column {value_column!r} has empty/NaN values")
    series = {}
    for asset, group in table.groupby(asset_column, sort=True):
        stamps = group[time_column]
        if pd.api.types.is_numeric_dtype(stamps):
            hours = stamps.to_numpy(dtype=float)
        else:
            parsed = pd.to_datetime(stamps, errors="raise").to_numpy(dtype="datetime64[s]")
            hours = operating_hours(parsed)
        series[str(asset)] = (hours, group[value_column].to_numpy(dtype=float))
    return series


@dataclass
class SensorHealthIndex:
    """Linear health index from the informative sensors of a run-to-failure fleet.

    ``fit`` keeps the sensors whose standard deviation is non-negligible and whose absolute
    correlation with the remaining life exceeds ``min_abs_correlation``, standardises them (z),
    and least-squares fits HI = w . z + c to the health target h = min(RUL, rul_cap) / rul_cap:
    1 while healthy, falling linearly to 0 at failure.
    """

    rul_cap: float = 125.0
    min_abs_correlation: float = 0.3

    def fit(
        self, sensors: np.ndarray, rul: np.ndarray, names: Sequence[str] | None = None
    ) -> SensorHealthIndex:
        """``sensors`` (n, p) samples of a fleet, ``rul`` (n,) their remaining life."""
        x = np.asarray(sensors, dtype=float)
        rul = np.asarray(rul, dtype=float)
        if x.ndim != 2 or rul.shape != (x.shape[0],) or x.shape[0] < 3:
            raise ValueError("SensorHealthIndex.fit: sensors (n, p) and rul (n,) with n >= 3")
        if not (np.isfinite(x).all() and np.isfinite(rul).all()):
            raise ValueError("SensorHealthIndex.fit: sensors and rul must be free of NaN/inf")
        names = list(names) if names is not None else [f"x{i}" for i in range(x.shape[1])]
        std = x.std(axis=0)
        varying = std > 1e-6 * np.maximum(np.abs(x.mean(axis=0)), 1.0)
        correlation = np.zeros(x.shape[1])
        centred = (x[:, varying] - x[:, varying].mean(axis=0)) / std[varying]
        rul_z = (rul - rul.mean()) / rul.std()
        correlation[varying] = np.abs(centred.T @ rul_z) / x.shape[0]
        selected = correlation > self.min_abs_correlation
        if not selected.any():
            raise ValueError(
                "SensorHealthIndex.fit: no sensor correlates with the remaining life above "
                f"{self.min_abs_correlation}; lower min_abs_correlation"
            )
        self.selected_ = np.flatnonzero(selected)
        self.selected_names_ = [names[i] for i in self.selected_]
        self.mean_ = x[:, selected].mean(axis=0)
        self.std_ = std[selected]
        target = np.minimum(rul, self.rul_cap) / self.rul_cap
        design = np.column_stack([self._standardise(x), np.ones(x.shape[0])])
        self.coef_, *_ = np.linalg.lstsq(design, target, rcond=None)
        return self

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return (x[:, self.selected_] - self.mean_) / self.std_

    def transform(self, sensors: np.ndarray) -> np.ndarray:
        """(n, p) sensor samples -> (n,) health index (about 1 healthy, 0 at failure)."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("SensorHealthIndex is not fitted: call fit() first")
        x = np.asarray(sensors, dtype=float)
        if x.ndim != 2 or x.shape[1] <= self.selected_.max():
            raise ValueError(f"transform: sensors {x.shape} must be (n, p) with the p used in fit")
        if not np.isfinite(x[:, self.selected_]).all():
            raise ValueError("transform: sensors contain NaN/inf")
        return self._standardise(x) @ self.coef_[:-1] + self.coef_[-1]
