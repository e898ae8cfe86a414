"""Predictive maintenance: health indicators, degradation models with Bayesian updating,
remaining-life models behind one interface (``RULModel``), conformal intervals, the test-like
validation protocol, maintenance decisions, prognostic metrics and reports."""

from fmitwin.maintenance.boosted import BoostedRULModel
from fmitwin.maintenance.conformal import ConformalRUL, HorizonConformal
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
from fmitwin.maintenance.features import WindowFeatures
from fmitwin.maintenance.fleet import FleetRULEstimator
from fmitwin.maintenance.health import (
    SensorHealthIndex,
    compute_indicator,
    health_indicator,
    operating_hours,
)
from fmitwin.maintenance.metrics import alpha_lambda_accuracy, interval_coverage, phm08_score, rmse
from fmitwin.maintenance.model import History, RULModel
from fmitwin.maintenance.online import Prognosis, RemainingLife, RulEstimate
from fmitwin.maintenance.rul import CrossingTimeRUL, EmpiricalRUL, RULDistribution, state_rul
from fmitwin.maintenance.similarity import SimilarityRULModel
from fmitwin.maintenance.validation import TruncationProfile, summarise, validate

__all__ = [
    "BoostedRULModel",
    "ConformalRUL",
    "CrossingTimeRUL",
    "EmpiricalRUL",
    "ExponentialDegradationModel",
    "FleetRULEstimator",
    "History",
    "HorizonConformal",
    "LinearDegradationModel",
    "MaintenancePolicy",
    "MaintenancePrediction",
    "Prognosis",
    "RULDistribution",
    "RULModel",
    "RemainingLife",
    "RulEstimate",
    "SensorHealthIndex",
    "SimilarityRULModel",
    "SlopeDetector",
    "TruncationProfile",
    "WindowFeatures",
    "alpha_lambda_accuracy",
    "check_history",
    "compute_indicator",
    "health_indicator",
    "interval_coverage",
    "operating_hours",
    "phm08_score",
    "predict_maintenance",
    "rmse",
    "state_rul",
    "summarise",
    "validate",
]
