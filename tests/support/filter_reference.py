"""A plain NumPy Kalman filter with the same equations as fmitwin's C++ core, and random systems.

The reference for the filter tests: Joseph-form update, NaN entries dropped, R scaled to R / q,
chi-square gating on the NIS of the entries used.
"""

from __future__ import annotations

from dataclasses import dataclass

import fmitwin
import numpy as np


@dataclass
class LinearSystem:
    F: np.ndarray
    Q: np.ndarray
    H: np.ndarray
    R: np.ndarray
    x0: np.ndarray
    P0: np.ndarray


def random_spd(rng: np.random.Generator, n: int, floor: float = 0.1) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return a @ a.T / n + floor * np.eye(n)


def random_system(rng: np.random.Generator, n: int, m: int) -> LinearSystem:
    """A stable linear system: spectral radius of F is 0.95."""
    a = rng.normal(size=(n, n))
    F = 0.95 * a / np.max(np.abs(np.linalg.eigvals(a)))
    return LinearSystem(
        F=F,
        Q=0.1 * random_spd(rng, n),
        H=rng.normal(size=(m, n)),
        R=random_spd(rng, m),
        x0=rng.normal(size=n),
        P0=random_spd(rng, n, floor=0.5),
    )


def simulate(rng: np.random.Generator, s: LinearSystem, steps: int) -> tuple[np.ndarray, ...]:
    """True states (T, n) and measurements (T, m) drawn with the system's own noise."""
    n, m = s.F.shape[0], s.H.shape[0]
    x = rng.multivariate_normal(s.x0, s.P0)
    xs, zs = np.empty((steps, n)), np.empty((steps, m))
    for t in range(steps):
        x = s.F @ x + rng.multivariate_normal(np.zeros(n), s.Q)
        xs[t] = x
        zs[t] = s.H @ x + rng.multivariate_normal(np.zeros(m), s.R)
    return xs, zs


def predict(x, P, F, Q):
    return F @ x, F @ P @ F.T + Q


def update(x, P, z, H, R, quality=1.0, gate=None):
    """Returns (x, P, info) with info = dict(accepted, gated, nis, used)."""
    used = ~np.isnan(z) if quality > 0 else np.zeros(len(z), bool)
    k = int(used.sum())
    if k == 0:
        return x, P, {"accepted": False, "gated": False, "nis": np.nan, "used": used}
    Hs = H[used]
    Rs = R[np.ix_(used, used)] / quality
    y = z[used] - Hs @ x
    S = Hs @ P @ Hs.T + Rs
    nis = float(y @ np.linalg.solve(S, y))
    if gate is not None and nis > gate[k]:
        return x, P, {"accepted": False, "gated": True, "nis": nis, "used": used}
    K = P @ Hs.T @ np.linalg.inv(S)
    I_KH = np.eye(len(x)) - K @ Hs
    P = I_KH @ P @ I_KH.T + K @ Rs @ K.T
    return x + K @ y, P, {"accepted": True, "gated": False, "nis": nis, "used": used}


def relative_error(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300))


def linear_filter(
    s: LinearSystem, with_models: bool = True, **kwargs
) -> fmitwin.ExtendedKalmanFilter:
    """fmitwin's filter on the system (its models, or none: F and H then go in per call)."""
    n, m = s.F.shape[0], s.H.shape[0]
    if with_models:
        kwargs["process_model"] = fmitwin.LinearProcessModel(s.F)
        kwargs["measurement_model"] = fmitwin.LinearMeasurementModel(s.H)
    return fmitwin.ExtendedKalmanFilter(n, m, x0=s.x0, P0=s.P0, Q=s.Q, R=s.R, **kwargs)


# The unscented filter's reference: scaled sigma points (Van der Merwe), update on fresh points.


def merwe_weights(n: int, alpha: float, beta: float, kappa: float):
    """(Wm, Wc, n + lambda) of the 2n + 1 scaled sigma points."""
    scale = alpha**2 * (n + kappa)
    Wm = np.full(2 * n + 1, 0.5 / scale)
    Wm[0] = (scale - n) / scale
    Wc = Wm.copy()
    Wc[0] += 1.0 - alpha**2 + beta
    return Wm, Wc, scale


def sigma_points(x, P, scale):
    """Rows x, x + L[:, i], x - L[:, i] with L L' = scale P: (2n + 1, n)."""
    L = np.linalg.cholesky(scale * P)
    return np.vstack([x, x + L.T, x - L.T])


def ukf_predict(x, P, f, Q, alpha=1.0, beta=2.0, kappa=0.0):
    Wm, Wc, scale = merwe_weights(len(x), alpha, beta, kappa)
    images = np.array([f(s) for s in sigma_points(x, P, scale)])
    x = Wm @ images
    d = images - x
    return x, d.T @ np.diag(Wc) @ d + Q


def ukf_update(x, P, z, h, R, quality=1.0, gate=None, alpha=1.0, beta=2.0, kappa=0.0):
    """Returns (x, P, info) like update(), on the non-NaN entries of z."""
    used = ~np.isnan(z) if quality > 0 else np.zeros(len(z), bool)
    k = int(used.sum())
    if k == 0:
        return x, P, {"accepted": False, "gated": False, "nis": np.nan, "used": used}
    Wm, Wc, scale = merwe_weights(len(x), alpha, beta, kappa)
    sigmas = sigma_points(x, P, scale)
    Z = np.array([h(s) for s in sigmas])[:, used]
    z_hat = Wm @ Z
    dZ = Z - z_hat
    S = dZ.T @ np.diag(Wc) @ dZ + R[np.ix_(used, used)] / quality
    y = z[used] - z_hat
    nis = float(y @ np.linalg.solve(S, y))
    info = {"accepted": False, "gated": True, "nis": nis, "used": used, "S": S, "y": y}
    if gate is not None and nis > gate[k]:
        return x, P, info
    K = (sigmas - x).T @ np.diag(Wc) @ dZ @ np.linalg.inv(S)
    info.update(accepted=True, gated=False)
    return x + K @ y, P - K @ S @ K.T, info
