"""Gradient-boosted RUL regression on windowed sensor features, with cross-conformal intervals
conditional on the predicted horizon.

Target: the piecewise-linear RUL min(T - t, rul_cap) at every ``sample_step``-th sample t of every
run-to-failure unit (from its ``min_length``-th sample on; neighbouring samples carry almost the
same features, so thinning costs no accuracy and saves most of the fitting time), regressed with
LightGBM (``trees`` trees of ``leaves`` leaves) on ``WindowFeatures``. The
intervals are Mondrian conformal (``HorizonConformal``) on out-of-fold predictions: the units are
split into ``calibration_folds``; a model fitted without a fold predicts each of its units at
``cuts_per_unit`` truncations drawn by ``profile`` (as deployment cuts them); their raw truths
(not capped: the interval is for the actual remaining life) against the predictions calibrate the
intervals, and the final model is fitted on all units (cross-conformal, Vovk 2015).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from fmitwin.maintenance.conformal import ConformalRUL, HorizonConformal
from fmitwin.maintenance.degradation import check_history
from fmitwin.maintenance.features import WindowFeatures
from fmitwin.maintenance.model import History
from fmitwin.maintenance.validation import TruncationProfile

__all__ = ["BoostedRULModel"]


@dataclass
class BoostedRULModel:
    """RUL model for multichannel histories (times (n,), values (n, settings + sensors)): the
    first ``settings`` columns are operating settings (regimes), the rest sensors."""

    settings: int = 3
    sensor_names: Sequence[str] | None = None
    rul_cap: float = 125.0
    trees: int = 150
    learning_rate: float = 0.1
    leaves: int = 15
    min_length: int = 20
    sample_step: int = 3
    calibration_folds: int = 5
    cuts_per_unit: int = 10
    profile: TruncationProfile | None = None
    seed: int = 0
    features: WindowFeatures = field(default_factory=WindowFeatures)
    conformal: HorizonConformal = field(default_factory=HorizonConformal)

    def __post_init__(self) -> None:
        if not self.rul_cap > 0:
            raise ValueError(f"rul_cap={self.rul_cap!r} must be a positive duration")
        if self.calibration_folds < 2 or self.cuts_per_unit < 1 or self.trees < 1:
            raise ValueError(
                "BoostedRULModel needs calibration_folds >= 2, cuts_per_unit >= 1, trees >= 1"
            )

    # --- fitting ------------------------------------------------------------------------------
    def _split(self, times: np.ndarray, values: np.ndarray, name: str) -> tuple:
        t = np.asarray(times, dtype=float)
        x = np.asarray(values, dtype=float)
        if x.ndim != 2 or x.shape[0] != t.size or x.shape[1] <= self.settings:
            raise ValueError(
                f"{name}: values must be (n, settings + sensors) = (n, > {self.settings}) with "
                f"one row per time; got {x.shape} for {t.size} times"
            )
        check_history(t, x[:, 0], name)
        if not np.isfinite(x).all():
            raise ValueError(f"{name} has NaN/inf values: drop or interpolate those samples")
        return t, x[:, : self.settings], x[:, self.settings :]

    def _fit_point(self, units: list[tuple]) -> tuple[WindowFeatures, object]:
        import lightgbm

        # a fresh copy of the configured features per fit (the folds must not share state)
        features = replace(self.features).fit(units, self.sensor_names)
        design, target = [], []
        for t, s, x in units:
            rows = slice(self.min_length - 1, None, self.sample_step)
            design.append(features.transform(t, s, x)[rows])
            target.append(np.minimum(t[-1] - t, self.rul_cap)[rows])
        # LightGBM's own training API: its scikit-learn wrapper would need scikit-learn too
        params = {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.leaves,
            "min_data_in_leaf": 40,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.5,
            "max_bin": 63,
            "lambda_l2": 1.0,
            "num_threads": 1,
            "seed": self.seed,
            "deterministic": True,
            "verbose": -1,
        }
        data = lightgbm.Dataset(np.vstack(design), np.concatenate(target), params={"max_bin": 63})
        booster = lightgbm.train(params, data, num_boost_round=self.trees)
        return features, booster

    def fit(self, histories: Sequence[History]) -> BoostedRULModel:
        """Fit the regression on run-to-failure ``histories`` and calibrate its intervals."""
        units = [self._split(t, v, f"histories[{i}]") for i, (t, v) in enumerate(histories)]
        short = [i for i, (t, _, _) in enumerate(units) if t.size <= self.min_length]
        if short:
            raise ValueError(
                f"histories {short[:5]} have at most min_length={self.min_length} samples; "
                "drop them or lower min_length"
            )
        if len(units) < 2 * self.calibration_folds:
            raise ValueError(
                f"fit: {len(units)} units cannot make {self.calibration_folds} calibration folds"
            )
        rng = np.random.default_rng(self.seed)
        predicted, true = [], []
        for held in np.array_split(rng.permutation(len(units)), self.calibration_folds):
            held_set = set(held.tolist())
            features, booster = self._fit_point(
                [u for i, u in enumerate(units) if i not in held_set]
            )
            for index in held:
                t, s, x = units[index]
                kept = np.array([self._cut(t.size, rng) for _ in range(self.cuts_per_unit)])
                rows = features.transform(t, s, x)[kept - 1]
                predicted.append(np.clip(booster.predict(rows), 0.0, self.rul_cap))
                true.append(t[-1] - t[kept - 1])
        self.conformal.fit(np.concatenate(predicted), np.concatenate(true))
        self.features_, self.booster_ = self._fit_point(units)
        return self

    def _cut(self, length: int, rng: np.random.Generator) -> int:
        if self.profile is not None:
            return self.profile.cut(length, rng)
        return int(rng.integers(min(self.min_length, length - 1), length))

    # --- prediction ---------------------------------------------------------------------------
    def predict_point(self, times: np.ndarray, values: np.ndarray) -> float:
        """Point RUL (capped target) at the history's last sample."""
        if not hasattr(self, "booster_"):
            raise RuntimeError("BoostedRULModel is not fitted: call fit() first")
        t, s, x = self._split(times, values, "predict_rul")
        row = self.features_.transform(t, s, x)[-1:]
        return float(np.clip(self.booster_.predict(row)[0], 0.0, self.rul_cap))

    def predict_rul(self, times: np.ndarray, values: np.ndarray) -> ConformalRUL:
        """Point RUL with its horizon-conditional conformal interval."""
        return self.conformal.distribution(self.predict_point(times, values))

    def feature_importance(self) -> list[tuple[str, float]]:
        """(feature, share of the total split gain), largest first: what the model looks at."""
        gain = self.booster_.feature_importance("gain")
        share = gain / max(float(gain.sum()), 1e-300)
        order = np.argsort(share)[::-1]
        return [(self.features_.names[i], float(share[i])) for i in order]
