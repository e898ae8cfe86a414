"""The bundled demos: a heated tank's wearing insulation tracked by an FMU-backed twin (default),
and a damped pendulum on a native C++ model (``pendulum_run``).

The tank demo (:func:`run`) goes through what fmitwin is for, end to end:

1. Plant: the bundled ``heated_tank`` FMU, ``m c_p dT/dt = P_heater - UA (T - T_ambient)``,
   simulated by :func:`fmitwin.simulate` in the compiled core, under a heater program that
   switches power every 2 h. Its insulation takes up moisture, so the heat-loss coefficient rises
   linearly, ``UA(t) = UA_start + r t`` (held over each hour of the simulation).
2. Sensor: one temperature probe every minute with Gaussian noise, isolated dropouts, two outages
   of a few hours (NaN) and spikes of 3-10 K.
3. Twin: an extended Kalman filter on the same FMU (model exchange, :func:`fmu_models`) with
   state x = [T, UA]; UA is not measured, it is a random walk the filter learns. A chi-square
   innovation gate rejects the spikes, and missing samples skip the update.
4. Maintenance: the tank needs re-insulating once its heater, at its rating, can no longer hold the
   set point: ``UA_limit = P_rated / (T_set - T_ambient)``. A linear degradation model
   (:class:`fmitwin.maintenance.LinearDegradationModel`) updated with the twin's UA estimates and
   their standard deviations gives the remaining life and its interval, checked against the
   simulated plant's true remaining life.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import fmitwin.models
from fmitwin.estimation import fmu_models
from fmitwin.filters import DampedPendulumModel, ExtendedKalmanFilter, LinearMeasurementModel
from fmitwin.fmu import load_fmu
from fmitwin.maintenance import LinearDegradationModel, RULDistribution
from fmitwin.simulation import simulate

# --- the heated-tank demo -------------------------------------------------------------------
MODEL = "heated_tank"
DAY = 86400.0  # s
SAMPLE_PERIOD = 60.0  # s, the temperature probe's period and the filter's step
SEGMENT = 3600.0  # s, the plant's UA is updated every hour
HEATER_SWITCH_PERIOD = 7200.0  # s
HEATER_POWER_RANGE = (800.0, 2600.0)  # W, the heater program's levels
T_AMBIENT = 293.15  # K, the FMU's default
UA_DATASHEET = 40.0  # W/K, the FMU's default: the filter's first guess
HEATER_RATING = 4800.0  # W
SET_POINT = 353.15  # K (80 degC)
UA_LIMIT = HEATER_RATING / (SET_POINT - T_AMBIENT)  # W/K, 80: above it the set point is lost
PROBE_SIGMA = 0.1  # K
DROPOUT_PROBABILITY = 0.03
OUTAGES = 2
OUTAGE_DURATION = 3 * 3600.0  # s
SPIKE_PROBABILITY = 0.01
SPIKE_SIZE = (3.0, 10.0)  # K
UA_RANDOM_WALK = 0.01  # W/K per sample: how fast the filter lets UA move
START_WINDOW = 600.0  # s, the readings the filter's first temperature is taken from
SETTLING_TIME = 1.0 * DAY  # s, after which the parameter is scored
HEALTH_PERIOD = 6 * 3600.0  # s, the UA estimate is handed to the degradation model this often
# W/K, the degradation path's scatter about its line: the twin's errors (RMS about 0.1 W/K) are
# correlated over hours and lag the rising UA, so the 6-hourly estimates are not independent;
# a floor several times their spread keeps the interval honest.
HEALTH_NOISE = 0.5
RUL_LEVEL = 0.9
UA_START_RANGE = (44.0, 48.0)  # W/K, the plant's UA when the run starts (drawn per seed)
WEAR_RATE_RANGE = (1.2, 1.8)  # W/K per day (drawn per seed)
EARLIEST_FAILURE = (UA_LIMIT - UA_START_RANGE[1]) / WEAR_RATE_RANGE[1]  # days, 17.8
MIN_DAYS, MAX_DAYS = 2.0, 16.0  # the twin settles in the first day; every tank ends alive


@dataclass(frozen=True)
class TankDemo:
    """One run of the tank demo; arrays are per filter step, times (T,) in s after the start.

    heater_power, true_temperature, true_ua, measurements (T,): the known input [W], the plant's
    T [K] and UA [W/K], and the probe (NaN where missing); spikes (T,) marks the corrupted
    samples; estimates and std (T, 2): the filter's [T, UA] and standard deviations; accepted
    (T,): where the update was applied. health_times [days] and health (H,), health_std (H,):
    the UA estimates handed to ``degradation``; rul: the remaining-life distribution [days] at
    the end; true_rul [days]: the plant's true remaining life then.
    """

    fmu: Path
    times: NDArray[np.float64]
    heater_power: NDArray[np.float64]
    true_temperature: NDArray[np.float64]
    true_ua: NDArray[np.float64]
    measurements: NDArray[np.float64]
    spikes: NDArray[np.bool_]
    estimates: NDArray[np.float64]
    std: NDArray[np.float64]
    accepted: NDArray[np.bool_]
    health_times: NDArray[np.float64]
    health: NDArray[np.float64]
    health_std: NDArray[np.float64]
    degradation: LinearDegradationModel
    rul: RULDistribution
    true_rul: float

    @property
    def days(self) -> NDArray[np.float64]:
        return self.times / DAY

    @property
    def settled(self) -> NDArray[np.bool_]:
        """Steps after the filter's settling time (scored)."""
        return self.times > SETTLING_TIME

    @property
    def ua_coverage(self) -> float:
        """Fraction of settled steps whose true UA lies within the estimate +- 3 sigma."""
        inside = np.abs(self.estimates[:, 1] - self.true_ua) <= 3 * self.std[:, 1]
        return float(inside[self.settled].mean())

    @property
    def ua_rms_error(self) -> float:
        """RMS error of the UA estimate over the settled steps [W/K]."""
        error = self.estimates[self.settled, 1] - self.true_ua[self.settled]
        return float(np.sqrt(np.mean(error**2)))

    @property
    def temperature_rms_error(self) -> float:
        """RMS error of the temperature estimate over the settled steps [K]."""
        error = self.estimates[self.settled, 0] - self.true_temperature[self.settled]
        return float(np.sqrt(np.mean(error**2)))

    @property
    def missing(self) -> NDArray[np.bool_]:
        return np.isnan(self.measurements)

    @property
    def gated(self) -> NDArray[np.bool_]:
        """Samples that arrived but that the innovation gate rejected."""
        return ~self.accepted & ~self.missing

    @property
    def rul_interval(self) -> tuple[float, float]:
        """The equal-tailed ``RUL_LEVEL`` interval of the remaining life [days]."""
        return self.rul.interval(RUL_LEVEL)


