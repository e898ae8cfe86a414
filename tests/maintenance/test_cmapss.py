"""C-MAPSS FD001: the test-like validation protocol, the default RUL model on it, and the
``fmitwin rul`` command.

The official test truth (RUL_FD001) is not shipped: accuracy is measured on training engines held
out of the fit and cut the way the test file's engines are cut (``TruncationProfile``).
"""

import gzip
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from fmitwin.datasets import cmapss_histories, load_cmapss, shipped_cmapss_path
from fmitwin.maintenance import (
    BoostedRULModel,
    FleetRULEstimator,
    MaintenancePolicy,
    RULModel,
    predict_maintenance,
    summarise,
    validate,
)
from fmitwin.maintenance.cmapss import ModelFactory, cut_profile, health_index
from scipy import stats


@pytest.fixture(scope="module")
def engines():
    return (
        list(cmapss_histories(load_cmapss("train")).values()),
        list(cmapss_histories(load_cmapss("test")).values()),
    )


@pytest.fixture(scope="module")
def profile(engines):
    return cut_profile(*engines)


def test_protocol_cuts_training_engines_like_the_test_file(engines, profile):
    """Cut by the fitted profile, the training engines look like the test file's engines: the
    same distribution of history lengths and of health at the cut (two-sample KS tests)."""
    training, testing = engines
    index = health_index(training)
    rng = np.random.default_rng(5)
    picks = rng.integers(0, len(training), 1000)
    kept = [profile.cut(training[p][0].size, rng) for p in picks]
    lengths = np.array(kept)
    health = np.array(
        [
            index.transform(training[p][1][:k, 3:])[-10:].mean()
            for p, k in zip(picks, kept, strict=True)
        ]
    )
    test_lengths = np.array([t.size for t, _ in testing])
    test_health = np.array([index.transform(v[:, 3:])[-10:].mean() for _, v in testing])
    assert stats.ks_2samp(lengths, test_lengths).pvalue > 0.05
    assert stats.ks_2samp(health, test_health).pvalue > 0.05
    # measured: hide Uniform(10, 140) cycles, keep >= 31 (the shortest test history)
    assert profile.min_length == test_lengths.min() == 31
    assert 0 <= profile.low < profile.high <= 200
    # the old protocol's cuts (uniform over each engine's life) are rejected by the same test
    uniform = np.array([rng.integers(31, training[p][0].size) for p in picks])
    assert stats.ks_2samp(uniform, test_lengths).pvalue < 0.05 or (
        stats.ks_2samp(lengths, test_lengths).statistic
        < stats.ks_2samp(uniform, test_lengths).statistic
    )


def test_validation_protocol_on_a_reduced_setting(engines, profile):
    """Fast version of benchmarks/rul_fd001.py (there: 5 folds x 3 seeds, default model, RMSE
    9.7 +/- 1.3 capped, 11.0 +/- 0.9 raw, score 177 +/- 43, coverage 91.7 +/- 1.2 %)."""
    training, _ = engines

    def small_model():
        return BoostedRULModel(trees=60, calibration_folds=3, cuts_per_unit=6, profile=profile)

    table = validate(small_model, training, profile, folds=3, seeds=(0,))
    assert len(table) == 100 and sorted(table["unit"]) == list(range(100))
    summary = summarise(table)
    mean = summary.loc["mean"]
    # measured 9.5 capped, 11.4 raw, score 167, coverage 0.93
    assert mean["rmse_capped"] < 13.0
    assert mean["rmse_raw"] < 14.0
    assert mean["score"] < 400
    assert 0.8 <= mean["coverage"] <= 1.0
    assert (table["rul_low"] <= table["rul"]).all() and (table["rul"] <= table["rul_high"]).all()
    assert summary.loc["std"].eq(0).all()  # one seed: no spread


