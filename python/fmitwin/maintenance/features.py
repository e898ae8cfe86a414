"""Windowed sensor features for remaining-life regression: operating-regime normalisation,
sensor selection and, at every cycle of a unit, recent levels, slopes and drift over several
trailing windows.

Regimes: the operating settings are rounded to ``setting_decimals`` and each distinct rounded
setting vector is one regime (C-MAPSS FD001/FD003 have one, FD002/FD004 six). Each sensor is
standardised per regime, z = (x - mean_r) / std_r, with the training fleet's statistics, so that
a change of operating point is not mistaken for degradation.

Features of a unit's history z_1..z_n (p selected sensors) at its sample n:

* level_w = mean(z_{n-w+1..n}) for w in ``level_windows`` (fewer samples early in life),
* slope_w = least-squares slope of z over the last w samples (per time unit) for w in
  ``slope_windows`` (0 with fewer than 3 samples),
* drift = level_10 - mean of the unit's first ``baseline`` samples (unit-to-unit offsets),
* the unit's age t_n - t_1 (how long it has run).

All windows come from cumulative sums: O(n p) per unit for the features at every sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["WindowFeatures"]


@dataclass
class WindowFeatures:
    """Fit on run-to-failure histories [(times (n,), settings (n, s), sensors (n, p)), ...]."""

    level_windows: tuple[int, ...] = (5, 10, 20, 40)
    slope_windows: tuple[int, ...] = (10, 20, 40, 80)
    baseline: int = 20
    setting_decimals: int = 0
    min_abs_correlation: float = 0.1

    def fit(
        self,
        histories: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
        names: Sequence[str] | None = None,
    ) -> WindowFeatures:
        """Regime statistics and sensor selection from run-to-failure histories: a sensor is kept
        when it varies within its regimes and |corr(z, time to failure)| > min_abs_correlation."""
        settings = np.vstack([s for _, s, _ in histories])
        sensors = np.vstack([x for _, _, x in histories])
        keys = self._regime_keys(settings)
        self.regimes_ = np.unique(keys, axis=0)
        labels = self._labels(keys)
        self.mean_ = np.vstack(
            [sensors[labels == r].mean(axis=0) for r in range(len(self.regimes_))]
        )
        self.std_ = np.vstack([sensors[labels == r].std(axis=0) for r in range(len(self.regimes_))])
        varying = (self.std_ > 1e-6 * np.maximum(np.abs(self.mean_), 1.0)).all(axis=0)
        z = (sensors - self.mean_[labels]) / np.where(self.std_[labels] > 0, self.std_[labels], 1.0)
        to_failure = np.concatenate([t[-1] - t for t, _, _ in histories])
        centred = (z - z.mean(axis=0)) / np.maximum(z.std(axis=0), 1e-12)
        target = (to_failure - to_failure.mean()) / to_failure.std()
        correlation = np.abs(centred.T @ target) / z.shape[0]
        self.selected_ = np.flatnonzero(varying & (correlation > self.min_abs_correlation))
        if self.selected_.size == 0:
            raise ValueError(
                "WindowFeatures.fit: no sensor varies and correlates with the time to failure; "
                "lower min_abs_correlation"
            )
        names = list(names) if names is not None else [f"x{i}" for i in range(sensors.shape[1])]
        self.sensor_names_ = [names[i] for i in self.selected_]
        return self

    @property
    def names(self) -> list[str]:
        """Feature names, in column order of ``transform``."""
        columns = [f"{s}_level{w}" for w in self.level_windows for s in self.sensor_names_]
        columns += [f"{s}_slope{w}" for w in self.slope_windows for s in self.sensor_names_]
        columns += [f"{s}_drift" for s in self.sensor_names_]
        return [*columns, "age"]

    def _regime_keys(self, settings: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(settings, dtype=float), self.setting_decimals)

    def _labels(self, keys: np.ndarray) -> np.ndarray:
        """Regime index of each row; an unseen regime is the nearest known one."""
        distance = ((keys[:, None, :] - self.regimes_[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(distance, axis=1)

    def normalise(self, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        """(n, p_selected) regime-standardised selected sensors."""
        if not hasattr(self, "selected_"):
            raise RuntimeError("WindowFeatures is not fitted: call fit() first")
        labels = self._labels(self._regime_keys(settings))
        std = self.std_[labels][:, self.selected_]
        return (sensors[:, self.selected_] - self.mean_[labels][:, self.selected_]) / std

    def transform(self, times: np.ndarray, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        """(n, len(names)) features of one unit at each of its n samples."""
        z = self.normalise(settings, sensors)
        t = np.asarray(times, dtype=float)
        n = t.size
        end = np.arange(1, n + 1)

        def sums(values: np.ndarray) -> np.ndarray:
            return np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])

        sz, st, stt = sums(z), sums(t), sums(t * t)
        stz = sums(t[:, None] * z)
        blocks = []
        for w in self.level_windows:
            start = np.maximum(end - w, 0)
            blocks.append((sz[end] - sz[start]) / (end - start)[:, None])
        for w in self.slope_windows:
            start = np.maximum(end - w, 0)
            count = (end - start).astype(float)
            mean_t = (st[end] - st[start]) / count
            sxx = (stt[end] - stt[start]) - count * mean_t**2
            sxz = (stz[end] - stz[start]) - mean_t[:, None] * (sz[end] - sz[start])
            slope = np.where((count >= 3)[:, None], sxz / np.maximum(sxx, 1e-12)[:, None], 0.0)
            blocks.append(slope)
        first = np.minimum(end, self.baseline)
        recent = np.maximum(end - 10, 0)
        blocks.append((sz[end] - sz[recent]) / (end - recent)[:, None] - sz[first] / first[:, None])
        blocks.append((t - t[0])[:, None])
        return np.hstack(blocks)