def _heater_program(rng: np.random.Generator, segments: int) -> NDArray[np.float64]:
    """Heater power per plant segment [W]: a random level held for each switch period."""
    per_level = int(HEATER_SWITCH_PERIOD // SEGMENT)
    levels = rng.uniform(*HEATER_POWER_RANGE, size=-(-segments // per_level))
    return np.repeat(levels, per_level)[:segments]


def _simulate_plant(
    fmu: Path, rng: np.random.Generator, days: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, float]:
    """The plant with its wearing insulation, hour by hour with :func:`fmitwin.simulate`, each
    hour continuing from the last temperature with that hour's UA.

    Returns per sample (T,): heater power, temperature, UA; and UA_start, the wear rate r [W/K/d].
    """
    ua_start = rng.uniform(*UA_START_RANGE)
    wear_rate = rng.uniform(*WEAR_RATE_RANGE)
    segments = int(round(days * DAY / SEGMENT))
    per_segment = int(round(SEGMENT / SAMPLE_PERIOD))
    power = _heater_program(rng, segments)
    model = load_fmu(fmu)
    ua_held = ua_start + wear_rate * (np.arange(segments) + 0.5) * SEGMENT / DAY
    temperature = T_AMBIENT + power[0] / ua_held[0]  # in equilibrium with the first hour
    temperatures = []
    for ua, heat in zip(ua_held, power, strict=True):
        hour = simulate(
            model,
            SEGMENT,
            SAMPLE_PERIOD,
            kind="cs",
            outputs=["T"],
            start_values={"T": temperature, "UA": ua, "P_heater": heat},
        )
        temperatures.append(hour["T"][1:])
        temperature = float(hour["T"][-1])
    return (
        np.repeat(power, per_segment),
        np.concatenate(temperatures),
        np.repeat(ua_held, per_segment),
        ua_start,
        wear_rate,
    )


def _probe(
    truth: NDArray[np.float64], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Noisy temperature readings with dropouts, outages (NaN) and spikes; and the spike mask."""
    steps = truth.size
    readings = truth + rng.normal(0.0, PROBE_SIGMA, steps)
    spikes = rng.random(steps) < SPIKE_PROBABILITY
    sizes = rng.uniform(*SPIKE_SIZE, spikes.sum()) * rng.choice([-1.0, 1.0], spikes.sum())
    readings[spikes] += sizes
    missing = rng.random(steps) < DROPOUT_PROBABILITY
    outage = int(OUTAGE_DURATION / SAMPLE_PERIOD)
    for start in rng.integers(int(SETTLING_TIME / SAMPLE_PERIOD), steps - outage, OUTAGES):
        missing[start : start + outage] = True
    readings[missing] = np.nan
    return readings, spikes & ~missing


def run(*, seed: int = 0, days: float = 14.0, fmi_version: int = 2) -> TankDemo:
    """Runs the tank demo (plant, probe, twin, remaining life) for ``days`` of plant time on the
    bundled tank FMU of ``fmi_version`` (2 or 3).

    Deterministic for a given ``seed``, which also draws the plant's wear (``UA_START_RANGE``,
    ``WEAR_RATE_RANGE``) and heater program.
    """
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(
            f"days={days!r}: give {MIN_DAYS:g} to {MAX_DAYS:g} days of plant time (the twin "
            f"settles in the first day; the fastest-wearing tank reaches its limit after "
            f"{EARLIEST_FAILURE:.1f} days)"
        )
    fmu = fmitwin.models.path(MODEL, fmi_version)
    rng = np.random.default_rng(seed)
    power, temperature, ua, ua_start, wear_rate = _simulate_plant(fmu, rng, days)
    measurements, spikes = _probe(temperature, rng)
    times = SAMPLE_PERIOD * np.arange(1, temperature.size + 1)

    models = fmu_models(fmu, measurements=["T"], parameters=["UA"], solver="rk4")
    # The first temperature from the median of the first readings: one of them may be a spike,
    # and a filter started on a spike gates every true reading that follows.
    first = measurements[: int(START_WINDOW / SAMPLE_PERIOD)]
    ekf = models.filter(
        x0=[np.nanmedian(first), UA_DATASHEET],
        P0=np.diag([1.0, 10.0]) ** 2,
        Q=np.diag([1e-4, UA_RANDOM_WALK]) ** 2,
        R=[[PROBE_SIGMA**2]],
        gate_probability=0.999,
    )
    out = ekf.batch_filter(
        measurements[:, None], dt=SAMPLE_PERIOD, u=power[:, None], covariances="diagonal"
    )
    std = np.sqrt(out.covariances)

    # Health: the settled UA estimate every HEALTH_PERIOD, with its filter std, into a linear
    # degradation path with a vague prior (a new tank's UA, no trend known).
    every = int(HEALTH_PERIOD / SAMPLE_PERIOD)
    picks = np.arange(every - 1, times.size, every)
    picks = picks[times[picks] > SETTLING_TIME]
    degradation = LinearDegradationModel(
        UA_LIMIT,
        prior_mean=[UA_DATASHEET, 0.0],
        prior_cov=np.diag([20.0, 5.0]) ** 2,
        noise_std=HEALTH_NOISE,
    )
    health_times = times[picks] / DAY
    degradation.update(health_times, out.states[picks, 1], std[picks, 1])
    rul = degradation.rul(now=times[-1] / DAY, force=True)
    true_failure = (UA_LIMIT - ua_start) / wear_rate  # days, where the wear trend meets the limit
    return TankDemo(
        fmu=fmu,
        times=times,
        heater_power=power,
        true_temperature=temperature,
        true_ua=ua,
        measurements=measurements,
        spikes=spikes,
        estimates=out.states,
        std=std,
        accepted=out.accepted,
        health_times=health_times,
        health=out.states[picks, 1],
        health_std=std[picks, 1],
        degradation=degradation,
        rul=rul,
        true_rul=true_failure - times[-1] / DAY,
    )


def check_plot_path(path: str | os.PathLike[str]) -> Path:
    """The plot's path, checked before any work: a .png file that can be written (tried by
    opening it for appending; a file that was not there is removed again).

    Raises ``ValueError`` naming the problem and the fix.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'demo.png'}")
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: the plot is a PNG; give a file name ending in .png")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: the folder {path.parent} does not exist; create it first")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise ValueError(
            f"{path} cannot be written ({exc.strerror}); choose a folder you can write to"
        ) from None
    if not existed:
        path.unlink()
    return path


