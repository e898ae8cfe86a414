"""Horizon-conditional (Mondrian) conformal intervals: coverage at nominal on synthetic data
whose error grows with the horizon, in every band."""

import math

import numpy as np
import pytest
from fmitwin.maintenance import ConformalRUL, HorizonConformal


def heteroscedastic(rng, count):
    predicted = rng.uniform(0.0, 125.0, count)
    true = predicted + (2.0 + 0.2 * predicted) * rng.standard_normal(count)
    return predicted, np.maximum(true, 0.0)  # a remaining life is never negative


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_coverage_is_nominal_in_every_band(level):
    """Averaged over 10 calibrations of 200 pairs per band, each band holds the truth at the
    nominal rate (conformal: >= level, exceeding it by at most 1 / (n + 1))."""
    rng = np.random.default_rng(3)
    coverage, widths = np.zeros((10, 5)), np.zeros((10, 5))
    for repeat in range(10):
        conformal = HorizonConformal(bands=5).fit(*heteroscedastic(rng, 1000))
        table = conformal.table(level)
        assert table["pairs"].sum() == 1000 and (table["coverage"] >= level).all()
        predicted, true = heteroscedastic(rng, 5000)
        band = conformal.band(predicted)
        low = np.maximum(predicted + table["low"].to_numpy()[band], 0.0)
        high = predicted + table["high"].to_numpy()[band]
        for p in predicted[:5]:  # the table's offsets are the distribution's interval
            b = conformal.band(p)
            expected = (max(p + table["low"][b], 0.0), p + table["high"][b])
            assert conformal.distribution(p).interval(level) == pytest.approx(expected)
        inside = (true >= low) & (true <= high)
        for b in range(5):
            coverage[repeat, b] = inside[band == b].mean()
            widths[repeat, b] = np.mean(high[band == b] - low[band == b])
    assert np.all(np.abs(coverage.mean(axis=0) - level) < 0.03), coverage.mean(axis=0)
    mean_width = widths.mean(axis=0)
    assert np.all(np.diff(mean_width) > 0)  # wider at long horizons, where errors are larger


def test_conformal_ranks_and_errors():
    residuals = np.arange(-9.0, 10.0)  # 19 sorted residuals
    rul = ConformalRUL(5.0, residuals)
    # ranks floor(20 * 0.05) = 1 and ceil(20 * 0.95) = 19: the extreme residuals
    assert rul.interval(0.9) == (0.0, 14.0)  # 5 - 9 clipped at 0
    assert rul.quantile(0.99) == math.inf  # rank 20 of 19
    assert rul.median == 5.0
    with pytest.raises(ValueError, match="at least 40"):
        HorizonConformal().fit(np.zeros(10), np.zeros(10))
    with pytest.raises(RuntimeError, match="not fitted"):
        HorizonConformal().distribution(3.0)
