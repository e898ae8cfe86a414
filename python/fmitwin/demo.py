"""The bundled demo: a damped pendulum's angle, rate and damping estimated from noisy sensors.

A pendulum (length 1 m) swings under a small sinusoidal drive and random torque disturbances.
An angle encoder and a gyro measure it at 50 Hz; the gyro drops out now and then (NaN) and
sometimes returns a spike, which the filter's chi-square gate rejects. The extended Kalman filter
runs the native C++ pendulum model (``DampedPendulumModel``) in batch mode and estimates the
unmeasured damping rate c, the kind of slowly drifting parameter a digital twin tracks for wear.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fmitwin.filters import DampedPendulumModel, ExtendedKalmanFilter, LinearMeasurementModel

STATE_NAMES = ("angle [rad]", "rate [rad/s]", "damping [1/s]")
MEASUREMENT_NAMES = ("encoder angle", "gyro rate")
LENGTH = 1.0  # m
TRUE_DAMPING = 0.25  # 1/s
ENCODER_SIGMA = 0.02  # rad
GYRO_SIGMA = 0.05  # rad/s
TORQUE_SIGMA = 0.05  # rad/s^2, random disturbance held over each step
DROPOUT_PROBABILITY = 0.1
SPIKE_PROBABILITY = 0.01


@dataclass(frozen=True)
class DemoRun:
    """One demo run: times (T,), truth / estimates / std (T, 3), measurements (T, 2)."""

    times: NDArray[np.float64]
    truth: NDArray[np.float64]
    estimates: NDArray[np.float64]
    std: NDArray[np.float64]
    measurements: NDArray[np.float64]
    accepted: NDArray[np.bool_]


def run(duration: float = 20.0, dt: float = 0.02, seed: int = 0) -> DemoRun:
    """Simulates the pendulum and its sensors, then filters the measurements."""
    rng = np.random.default_rng(seed)
    steps = int(round(duration / dt))
    times = dt * np.arange(1, steps + 1)
    drive = 0.5 * np.sin(1.3 * times)[:, None]  # known input, rad/s^2

    # The truth: the same physics integrated finely, with disturbances the filter doesn't know.
    plant = DampedPendulumModel(LENGTH, max_step=1e-3)
    x = np.array([1.0, 0.0, TRUE_DAMPING])
    truth = np.empty((steps, 3))
    for t in range(steps):
        x, _ = plant.propagate(x, drive[t] + rng.normal(0.0, TORQUE_SIGMA), dt)
        truth[t] = x

    measurements = truth[:, :2] + rng.normal(size=(steps, 2)) * [ENCODER_SIGMA, GYRO_SIGMA]
    measurements[rng.random(steps) < DROPOUT_PROBABILITY, 1] = np.nan
    spikes = rng.random(steps) < SPIKE_PROBABILITY
    measurements[spikes, 1] += rng.choice([-1.0, 1.0], spikes.sum()) * 2.0

    ekf = ExtendedKalmanFilter(
        3,
        2,
        x0=[0.9, 0.0, 0.05],  # a rough first guess, damping far off
        P0=np.diag([0.1, 0.5, 0.3]) ** 2,
        Q=np.diag([1e-8, (TORQUE_SIGMA * dt) ** 2, 1e-9]),
        R=np.diag([ENCODER_SIGMA, GYRO_SIGMA]) ** 2,
        process_model=DampedPendulumModel(LENGTH, max_step=dt / 2),
        # encoder and gyro read the angle and the rate directly
        measurement_model=LinearMeasurementModel([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        gate_probability=0.999,
        state_names=STATE_NAMES,
        measurement_names=MEASUREMENT_NAMES,
    )
    out = ekf.batch_filter(measurements, dt=dt, u=drive, covariances="diagonal")
    return DemoRun(
        times=times,
        truth=truth,
        estimates=out.states,
        std=np.sqrt(out.covariances),
        measurements=measurements,
        accepted=out.accepted,
    )


def table(result: DemoRun, rows: int = 8) -> str:
    """A text table of truth vs estimate +- 2 sigma at `rows` evenly spaced times."""
    header = f"{'t [s]':>6}  " + "  ".join(f"{name:>30}" for name in STATE_NAMES)
    columns = "  ".join(f"{'true    estimate +- 2 sigma':>30}" for _ in STATE_NAMES)
    lines = [header, f"{'':>6}  {columns}"]
    for t in np.linspace(0, len(result.times) - 1, rows).astype(int):
        truth, estimate, band = result.truth[t], result.estimates[t], 2 * result.std[t]
        cells = [f"{truth[i]:9.4f} {estimate[i]:9.4f} +- {band[i]:7.4f}" for i in range(3)]
        lines.append(f"{result.times[t]:6.2f}  " + "  ".join(f"{c:>30}" for c in cells))
    return "\n".join(lines)


def plot(result: DemoRun, path: str | Path) -> Path:
    """Writes a PNG of each state: truth, estimate with its +- 2 sigma band, measurements."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for i, axis in enumerate(axes):
        estimate, band = result.estimates[:, i], 2 * result.std[:, i]
        if i < 2:
            axis.plot(
                result.times,
                result.measurements[:, i],
                ".",
                ms=2,
                color="0.7",
                label=MEASUREMENT_NAMES[i],
            )
        axis.fill_between(
            result.times, estimate - band, estimate + band, alpha=0.3, label="estimate +- 2 sigma"
        )
        axis.plot(result.times, estimate, label="estimate")
        axis.plot(result.times, result.truth[:, i], "k--", lw=1, label="truth")
        axis.set_ylabel(STATE_NAMES[i])
        axis.legend(loc="upper right", fontsize=7)
    axes[1].set_ylim(np.nanmin(result.truth[:, 1]) - 1, np.nanmax(result.truth[:, 1]) + 1)
    axes[-1].set_xlabel("time [s]")
    figure.suptitle("fmitwin demo: extended Kalman filter on a damped pendulum")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