def _outage_window(missing: NDArray[np.bool_], width: int) -> slice:
    """``width`` steps centred on the longest run of missing samples."""
    edges = np.flatnonzero(np.diff(np.r_[0, missing.astype(np.int8), 0]))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts)) if starts.size else 0
    centre = (starts[longest] + ends[longest]) // 2 if starts.size else missing.size // 2
    first = int(np.clip(centre - width // 2, 0, max(missing.size - width, 0)))
    return slice(first, first + width)


def plot(result: TankDemo, path: str | os.PathLike[str]) -> Path:
    """Writes a PNG: one day of probe readings (spikes, outage) with the twin's temperature; UA's
    estimate with its 3-sigma band against the truth, and its error; the health path against the
    limit with the remaining-life interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_plot_path(path)
    days, celsius = result.days, -273.15
    figure = plt.figure(figsize=(11, 11))
    grid = figure.add_gridspec(3, 2, height_ratios=[1.1, 1, 1.1], width_ratios=[1.4, 1])
    temperature = figure.add_subplot(grid[0, :])
    parameter, error = figure.add_subplot(grid[1, 0]), figure.add_subplot(grid[1, 1])
    health = figure.add_subplot(grid[2, :])

    day = _outage_window(result.missing, int(DAY / SAMPLE_PERIOD))
    t, missing, gated = days[day], result.missing[day], result.gated[day]
    readings = result.measurements[day] + celsius
    temperature.plot(t, readings, ".", ms=2, color="0.6", label=f"probe (σ {PROBE_SIGMA:g} K)")
    temperature.plot(
        t[gated], readings[gated], "x", ms=5, color="tab:red", label="gated (rejected)"
    )
    temperature.plot(t, result.true_temperature[day] + celsius, "k--", lw=1, label="truth")
    temperature.plot(
        t, result.estimates[day, 0] + celsius, color="tab:blue", lw=1.2, label="twin estimate"
    )
    temperature.fill_between(
        t,
        0,
        1,
        where=missing,
        transform=temperature.get_xaxis_transform(),
        color="tab:orange",
        alpha=0.25,
        lw=0,
        label="probe missing",
    )
    temperature.set_xlim(t[0], t[-1])
    temperature.set_xlabel("time [days]")
    temperature.set_ylabel("tank temperature [°C]")
    temperature.set_title(
        f"{result.fmu.name}: one day of the probe around an outage, and the twin's temperature",
        loc="left",
    )
    heater = temperature.twinx()
    heater.step(t, result.heater_power[day] / 1000, where="pre", color="tab:green", lw=1)
    heater.set_ylabel("heater power [kW]", color="tab:green")
    heater.set_ylim(0, 3 * HEATER_POWER_RANGE[1] / 1000)
    temperature.legend(loc="upper left", fontsize=8, ncol=5)

    ua, band = result.estimates[:, 1], 3 * result.std[:, 1]
    parameter.fill_between(days, ua - band, ua + band, color="tab:blue", alpha=0.3, label="± 3σ")
    parameter.plot(days, ua, color="tab:blue", lw=1, label="twin estimate (UA is not measured)")
    parameter.plot(days, result.true_ua, "k--", lw=1, label="truth")
    parameter.axhline(UA_DATASHEET, color="0.5", lw=0.8, ls=":", label="first guess (datasheet)")
    parameter.set_xlim(0, days[-1])
    parameter.set_ylim(min(UA_DATASHEET, result.true_ua.min()) - 5, result.true_ua.max() + 5)
    parameter.set_xlabel("time [days]")
    parameter.set_ylabel("heat-loss coefficient UA [W/K]")
    parameter.set_title("insulation wear: UA rises", loc="left")
    parameter.legend(loc="upper left", fontsize=8)

    settled = result.settled
    residual, band = (ua - result.true_ua)[settled], band[settled]
    error.fill_between(days[settled], -band, band, color="tab:blue", alpha=0.3, label="± 3σ")
    error.plot(days[settled], residual, color="tab:blue", lw=0.8, label="estimate - truth")
    error.axhline(0, color="k", lw=0.8)
    error.set_xlim(SETTLING_TIME / DAY, days[-1])
    error.set_xlabel("time [days]")
    error.set_ylabel("UA error [W/K]")
    error.set_title(f"inside ± 3σ {100 * result.ua_coverage:.1f} % of the time", loc="left")
    error.legend(loc="lower right", fontsize=8)

    now = days[-1]
    low, high = result.rul_interval
    failure = now + result.true_rul
    horizon = np.linspace(0, max(failure, now + min(high, 3 * result.rul.median)) * 1.08, 400)
    mean_path = result.degradation.predict(horizon)
    health.errorbar(
        result.health_times,
        result.health,
        yerr=3 * result.health_std,
        fmt=".",
        ms=3,
        color="tab:blue",
        elinewidth=0.6,
        label="twin's UA every 6 h (± 3σ)",
    )
    health.plot(days, result.true_ua, "k--", lw=1, label="truth")
    health.plot(horizon, mean_path, color="tab:purple", lw=1, label="fitted degradation path")
    health.axhline(
        UA_LIMIT,
        color="tab:red",
        lw=1.2,
        label=f"limit {UA_LIMIT:.0f} W/K: {HEATER_RATING / 1000:g} kW can no longer hold "
        f"{SET_POINT + celsius:.0f} °C",
    )
    health.axvspan(
        now + low,
        now + high,
        color="tab:orange",
        alpha=0.4,
        label=f"predicted end of life, {100 * RUL_LEVEL:.0f} % interval",
    )
    health.axvline(failure, color="k", lw=1.2, ls=":", label="true end of life")
    health.axvline(now, color="0.5", lw=0.8)
    health.annotate(
        f"now, day {now:g}:\nremaining life {result.rul.median:.1f} d, "
        f"{100 * RUL_LEVEL:.0f} % in [{low:.1f}, {high:.1f}] d"
        f"\ntrue remaining life {result.true_rul:.1f} d",
        (now, UA_DATASHEET - 3),
        xytext=(8, 0),
        textcoords="offset points",
        fontsize=9,
        va="bottom",
    )
    health.set_xlim(0, horizon[-1])
    health.set_ylim(UA_DATASHEET - 5, UA_LIMIT + 12)
    health.set_xlabel("time [days]")
    health.set_ylabel("UA [W/K]")
    health.set_title("remaining life: the health path against the limit", loc="left")
    health.legend(loc="upper left", fontsize=8, ncol=2)

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


# --- the pendulum demo (native C++ model, no FMU) ---------------------------------------------
PENDULUM_STATE_NAMES = ("angle [rad]", "rate [rad/s]", "damping [1/s]")
PENDULUM_MEASUREMENT_NAMES = ("encoder angle", "gyro rate")
LENGTH = 1.0  # m
TRUE_DAMPING = 0.25  # 1/s
ENCODER_SIGMA = 0.02  # rad
GYRO_SIGMA = 0.05  # rad/s
TORQUE_SIGMA = 0.05  # rad/s^2, random disturbance held over each step
GYRO_DROPOUT_PROBABILITY = 0.1
GYRO_SPIKE_PROBABILITY = 0.01


@dataclass(frozen=True)
class PendulumDemo:
    """One pendulum run: times (T,), truth / estimates / std (T, 3), measurements (T, 2)."""

    times: NDArray[np.float64]
    truth: NDArray[np.float64]
    estimates: NDArray[np.float64]
    std: NDArray[np.float64]
    measurements: NDArray[np.float64]
    accepted: NDArray[np.bool_]


def pendulum_run(duration: float = 20.0, dt: float = 0.02, seed: int = 0) -> PendulumDemo:
    """A damped pendulum (1 m) under a sinusoidal drive and random torques; an angle encoder and
    a gyro (dropouts, spikes) at 50 Hz; the EKF on the native C++ ``DampedPendulumModel``
    estimates angle, rate and the unmeasured damping rate."""
    if not duration > 0:
        raise ValueError(f"duration={duration!r} must be > 0 seconds")
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
    measurements[rng.random(steps) < GYRO_DROPOUT_PROBABILITY, 1] = np.nan
    spikes = rng.random(steps) < GYRO_SPIKE_PROBABILITY
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
        state_names=PENDULUM_STATE_NAMES,
        measurement_names=PENDULUM_MEASUREMENT_NAMES,
    )
    out = ekf.batch_filter(measurements, dt=dt, u=drive, covariances="diagonal")
    return PendulumDemo(
        times=times,
        truth=truth,
        estimates=out.states,
        std=np.sqrt(out.covariances),
        measurements=measurements,
        accepted=out.accepted,
    )


def pendulum_table(result: PendulumDemo, rows: int = 8) -> str:
    """A text table of truth vs estimate +- 2 sigma at `rows` evenly spaced times."""
    header = f"{'t [s]':>6}  " + "  ".join(f"{name:>30}" for name in PENDULUM_STATE_NAMES)
    columns = "  ".join(f"{'true    estimate +- 2 sigma':>30}" for _ in PENDULUM_STATE_NAMES)
    lines = [header, f"{'':>6}  {columns}"]
    for t in np.linspace(0, len(result.times) - 1, rows).astype(int):
        truth, estimate, band = result.truth[t], result.estimates[t], 2 * result.std[t]
        cells = [f"{truth[i]:9.4f} {estimate[i]:9.4f} +- {band[i]:7.4f}" for i in range(3)]
        lines.append(f"{result.times[t]:6.2f}  " + "  ".join(f"{c:>30}" for c in cells))
    return "\n".join(lines)


def pendulum_plot(result: PendulumDemo, path: str | os.PathLike[str]) -> Path:
    """Writes a PNG of each state: truth, estimate with its +- 2 sigma band, measurements."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_plot_path(path)
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
                label=PENDULUM_MEASUREMENT_NAMES[i],
            )
        axis.fill_between(
            result.times, estimate - band, estimate + band, alpha=0.3, label="estimate +- 2 sigma"
        )
        axis.plot(result.times, estimate, label="estimate")
        axis.plot(result.times, result.truth[:, i], "k--", lw=1, label="truth")
        axis.set_ylabel(PENDULUM_STATE_NAMES[i])
        axis.legend(loc="upper right", fontsize=7)
    axes[1].set_ylim(np.nanmin(result.truth[:, 1]) - 1, np.nanmax(result.truth[:, 1]) + 1)
    axes[-1].set_xlabel("time [s]")
    figure.suptitle("fmitwin demo: extended Kalman filter on a damped pendulum")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
