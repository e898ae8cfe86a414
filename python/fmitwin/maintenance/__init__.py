"""Predictive maintenance: health indicators, degradation models with Bayesian updating, RUL
distributions, maintenance decisions, prognostic metrics and reports."""

from fmitwin.maintenance.decisions import (
    MaintenancePolicy,
    MaintenancePrediction,
    predict_maintenance,
)
from fmitwin.maintenance.degradation import (
    ExponentialDegradationModel,
    LinearDegradationModel,
    SlopeDetector,
    check_history,
)
from fmitwin.maintenance.fleet import FleetRULEstimator, holdout_validation
from fmitwin.maintenance.health import (
    SensorHealthIndex,
    compute_indicator,
    health_indicator,
    operating_hours,
)
from fmitwin.maintenance.metrics import alpha_lambda_accuracy, interval_coverage, phm08_score, rmse
from fmitwin.maintenance.rul import CrossingTimeRUL, EmpiricalRUL, RULDistribution, state_rul
from fmitwin.maintenance.similarity import SimilarityRULModel

__all__ = [
    "CrossingTimeRUL",
    "EmpiricalRUL",
    "ExponentialDegradationModel",
    "FleetRULEstimator",
    "LinearDegradationModel",
    "MaintenancePolicy",
    "MaintenancePrediction",
    "RULDistribution",
    "SensorHealthIndex",
    "SimilarityRULModel",
    "SlopeDetector",
    "alpha_lambda_accuracy",
    "check_history",
    "compute_indicator",
    "health_indicator",
    "holdout_validation",
    "interval_coverage",
    "operating_hours",
    "phm08_score",
    "predict_maintenance",
    "rmse",
    "state_rul",
]
