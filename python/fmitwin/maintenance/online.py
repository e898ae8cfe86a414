"""Remaining life online, from a running twin's estimates of a health indicator.

A twin with a prognosis (``[maintenance]`` in its twin file, or its fleet template's
``[templates.<name>.maintenance]``) turns each new estimate of the ``indicator`` (an estimated
state or parameter, with its Kalman sigma) into an observation of a linear degradation trend
(:class:`~fmitwin.maintenance.LinearDegradationModel`, nearly uninformative prior); once the
trend is significant, the RUL distribution is that of the trend crossing ``failure_threshold``
(:class:`~fmitwin.maintenance.CrossingTimeRUL`). The live twin publishes its median, 90 %
interval and probability of failure within ``horizon``; the fleet service records the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fmitwin.maintenance.degradation import LinearDegradationModel
from fmitwin.maintenance.rul import RULDistribution

__all__ = ["Prognosis", "RemainingLife", "RulEstimate"]

#: Names of common time units, by their length in seconds.
_UNIT_NAMES = {1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "d"}

#: The level of the published RUL interval.
INTERVAL = 0.9


@dataclass(frozen=True)
class Prognosis:
    """How a twin turns its estimates into remaining life: the estimated state or parameter
    ``indicator`` follows a linear trend and the asset fails when it reaches
    ``failure_threshold``; RUL is in ``time_unit`` seconds (3600: hours). ``noise``: scatter of
    the indicator about its trend, in its unit. ``max_sigma``: estimates less certain than this
    are not used (the filter is still converging from its initial guess). ``horizon``: the
    probability of failure within this many time units is published."""

    indicator: str
    failure_threshold: float
    time_unit: float = 3600.0
    noise: float = 1.0
    max_sigma: float = math.inf
    horizon: float = 100.0

    @property
    def unit(self) -> str:
        """The time unit's name (``h`` for 3600 s), or ``<n> s``."""
        return _UNIT_NAMES.get(self.time_unit, f"{self.time_unit:g} s")


@dataclass(frozen=True)
class RulEstimate:
    """What a twin publishes of its remaining life at event time ``t``: the median ``rul``,
    the 90 % interval [``low``, ``high``] and ``p_failure`` = P(failure within ``horizon``),
    all in ``unit``."""

    t: float
    rul: float
    low: float
    high: float
    p_failure: float
    horizon: float
    unit: str

    def as_dict(self) -> dict[str, float | str | None]:
        """JSON-ready: a non-finite number (an interval without an upper end) is None."""
        return {
            k: v if isinstance(v, str) or math.isfinite(v) else None for k, v in vars(self).items()
        }


class RemainingLife:
    """A twin's remaining life from its estimates of the prognosis indicator. Times are
    counted from the first estimate used, in the prognosis' time unit; ``latest`` is the last
    :class:`RulEstimate` (None until a trend shows)."""

    def __init__(self, prognosis: Prognosis) -> None:
        self.prognosis = prognosis
        scale = max(abs(prognosis.failure_threshold), 1.0)
        self.model = LinearDegradationModel(
            prognosis.failure_threshold,
            prior_mean=[0.0, 0.0],
            prior_cov=np.diag([1e3 * scale, 1e3 * scale]) ** 2,  # nearly uninformative
            noise_std=prognosis.noise,
        )
        self.t0: float | None = None
        self.last: float | None = None
        self.latest: RulEstimate | None = None

    def update(
        self, t: float | None, states: Mapping[str, float], sigma: Mapping[str, float]
    ) -> RULDistribution | None:
        """Condition on the estimate at event time ``t`` (seconds) of the named ``states`` with
        their ``sigma``; the RUL distribution once a trend shows, else None (also for an
        estimate not newer than the last one used, or too uncertain)."""
        name = self.prognosis.indicator
        if t is None or name not in states or not math.isfinite(states[name]):
            return None
        if not sigma[name] <= self.prognosis.max_sigma:
            return None
        if self.t0 is None:
            self.t0 = t
        now = (t - self.t0) / self.prognosis.time_unit
        if self.last is not None and now <= self.last:
            return None
        self.last = now
        self.model.update(now, states[name], sigma[name])
        rul = self.model.rul(now=now)
        if rul is not None:
            low, high = rul.interval(INTERVAL)
            self.latest = RulEstimate(
                t=float(t),
                rul=float(rul.median),
                low=float(low),
                high=float(high),
                p_failure=rul.probability_of_failure(self.prognosis.horizon),
                horizon=self.prognosis.horizon,
                unit=self.prognosis.unit,
            )
        return rul
