"""Maintenance reports per asset: PNG plots of the health indicator with its fitted degradation,
the RUL with its interval over time and the latest RUL distribution, plus a summary table ranked
by urgency; ``fleet_reports`` builds them for every asset of a fleet from any ``RULModel``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fmitwin.maintenance.decisions import (
    MaintenancePolicy,
    MaintenancePrediction,
    predict_maintenance,
)
from fmitwin.maintenance.degradation import (
    ExponentialDegradationModel,
    LinearDegradationModel,
    check_history,
)
from fmitwin.maintenance.model import History, RULModel
from fmitwin.maintenance.rul import RULDistribution

__all__ = [
    "AssetReport",
    "RULTrack",
    "fleet_reports",
    "indicator_reports",
    "track_rul",
    "write_asset_report",
    "write_summary",
]


@dataclass(frozen=True)
class RULTrack:
    """RUL estimates of one asset over time; NaN where no degradation was detected yet."""

    times: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    latest: RULDistribution | None


def track_rul(
    model: RULModel,
    times: np.ndarray,
    values: np.ndarray,
    *,
    level: float = 0.9,
    every: int = 1,
    first: int = 1,
) -> RULTrack:
    """``model.predict_rul`` on the first n samples of the history (times, values) for
    n = first, first + every, ... and always for the last sample; medians and ``level``
    intervals."""
    counts = sorted({*range(first, times.size + 1, every), times.size})
    rows, latest = [], None
    for n in counts:
        latest = model.predict_rul(times[:n], values[:n])
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


def fleet_reports(
    directory: str | Path,
    model: RULModel,
    histories: Mapping[str, History],
    *,
    failure_mode: str,
    policy: MaintenancePolicy,
    plotted: Sequence[str] | None = None,
    indicator: Callable[[np.ndarray], np.ndarray] | None = None,
    fitted: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    threshold: float | None = None,
    time_unit: str = "h",
    indicator_name: str = "health indicator",
    fitted_name: str = "fitted degradation",
    every: int = 5,
    first: int = 1,
) -> list[AssetReport]:
    """A maintenance prediction for every asset of ``histories`` {asset: (times, values)} at its
    last sample, and the plots of ``plotted`` assets (default all).

    ``indicator(values) -> (n,)`` is what the health plot shows (default: the values, which must
    then be one channel); ``fitted(times, indicator) -> (n,)`` its trend line.
    """
    plotted = list(histories) if plotted is None else list(plotted)
    unknown = [a for a in plotted if a not in histories]
    if unknown:
        raise ValueError(f"assets {unknown} to plot are not among the histories")
    show = indicator or (lambda values: np.asarray(values, dtype=float))
    reports = []
    for asset, (times, values) in histories.items():
        if asset not in plotted:
            prediction = predict_maintenance(
                model.predict_rul(times, values), asset=str(asset), time=float(times[-1]),
                failure_mode=failure_mode, policy=policy,
            )  # fmt: skip
            reports.append(AssetReport(prediction, ()))
            continue
        track = track_rul(
            model, times, values, level=policy.interval_level, every=every,
            first=min(first, times.size),
        )  # fmt: skip
        health = show(values)
        reports.append(
            write_asset_report(
                directory,
                str(asset),
                times,
                health,
                track,
                failure_mode=failure_mode,
                policy=policy,
                fitted=None if fitted is None else fitted(times, health),
                threshold=threshold,
                time_unit=time_unit,
                indicator_name=indicator_name,
                fitted_name=fitted_name,
            )  # fmt: skip
        )
    return reports


DEGRADATION_MODELS = {"exponential": ExponentialDegradationModel, "linear": LinearDegradationModel}


def indicator_reports(
    directory: str | Path,
    fleet: Mapping[str, History],
    histories: Mapping[str, History],
    *,
    model: str = "exponential",
    threshold: float | None = None,
    failure_mode: str = "degradation",
    policy: MaintenancePolicy | None = None,
    every: int = 5,
) -> list[AssetReport]:
    """Reports on assets' single-indicator ``histories`` {asset: (hours, values)} with a
    degradation model of ``DEGRADATION_MODELS`` fitted on the run-to-failure ``fleet``; the
    health plot shows each asset's posterior path."""
    if model not in DEGRADATION_MODELS:
        raise ValueError(
            f"unknown degradation model {model!r}; use one of {list(DEGRADATION_MODELS)}"
        )
    fitted = DEGRADATION_MODELS[model].fit(list(fleet.values()), threshold=threshold)
    return fleet_reports(
        directory, fitted, histories, failure_mode=failure_mode,
        policy=policy or MaintenancePolicy(), threshold=fitted.threshold,
        fitted=lambda times, values: fitted.conditioned(times, values).predict(times),
        every=every, first=1,
    )  # fmt: skip
