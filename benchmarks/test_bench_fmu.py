"""pytest-benchmark cases for FMU stepping and the FMU-backed EKF (``pytest benchmarks/``).

The peers' numbers and the ratios are in compare_fmu.py; these track fmitwin's own speed.
"""

from __future__ import annotations

import fmitwin
import fmitwin.models
import numpy as np
from fmitwin.estimation import fmu_models

STEPS = 20_000


def test_cosimulation_steps(benchmark):
    model = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 2))
    result = benchmark(fmitwin.simulate, model, float(STEPS), 1.0, kind="cs")
    assert len(result) == STEPS + 1


def test_model_exchange_rk4_steps(benchmark):
    model = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 2))
    result = benchmark(fmitwin.simulate, model, float(STEPS), 1.0, kind="me", solver="rk4")
    assert len(result) == STEPS + 1


def test_model_exchange_dopri_steps(benchmark):
    model = fmitwin.load_fmu(fmitwin.models.path("dc_motor", 2))
    inputs = {"time": [0.0, 1.0], "V": [0.0, 100.0]}
    result = benchmark(fmitwin.simulate, model, 1.0, 1e-4, kind="me", inputs=inputs)
    assert len(result) == 10_001


def test_fmu_ekf_predict_update(benchmark):
    models = fmu_models(
        fmitwin.models.path("dc_motor", 2), measurements=["w"], solver="rk4", step=1e-3
    )
    ekf = models.filter(P0=np.eye(3), Q=np.eye(3) * 1e-4, R=np.array([[0.01]]))
    u, z = np.array([24.0, 0.2]), np.array([10.0])

    def step():
        ekf.predict(1e-3, u)
        ekf.update(z)

    benchmark(step)
