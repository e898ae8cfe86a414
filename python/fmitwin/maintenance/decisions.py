"""Maintenance predictions: failure mode, probability of failure in a horizon, RUL with interval,
urgency (immediate / soon / scheduled / none) under configurable thresholds, recommended action."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from fmitwin.maintenance.rul import RULDistribution

__all__ = ["URGENCIES", "MaintenancePolicy", "MaintenancePrediction", "predict_maintenance"]

URGENCIES = ("immediate", "soon", "scheduled", "none")

_DEFAULT_ACTIONS = {
    "immediate": "stop or derate the asset and repair {mode} now",
    "soon": "plan the {mode} repair within the next maintenance window",
    "scheduled": "include the {mode} repair in the next scheduled overhaul",
    "none": "no action; keep monitoring {mode}",
}


@dataclass(frozen=True)
class MaintenancePolicy:
    """Urgency thresholds on RUL, in the time unit of the data (e.g. operating hours, cycles).

    The urgency is decided on the conservative end of the RUL interval (its lower bound at
    ``interval_level``) or on the probability of failure within ``immediate``:
    immediate if low <= ``immediate`` or P(fail within ``immediate``) >= ``probability_threshold``;
    soon if low <= ``soon``; scheduled if low <= ``scheduled``; none otherwise or while no
    degradation is detected. ``horizon`` is the horizon of the reported failure probability
    (default ``soon``). ``actions`` maps urgency -> text ({mode} is replaced by the failure mode);
    ``mode_actions`` overrides it per failure mode.
    """

    immediate: float = 24.0
    soon: float = 168.0
    scheduled: float = 720.0
    interval_level: float = 0.9
    probability_threshold: float = 0.5
    horizon: float | None = None
    actions: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_ACTIONS))
    mode_actions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.immediate <= self.soon <= self.scheduled:
            raise ValueError(
                "MaintenancePolicy thresholds must satisfy 0 <= immediate <= soon <= scheduled "
                f"(got {self.immediate}, {self.soon}, {self.scheduled})"
            )
        if not 0 < self.probability_threshold <= 1:
            raise ValueError("MaintenancePolicy probability_threshold must lie in (0, 1]")
        if not 0 < self.interval_level < 1:
            raise ValueError("MaintenancePolicy interval_level must lie in (0, 1), e.g. 0.9")
        missing = set(URGENCIES) - set(self.actions)
        if missing:
            raise ValueError(f"MaintenancePolicy actions lack urgencies {sorted(missing)}")

    def action(self, urgency: str, failure_mode: str) -> str:
        template = self.mode_actions.get(failure_mode, {}).get(urgency, self.actions[urgency])
        return template.format(mode=failure_mode)


@dataclass(frozen=True)
class MaintenancePrediction:
    """One maintenance prediction for an asset at ``time`` (the data's time, not wall clock)."""

    asset: str
    time: float
    failure_mode: str
    degradation_detected: bool
    probability: float
    horizon: float
    rul: float
    rul_low: float
    rul_high: float
    urgency: str
    action: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def predict_maintenance(
    rul: RULDistribution | None,
    *,
    asset: str,
    time: float,
    failure_mode: str,
    policy: MaintenancePolicy | None = None,
) -> MaintenancePrediction:
    """Turn a RUL distribution (None: degradation not detected yet) into a prediction."""
    policy = policy or MaintenancePolicy()
    horizon = policy.soon if policy.horizon is None else policy.horizon
    if rul is None:
        return MaintenancePrediction(
            asset, time, failure_mode, False, 0.0, horizon, math.inf, math.inf, math.inf,
            "none", policy.action("none", failure_mode),
        )  # fmt: skip
    low, high = rul.interval(policy.interval_level)
    if low <= policy.immediate or rul.probability_of_failure(policy.immediate) >= (
        policy.probability_threshold
    ):
        urgency = "immediate"
    elif low <= policy.soon:
        urgency = "soon"
    elif low <= policy.scheduled:
        urgency = "scheduled"
    else:
        urgency = "none"
    return MaintenancePrediction(
        asset=asset,
        time=float(time),
        failure_mode=failure_mode,
        degradation_detected=True,
        probability=rul.probability_of_failure(horizon),
        horizon=float(horizon),
        rul=rul.median,
        rul_low=low,
        rul_high=high,
        urgency=urgency,
        action=policy.action(urgency, failure_mode),
    )
