"""Maintenance reports per asset: PNG plots of the health indicator with its fitted degradation,
the RUL with its interval over time and the latest RUL distribution, plus a summary table."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fmitwin.maintenance.decisions import (
    MaintenancePolicy,
    MaintenancePrediction,
    predict_maintenance,
)
from fmitwin.maintenance.degradation import check_history
from fmitwin.maintenance.rul import RULDistribution

__all__ = ["AssetReport", "RULTrack", "track_rul", "write_asset_report", "write_summary"]


@dataclass(frozen=True)
class RULTrack:
    """RUL estimates of one asset over time; NaN where no degradation was detected yet."""

    times: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    latest: RULDistribution | None


def track_rul(
    times: np.ndarray,
    estimate: Callable[[int], RULDistribution | None],
    *,
    level: float = 0.9,
    every: int = 1,
    first: int = 1,
) -> RULTrack:
    """Call ``estimate(n)`` (the RUL after the first n samples) for n = first, first + every, ...
    and always for the last sample; collect medians and ``level`` intervals."""
    counts = sorted({*range(first, times.size + 1, every), times.size})
    rows, latest = [], None
    for n in counts:
        latest = estimate(n)
        if latest is None:
            rows.append((times[n - 1], math.nan, math.nan, math.nan))
        else:
            rows.append((times[n - 1], latest.median, *latest.interval(level)))
    table = np.asarray(rows, dtype=float)
    return RULTrack(table[:, 0], table[:, 1], table[:, 2], table[:, 3], latest)


@dataclass(frozen=True)
class AssetReport:
    prediction: MaintenancePrediction
    plots: tuple[Path, ...]


def write_asset_report(
    directory: str | Path,
    asset: str,
    times: np.ndarray,
    indicator: np.ndarray,
    track: RULTrack,
    *,
    failure_mode: str,
    policy: MaintenancePolicy | None = None,
    fitted: np.ndarray | None = None,
    threshold: float | None = None,
    failure_time: float | None = None,
    time_unit: str = "h",
    indicator_name: str = "health indicator",
    fitted_name: str = "fitted degradation",
) -> AssetReport:
    """Write ``<asset>_health.png``, ``<asset>_rul.png`` and ``<asset>_distribution.png``.

    ``fitted`` (n,) is the model's degradation path on ``times``; ``failure_time`` (if known)
    draws the true RUL for comparison.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times, indicator = check_history(times, indicator, f"indicator of asset {asset!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(asset))
    paths = []

    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(times, indicator, ".", markersize=3, label=indicator_name)
    if fitted is not None:
        axis.plot(times, fitted, "-", label=fitted_name)
    if threshold is not None:
        axis.axhline(threshold, color="red", linestyle="--", label="failure threshold")
    axis.set(xlabel=f"operating time [{time_unit}]", ylabel=indicator_name, title=f"{asset}")
    axis.legend()
    paths.append(_save(figure, directory / f"{stem}_health.png"))

    figure, axis = plt.subplots(figsize=(7, 4))
    axis.fill_between(track.times, track.low, track.high, alpha=0.3, label="RUL interval")
    axis.plot(track.times, track.median, "-", label="RUL median")
    if failure_time is not None:
        axis.plot(track.times, failure_time - track.times, "k--", label="true RUL")
    axis.set(xlabel=f"operating time [{time_unit}]", ylabel=f"RUL [{time_unit}]", title=f"{asset}")
    axis.legend()
    paths.append(_save(figure, directory / f"{stem}_rul.png"))

    figure, axis = plt.subplots(figsize=(7, 4))
    if track.latest is not None:
        high = track.latest.quantile(0.995)
        grid = np.linspace(0.0, high if math.isfinite(high) else 10 * track.latest.median, 400)
        axis.plot(grid, track.latest.cdf(grid), "-")
        axis.axvline(track.latest.median, linestyle=":", label="median")
        axis.legend()
    else:
        axis.text(0.5, 0.5, "no degradation detected yet", ha="center", transform=axis.transAxes)
    axis.set(
        xlabel=f"remaining useful life [{time_unit}]",
        ylabel="probability of failure within",
        title=f"{asset} at {times[-1]:g} {time_unit}",
    )
    paths.append(_save(figure, directory / f"{stem}_distribution.png"))

    prediction = predict_maintenance(
        track.latest, asset=str(asset), time=float(times[-1]), failure_mode=failure_mode,
        policy=policy,
    )  # fmt: skip
    return AssetReport(prediction, tuple(paths))


def _save(figure: object, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_summary(directory: str | Path, reports: Sequence[AssetReport]) -> pd.DataFrame:
    """Summary table of all assets, most urgent first: ``summary.csv`` and ``summary.md``."""
    order = {"immediate": 0, "soon": 1, "scheduled": 2, "none": 3}
    table = pd.DataFrame([r.prediction.to_dict() for r in reports])
    table = table.sort_values(
        ["urgency", "rul"], key=lambda c: c.map(order) if c.name == "urgency" else c
    )
    directory = Path(directory)
    table.to_csv(directory / "summary.csv", index=False, float_format="%.4g")
    columns = ["asset", "time", "failure_mode", "rul", "rul_low", "rul_high", "probability",
               "urgency", "action"]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table[columns].itertuples(index=False):
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    (directory / "summary.md").write_text("\n".join(lines) + "\n")
    return table
