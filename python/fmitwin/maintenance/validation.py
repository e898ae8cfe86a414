"""Validation that predicts the test result: held-out run-to-failure units cut the way the test
units are cut, repeated over folds and seeds, reported as mean and spread.

How the test units were cut is not given, but it shows in the test file itself: their history
lengths and how degraded they look at the cut. ``TruncationProfile`` models a cut as "the unit's
last ``r`` samples are hidden", r ~ Uniform(low, high) independent of the unit, with at least
``min_length`` samples kept (the shortest test history). ``TruncationProfile.fit`` picks (low,
high) on a grid so that cutting the training units reproduces both observable distributions of the
test units: history length n and health at the cut (mean health index over the last 10 samples),
minimising the larger of the two Kolmogorov-Smirnov distances. Nothing of the test truth is used.

``validate`` then splits the training units into ``folds`` (per seed), fits a fresh model on the
other folds, cuts each held-out unit once by the profile and predicts it: each seed gives one
pseudo test set as large as the training fleet, scored like the official one (RMSE with the truth
capped and raw, PHM08 score summed over units, interval coverage, per horizon band coverage and
mean width). The summary is the mean and standard deviation over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fmitwin.maintenance.metrics import interval_coverage, phm08_score, rmse
from fmitwin.maintenance.model import History, RULModel

__all__ = ["HORIZON_BANDS", "TruncationProfile", "summarise", "validate"]

# horizon bands (true RUL, in the data's time unit) for the per-band coverage and width
HORIZON_BANDS = (0.0, 25.0, 50.0, 75.0, 100.0, 125.0, np.inf)


@dataclass(frozen=True)
class TruncationProfile:
    """Hide the last r ~ Uniform(low, high) samples of a unit, keeping >= ``min_length``."""

    low: float
    high: float
    min_length: int

    def cut(self, length: int, rng: np.random.Generator) -> int:
        """Number of samples kept of a run-to-failure history of ``length`` samples (>= 1
        hidden, so the truth RUL is positive)."""
        hidden = int(np.rint(rng.uniform(self.low, self.high)))
        return int(np.clip(length - hidden, min(self.min_length, length - 1), length - 1))

    @classmethod
    def fit(
        cls,
        training: Sequence[tuple[np.ndarray, np.ndarray]],
        testing: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        draws: int = 2000,
        seed: int = 0,
    ) -> TruncationProfile:
        """Profile matching the test units' lengths and final health.

        ``training`` [(times, health index), ...] run to failure; ``testing`` the same of the
        test units as cut. The grid (samples): low in 0, 5, ... below half the longest training
        life, high in low + 20, low + 30, ... up to that life.
        """
        if len(training) < 2 or len(testing) < 2:
            raise ValueError("TruncationProfile.fit needs at least 2 training and 2 test units")
        test_lengths = np.array([hi.size for _, hi in testing])
        test_health = np.array([hi[-10:].mean() for _, hi in testing])
        min_length = int(test_lengths.min())
        lives = np.array([hi.size for _, hi in training])
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(training), draws)
        uniform = rng.random(draws)
        # health at every possible cut (mean of the last 10 samples kept), flattened per unit
        trailing, offsets = [], np.cumsum([0, *lives[:-1]])
        for _, hi in training:
            sums = np.r_[0.0, np.cumsum(hi)]
            end = np.arange(1, hi.size + 1)
            start = np.maximum(end - 10, 0)
            trailing.append((sums[end] - sums[start]) / (end - start))
        trailing = np.concatenate(trailing)
        life, floor = lives[pick], np.minimum(min_length, lives[pick] - 1)
        best = (np.inf, 0, 0)
        top = int(lives.max())
        for low in range(0, top // 2, 5):
            for high in range(low + 20, top + 1, 10):
                kept = np.clip(life - np.rint(low + (high - low) * uniform), floor, life - 1)
                health = trailing[offsets[pick] + kept.astype(int) - 1]
                distance = max(
                    stats.ks_2samp(kept, test_lengths).statistic,
                    stats.ks_2samp(health, test_health).statistic,
                )
                if distance < best[0]:
                    best = (distance, low, high)
        return cls(float(best[1]), float(best[2]), min_length)


def validate(
    make_model: Callable[[], RULModel],
    histories: Sequence[History],
    profile: TruncationProfile,
    *,
    folds: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    level: float = 0.9,
    rul_cap: float = 125.0,
) -> pd.DataFrame:
    """Per-prediction table: seed, unit (index into ``histories``), length, true_rul (raw),
    rul, rul_low, rul_high. ``make_model()`` returns an unfitted model."""
    if folds < 2 or len(histories) < 2 * folds:
        raise ValueError(f"validate: {len(histories)} units cannot make {folds} folds")
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for held in np.array_split(rng.permutation(len(histories)), folds):
            held_set = set(held.tolist())
            model = make_model().fit([h for i, h in enumerate(histories) if i not in held_set])
            for index in held:
                times, values = histories[index]
                kept = profile.cut(times.size, rng)
                estimate = model.predict_rul(times[:kept], values[:kept])
                if estimate is None:
                    raise ValueError(
                        f"validate: the model claimed no RUL for unit {index} after {kept} "
                        "samples; the protocol scores models that always estimate (for a "
                        "degradation model, lower its SlopeDetector alpha)"
                    )
                low, high = estimate.interval(level)
                true = times[-1] - times[kept - 1]
                rows.append((seed, index, kept, true, estimate.median, low, high))
    columns = ["seed", "unit", "length", "true_rul", "rul", "rul_low", "rul_high"]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["rul_cap"] = rul_cap
    return table


def summarise(table: pd.DataFrame, rul_cap: float | None = None) -> pd.DataFrame:
    """Metrics per seed (rows) and their mean and std over seeds (last two rows): rmse_capped,
    rmse_raw, score (PHM08, summed over the seed's units, raw truth), coverage (raw truth), width
    (mean interval width), and coverage/width per true-RUL band of ``HORIZON_BANDS``."""
    cap = table.attrs.get("rul_cap", 125.0) if rul_cap is None else rul_cap
    rows = {}
    for seed, part in table.groupby("seed"):
        true, rul = part["true_rul"].to_numpy(), part["rul"].to_numpy()
        low, high = part["rul_low"].to_numpy(), part["rul_high"].to_numpy()
        inside = (true >= low) & (true <= high)
        row = {
            "rmse_capped": rmse(rul, np.minimum(true, cap)),
            "rmse_raw": rmse(rul, true),
            "score": phm08_score(rul, true),
            "coverage": interval_coverage(low, high, true),
            "width": float(np.mean(high - low)),
        }
        band = np.digitize(true, HORIZON_BANDS[1:-1])
        for b, (start, end) in enumerate(zip(HORIZON_BANDS[:-1], HORIZON_BANDS[1:], strict=True)):
            name = f"{start:g}-{end:g}" if np.isfinite(end) else f">{start:g}"
            chosen = band == b
            row[f"coverage {name}"] = float(inside[chosen].mean()) if chosen.any() else np.nan
            row[f"width {name}"] = float((high - low)[chosen].mean()) if chosen.any() else np.nan
        rows[seed] = row
    per_seed = pd.DataFrame.from_dict(rows, orient="index")
    spread = per_seed.std(ddof=1) if len(per_seed) > 1 else per_seed.iloc[0] * 0.0
    return pd.concat([per_seed, per_seed.mean().to_frame("mean").T, spread.to_frame("std").T])
