"""Prognostic metrics and maintenance decisions against hand-computed values."""

import math

import numpy as np
import pytest
from fmitwin.maintenance import (
    EmpiricalRUL,
    MaintenancePolicy,
    alpha_lambda_accuracy,
    interval_coverage,
    phm08_score,
    predict_maintenance,
    rmse,
)


def test_rmse_and_phm08_score_by_hand():
    predicted, true = np.array([10.0, 30.0, 20.0]), np.array([20.0, 20.0, 20.0])
    assert rmse(predicted, true) == pytest.approx(math.sqrt(200.0 / 3.0))
    # early by 10 costs exp(10/13) - 1, late by 10 costs exp(10/10) - 1 (late is worse)
    expected = math.expm1(10 / 13) + math.expm1(1.0)
    assert phm08_score(predicted, true) == pytest.approx(expected)
    assert phm08_score([30.0], [20.0]) > phm08_score([10.0], [20.0])


def test_interval_coverage_and_alpha_lambda():
    assert interval_coverage([0, 0, 5], [10, 10, 6], [5, 11, 5]) == pytest.approx(2 / 3)
    times = np.arange(0.0, 100.0, 10.0)
    exact = 100.0 - times
    assert all(alpha_lambda_accuracy(times, exact, 100.0).values())
    late = alpha_lambda_accuracy(times, exact * 1.5, 100.0, alpha=0.2, lambdas=(0.5,))
    assert late == {0.5: False}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rmse([], []), "non-empty"),
        (lambda: rmse([1.0, 2.0], [1.0]), "equal length"),
        (lambda: phm08_score([np.nan], [1.0]), "finite"),
        (lambda: interval_coverage([2.0], [1.0], [1.5]), "low bound"),
        (lambda: alpha_lambda_accuracy([0.0, 0.0], [1.0, 1.0], 5.0), "strictly increasing"),
    ],
)
def test_metric_input_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_urgency_follows_configurable_thresholds():
    policy = MaintenancePolicy(immediate=5, soon=20, scheduled=50, horizon=30)
    cases = {"immediate": 3.0, "soon": 15.0, "scheduled": 40.0, "none": 200.0}
    for urgency, rul in cases.items():
        distribution = EmpiricalRUL(np.full(10, rul))
        prediction = predict_maintenance(
            distribution, asset="pump-1", time=100.0, failure_mode="bearing wear", policy=policy
        )
        assert prediction.urgency == urgency
        assert prediction.probability == pytest.approx(1.0 if rul <= 30 else 0.0)
        assert "bearing wear" in prediction.action
    undetected = predict_maintenance(None, asset="pump-1", time=1.0, failure_mode="bearing wear")
    assert undetected.urgency == "none" and not undetected.degradation_detected
    assert math.isinf(undetected.rul) and undetected.probability == 0.0
    custom = MaintenancePolicy(mode_actions={"seal leak": {"immediate": "replace the seal"}})
    leak = predict_maintenance(
        EmpiricalRUL(np.zeros(3)), asset="p", time=0.0, failure_mode="seal leak", policy=custom
    )
    assert leak.to_dict()["action"] == "replace the seal"


def test_policy_rejects_inconsistent_thresholds():
    with pytest.raises(ValueError, match="immediate <= soon <= scheduled"):
        MaintenancePolicy(immediate=50, soon=20)
    with pytest.raises(ValueError, match="lack urgencies"):
        MaintenancePolicy(actions={"none": "x"})
