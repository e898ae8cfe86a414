"""The bundled DC motor against the matrix-exponential solution (linear case) and solve_ivp."""

from __future__ import annotations

import fmitwin.models
import numpy as np
import pytest
from fmpy import simulate_fmu
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from support.bundled_models import VERSIONS

R, L, K, J, B, TAU_C, W_C = 1.2, 0.01, 0.7, 0.02, 1e-3, 0.05, 0.1


def rhs(t, x, voltage, load, tau_c=TAU_C):
    """The motor equations, written independently of the FMU: x = (i, w, phi)."""
    i, w, _ = x
    return [
        (voltage - R * i - K * w) / L,
        (K * i - B * w - tau_c * np.tanh(w / W_C) - load) / J,
        w,
    ]


def linear_solution(t, voltage, load):
    """x(t) = exp(M t) [x0; 1] with the constant inputs folded into the augmented matrix M, on
    the uniform grid t: x(t_k+1) = exp(M dt) x(t_k)."""
    m = np.array(
        [
            [-R / L, -K / L, 0.0, voltage / L],
            [K / J, -B / J, 0.0, -load / J],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    dt = t[1] - t[0]
    np.testing.assert_allclose(np.diff(t), dt, rtol=1e-9)
    transition = expm(m * dt)
    x = np.zeros((len(t), 4))
    x[0] = [0.0, 0.0, 0.0, 1.0]
    for k in range(1, len(t)):
        x[k] = transition @ x[k - 1]
    return x[:, :3]


def simulate(version, fmi_type, stop_time=0.5, **start_values):
    return simulate_fmu(
        str(fmitwin.models.path("dc_motor", version)),
        fmi_type=fmi_type,
        start_values=start_values,
        stop_time=stop_time,
        output_interval=1e-3,
        relative_tolerance=1e-10,
    )


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
def test_linear_motor_matches_matrix_exponential(version, fmi_type):
    result = simulate(version, fmi_type, stop_time=1.0, V=220.0, tau_load=5.0, tau_c=0.0)
    expected = linear_solution(result["time"], 220.0, 5.0)
    scale = np.abs(expected).max(axis=0)
    for column, name in enumerate(["i", "w", "phi"]):
        np.testing.assert_allclose(
            result[name], expected[:, column], rtol=0, atol=1e-7 * scale[column]
        )
    # Steady state after 20 mechanical time constants: V = R i + k w and k i = b w + tau_load.
    i_ss, w_ss = np.linalg.solve([[R, K], [K, -B]], [220.0, 5.0])
    np.testing.assert_allclose([result["i"][-1], result["w"][-1]], [i_ss, w_ss], rtol=1e-6)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
def test_coulomb_friction_matches_solve_ivp(version, fmi_type):
    result = simulate(version, fmi_type, V=24.0, tau_load=1.5)
    reference = solve_ivp(
        rhs,
        (0.0, 0.5),
        [0.0, 0.0, 0.0],
        args=(24.0, 1.5),
        t_eval=result["time"],
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
    )
    scale = np.abs(reference.y).max(axis=1)
    for row, name in enumerate(["i", "w", "phi"]):
        np.testing.assert_allclose(result[name], reference.y[row], rtol=0, atol=1e-7 * scale[row])
    np.testing.assert_allclose(result["tau_motor"], K * result["i"], rtol=1e-14)
    np.testing.assert_allclose(result["P_electric"], 24.0 * result["i"], rtol=1e-14)
