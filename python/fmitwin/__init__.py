"""fmitwin: digital twins of real machines.

FMU physics (FMI 2.0/3.0 via FMPy), a compiled C++/Eigen Kalman core, co-simulation of coupled
FMUs, live coupling to OPC UA / MQTT plants, and predictive maintenance.

Public names are imported lazily so that ``import fmitwin`` stays fast and a command pulls in only
what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "System": "fmitwin.system",
    "SystemRun": "fmitwin.system",
    "read_ssp": "fmitwin.ssp",
    "write_ssp": "fmitwin.ssp",
    "run_study": "fmitwin.study",
    "StudyResult": "fmitwin.study",
    "StudyInterrupted": "fmitwin.study",
    "load_fmu": "fmitwin.fmu",
    "FmuModel": "fmitwin.fmu",
    "FmuError": "fmitwin.fmu",
    "simulate": "fmitwin.simulation",
    "SimulationResult": "fmitwin.simulation",
    "SimulationInterrupted": "fmitwin.simulation",
    "fmu_models": "fmitwin.estimation",
    "FmuModels": "fmitwin.estimation",
    "FmuProcessModel": "fmitwin.estimation",
    "FmuMeasurementModel": "fmitwin.estimation",
    "ExtendedKalmanFilter": "fmitwin.filters",
    "UnscentedKalmanFilter": "fmitwin.filters",
    "BatchResult": "fmitwin.filters",
    "UpdateResult": "fmitwin.filters",
    "ProcessModel": "fmitwin.filters",
    "MeasurementModel": "fmitwin.filters",
    "LinearProcessModel": "fmitwin.filters",
    "LinearMeasurementModel": "fmitwin.filters",
    "PythonProcessModel": "fmitwin.filters",
    "PythonMeasurementModel": "fmitwin.filters",
    "DampedPendulumModel": "fmitwin.filters",
    "gate_thresholds": "fmitwin.filters",
    "load_cmapss": "fmitwin.datasets",
    "read_cmapss": "fmitwin.datasets",
    "calibrate": "fmitwin.calibration",
    "FmuSimulation": "fmitwin.calibration",
    "OnlineRecalibrator": "fmitwin.calibration",
    "RecalibrationWindow": "fmitwin.calibration",
    "ExponentialDegradationModel": "fmitwin.maintenance",
    "LinearDegradationModel": "fmitwin.maintenance",
    "SimilarityRULModel": "fmitwin.maintenance",
    "FleetRULEstimator": "fmitwin.maintenance",
    "MaintenancePolicy": "fmitwin.maintenance",
    "predict_maintenance": "fmitwin.maintenance",
    "FleetKalmanFilter": "fmitwin.filters",
    "FleetResult": "fmitwin.filters",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fmitwin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
