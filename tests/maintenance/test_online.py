"""The online remaining life of a twin (fmitwin.maintenance.online), which the live twin
publishes and the fleet service records."""

import math

import numpy as np
from fmitwin.maintenance.online import Prognosis, RemainingLife


def test_remaining_life_from_a_twin_indicator_trend():
    rng = np.random.default_rng(3)
    prognosis = Prognosis("UA", failure_threshold=80.0, time_unit=3600.0, noise=0.3, horizon=48)
    tracker = RemainingLife(prognosis)
    slope, start = 1.5 / 24, 45.0  # W/K per hour: 1.5 a day
    rul = None
    for hour in range(0, 24 * 10, 2):
        value = start + slope * hour + 0.3 * rng.standard_normal()
        rul = tracker.update(1.8e9 + 3600.0 * hour, {"UA": value}, {"UA": 0.2}) or rul
    truth = (80.0 - (start + slope * hour)) / slope
    low, high = rul.interval(0.9)
    assert low < truth < high
    assert abs(rul.median - truth) < 0.1 * truth
    latest = tracker.latest
    assert (latest.rul, latest.low, latest.high) == (rul.median, low, high)
    assert latest.p_failure == rul.probability_of_failure(48) and latest.unit == "h"
    assert latest.as_dict()["t"] == 1.8e9 + 3600.0 * hour


def test_estimates_that_cannot_be_used_change_nothing():
    tracker = RemainingLife(Prognosis("UA", failure_threshold=80.0, max_sigma=1.0))
    assert tracker.update(None, {"UA": 40.0}, {"UA": 0.1}) is None  # no estimate yet
    assert tracker.update(0.0, {"T": 300.0}, {"T": 0.1}) is None  # not the indicator
    assert tracker.update(0.0, {"UA": math.nan}, {"UA": 0.1}) is None
    assert tracker.update(0.0, {"UA": 40.0}, {"UA": 5.0}) is None  # still converging
    assert tracker.t0 is None and tracker.latest is None
    tracker.update(10.0, {"UA": 40.0}, {"UA": 0.1})
    assert tracker.update(10.0, {"UA": 41.0}, {"UA": 0.1}) is None  # not newer
    assert tracker.last == 0.0


def test_time_unit_names():
    assert [Prognosis("x", 1.0, time_unit=u).unit for u in (1, 60, 3600, 86400, 7.5)] == [
        "s",
        "min",
        "h",
        "d",
        "7.5 s",
    ]
