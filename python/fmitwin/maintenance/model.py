"""The one interface of every remaining-life model: fit on run-to-failure histories, predict
the RUL distribution of a unit from its history so far.

A history is ``(times (n,), values)`` with ``values`` (n,) for a single health indicator or
(n, k) for k channels (e.g. C-MAPSS operational settings and sensors); a run-to-failure history
ends at the unit's failure. ``predict_rul`` returns a ``RULDistribution`` (median, intervals at
any level, probability of failure within a horizon) or None while the model claims no RUL yet
(a degradation model before its slope test detects degradation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from fmitwin.maintenance.rul import RULDistribution

__all__ = ["History", "RULModel"]

History = tuple[np.ndarray, np.ndarray]


@runtime_checkable
class RULModel(Protocol):
    """Remaining-life model: ``fit`` returns the fitted model (use the return value: the
    parametric degradation models build a new one), ``predict_rul`` estimates at the history's
    last time."""

    def fit(self, histories: Sequence[History]) -> RULModel: ...

    def predict_rul(self, times: np.ndarray, values: np.ndarray) -> RULDistribution | None: ...