def test_models_share_the_rul_interface_and_save(engines, profile, tmp_path):
    training, _ = engines
    model = ModelFactory("boosted", profile=profile)()
    assert isinstance(model, RULModel) and isinstance(FleetRULEstimator(), RULModel)
    model = BoostedRULModel(trees=40, calibration_folds=2, cuts_per_unit=4).fit(training[:60])
    times, values = training[70]
    estimate = model.predict_rul(times[:100], values[:100])
    low, high = estimate.interval(0.9)
    assert low <= estimate.median <= high
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    assert loaded.predict_rul(times[:100], values[:100]).interval(0.9) == (low, high)
    # the regression looks at degradation trends: drift and slopes dominate the split gain
    importance = dict(model.feature_importance())
    top = sorted(importance, key=importance.get, reverse=True)[:5]
    assert any("drift" in name or "slope" in name for name in top)


def test_rul_command_writes_one_row_per_test_unit(tmp_path):
    """The documented form: fmitwin rul --train train_FD001.txt --test test_FD001.txt -o rul.csv"""
    for split in ("train", "test"):
        plain = gzip.decompress(shipped_cmapss_path(split).read_bytes())
        (tmp_path / f"{split}_FD001.txt").write_bytes(plain)
    result = subprocess.run(
        [
            sys.executable, "-m", "fmitwin", "rul", "--train", "train_FD001.txt",
            "--test", "test_FD001.txt", "-o", "rul.csv", "--save", "model.pkl",
        ],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "wrote RUL of 100 units to rul.csv" in result.stdout
    output = tmp_path / "rul.csv"
    lines = output.read_text().splitlines()
    assert lines[0] == "unit,rul,rul_low,rul_high"
    table = pd.read_csv(output)
    assert len(table) == 100 and table["unit"].tolist() == list(range(1, 101))
    assert ((table["rul_low"] <= table["rul"]) & (table["rul"] <= table["rul_high"])).all()
    assert table["rul"].between(0, 125).all()
    # test units that ran longest look most degraded: RUL falls with observed length
    lengths = load_cmapss("test").groupby("unit")["cycle"].max().to_numpy()
    assert np.corrcoef(lengths, table["rul"])[0, 1] < -0.5
    model = pickle.loads((tmp_path / "model.pkl").read_bytes())
    test = cmapss_histories(load_cmapss("test"))
    assert model.predict_rul(*test[7]).median == pytest.approx(table["rul"][6], abs=0.006)


def test_rul_command_reports_unreadable_input(tmp_path):
    bad = tmp_path / "train.txt"
    bad.write_text("1 1 2 3\n")
    code = subprocess.run(
        [sys.executable, "-m", "fmitwin", "rul", "--train", str(bad), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 1
    assert "train.txt" in code.stderr and "26" in code.stderr
    assert not (tmp_path / "o").exists()


def test_estimator_errors_and_maintenance_decision(engines):
    training, _ = engines
    with pytest.raises(ValueError, match="no histories"):
        FleetRULEstimator().fit([])
    with pytest.raises(ValueError, match="rul_cap"):
        FleetRULEstimator(rul_cap=0)
    with pytest.raises(ValueError, match="settings"):
        FleetRULEstimator().fit([(t, v[:, :2]) for t, v in training])
    with pytest.raises(ValueError, match="calibration folds"):
        BoostedRULModel().fit(training[:5])
    with pytest.raises(ValueError, match="NaN"):
        BoostedRULModel().fit([(t, np.where(t[:, None] == 3, np.nan, v)) for t, v in training])
    estimator = FleetRULEstimator().fit(training[:60])
    times, values = training[79]
    near_failure = estimator.predict_rul(times[:-3], values[:-3])
    healthy = estimator.predict_rul(times[:40], values[:40])
    policy = MaintenancePolicy(immediate=10, soon=30, scheduled=80, horizon=20)
    urgent = predict_maintenance(
        near_failure, asset="80", time=times.size - 3, failure_mode="HPC degradation",
        policy=policy,
    )  # fmt: skip
    calm = predict_maintenance(
        healthy, asset="80", time=40, failure_mode="HPC degradation", policy=policy
    )
    assert urgent.urgency in ("immediate", "soon") and urgent.probability > 0.5
    assert "HPC degradation" in urgent.action
    assert calm.urgency == "none" and calm.probability < 0.05
    assert urgent.rul_low <= urgent.rul <= urgent.rul_high
