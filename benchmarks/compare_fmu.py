"""Speed of fmitwin's FMU stepping and FMU-backed EKF against FMPy and FilterPy, in one run.

Same FMU, same step, measured in this process; a ratio is peer time / fmitwin time (above 1,
fmitwin is faster):
  * co-simulation: ``fmitwin.simulate(kind="cs")`` vs FMPy's ``simulate_fmu`` and a hand-written
    FMPy loop (``doStep`` + ``getReal`` per step) on the heated tank (a cheap FMU), 1e5 steps;
  * model exchange: ``fmitwin.simulate(kind="me", solver="rk4")`` vs ``simulate_fmu`` (its Euler
    solver at the same step, the cheapest it has) and a hand-written FMPy RK4 loop;
  * FMU-backed EKF (DC motor, 3 states, speed measured), one predict + update per step:
    ``fmu_models(...).filter()`` vs FilterPy's ExtendedKalmanFilter driving the same FMU through
    FMPy (RK4 over dt, F by finite differences of the propagated map).
Whole calls are timed, loading and result collection included. Both ``simulate_fmu`` and
``fmitwin.simulate(path)`` unzip the FMU and read its model description on every call; the
"FMU loaded once" row gives each its own reusable form (``fmitwin.load_fmu`` once;
``simulate_fmu`` on the extracted directory with the model description read once), and the
"per step" row divides the extra time of a 1e5-step call over a 10-step call (the stepping loop
alone, fixed costs cancelled). Times are CPU time of this process, best of the repeats after one
warm-up call each, the compared calls taking turns (the machines this runs on are often shared).

usage: python benchmarks/compare_fmu.py [--quick]
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import time
from collections.abc import Callable

import fmitwin
import fmitwin.models
import numpy as np
from filterpy.kalman import ExtendedKalmanFilter as FilterPyEKF
from fmitwin.estimation import fmu_models
from fmpy import extract, read_model_description, simulate_fmu
from fmpy.fmi2 import FMU2Model, FMU2Slave

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def best_of(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """name -> fastest of `repeats` CPU-time timings (seconds) of that function.

    Each function first runs once untimed (imports and first loads are not what is compared);
    then the functions take turns, so that a shared machine's changing load reaches them alike.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return {name: min(t) for name, t in times.items()}


class Fmpy:
    """One FMPy instance of a bundled FMI 2.0 FMU, by variable name."""

    def __init__(self, name: str, kind: str):
        path = str(fmitwin.models.path(name, 2))
        self.description = read_model_description(path)
        self.vr = {v.name: v.valueReference for v in self.description.modelVariables}
        cls, iface = (
            (FMU2Slave, self.description.coSimulation)
            if kind == "cs"
            else (FMU2Model, self.description.modelExchange)
        )
        self.unzipped = extract(path)
        self.fmu = cls(
            guid=self.description.guid,
            unzipDirectory=self.unzipped,
            modelIdentifier=iface.modelIdentifier,
        )
        self.fmu.instantiate()
        self.fmu.setupExperiment(startTime=0.0)
        self.fmu.enterInitializationMode()
        self.fmu.exitInitializationMode()
        if kind == "me":
            self.fmu.newDiscreteStates()
            self.fmu.enterContinuousTimeMode()

    def close(self) -> None:
        self.fmu.terminate()
        self.fmu.freeInstance()


def fmpy_cs_loop(steps: int, h: float) -> None:
    m = Fmpy("heated_tank", "cs")
    out = [m.vr["T"], m.vr["Q_loss"]]
    rows = np.empty((steps + 1, 2))
    rows[0] = m.fmu.getReal(out)
    t = 0.0
    for k in range(steps):
        m.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=h)
        t = (k + 1) * h
        rows[k + 1] = m.fmu.getReal(out)
    m.close()


def fmpy_me_rk4(m: Fmpy, x: np.ndarray, t: float, h: float, n: int) -> np.ndarray:
    """RK4 over n steps of h, written in Python on FMPy's model-exchange calls."""
    fmu = m.fmu

    def f(t: float, x: np.ndarray) -> np.ndarray:
        fmu.setTime(t)
        fmu.setContinuousStates(x.ctypes.data_as(_DOUBLE_P), x.size)
        dx = np.empty_like(x)
        fmu.getDerivatives(dx.ctypes.data_as(_DOUBLE_P), dx.size)
        return dx

    for _ in range(n):
        k1 = f(t, x)
        k2 = f(t + h / 2, x + h / 2 * k1)
        k3 = f(t + h / 2, x + h / 2 * k2)
        k4 = f(t + h, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += h
        fmu.completedIntegratorStep()
    return x


def fmpy_me_loop(steps: int, h: float) -> None:
    m = Fmpy("heated_tank", "me")
    x = np.array([293.15])
    rows = np.empty((steps + 1, 2))
    out = [m.vr["T"], m.vr["Q_loss"]]
    rows[0] = m.fmu.getReal(out)
    for k in range(steps):
        x = fmpy_me_rk4(m, x, k * h, h, 1)
        rows[k + 1] = m.fmu.getReal(out)
    m.close()


def ratio_row(label: str, times: dict[str, float]) -> str:
    """fmitwin's time and each peer's ratio to it, from name -> seconds (with "fmitwin")."""
    ours = times["fmitwin"]
    cells = "  ".join(
        f"{name} {peer / ours:7.1f}x" for name, peer in times.items() if name != "fmitwin"
    )
    return f"{label:<34} fmitwin {ours * 1e3:9.1f} ms  |  {cells}"


def stepping(steps: int, repeats: int) -> list[str]:
    path = fmitwin.models.path("heated_tank", 2)
    h = 1.0
    stop = steps * h
    inputs = {"time": [0.0], "P_heater": [0.0]}
    lines = [f"Single-FMU stepping, heated tank (FMI 2.0), {steps:.0e} steps of {h} s"]

    def ours(fmu: object, stop: float) -> Callable[[], object]:
        return lambda: fmitwin.simulate(fmu, stop, h, kind="cs", inputs=inputs)

    def theirs(fmu: str, stop: float, **kwargs: object) -> Callable[[], object]:
        return lambda: simulate_fmu(
            fmu, fmi_type="CoSimulation", stop_time=stop, output_interval=h, **kwargs
        )

    t = best_of(
        {
            "fmitwin": ours(path, stop),
            "simulate_fmu": theirs(str(path), stop),
            "FMPy loop": lambda: fmpy_cs_loop(steps, h),
        },
        repeats,
    )
    lines.append(ratio_row("co-simulation", t))
    model = fmitwin.load_fmu(path)
    unzipped = extract(str(path))
    description = read_model_description(str(path))
    loaded = {"model_description": description}
    t = best_of(
        {"fmitwin": ours(model, stop), "simulate_fmu": theirs(unzipped, stop, **loaded)}, repeats
    )
    lines.append(ratio_row("co-simulation, FMU loaded once", t))
    short = 10 * h
    # The stepping loop alone: the extra time of `steps` steps over 10 steps.
    fixed = best_of(
        {"fmitwin": ours(model, short), "simulate_fmu": theirs(unzipped, short, **loaded)},
        3 * repeats,
    )
    stepping = {name: t[name] - fixed[name] for name in t}
    lines.append(ratio_row("co-simulation, stepping only", stepping))
    model.close()
    shutil.rmtree(unzipped, ignore_errors=True)
    t = best_of(
        {
            "fmitwin": lambda: fmitwin.simulate(
                path, stop, h, kind="me", solver="rk4", inputs=inputs
            ),
            "simulate_fmu(Euler)": lambda: simulate_fmu(
                str(path),
                fmi_type="ModelExchange",
                solver="Euler",
                step_size=h,
                output_interval=h,
                stop_time=stop,
            ),
            "FMPy RK4 loop": lambda: fmpy_me_loop(steps, h),
        },
        repeats,
    )
    lines.append(ratio_row("model exchange (RK4)", t))
    return lines


def ekf_comparison(steps: int, repeats: int) -> list[str]:
    dt, substeps = 1e-3, 1
    u = np.array([24.0, 0.2])
    rng = np.random.default_rng(1)
    z = 30.0 * (1 - np.exp(-np.arange(1, steps + 1) * dt * 20)) + rng.normal(0, 0.1, steps)
    P0, Q, R = np.eye(3), np.eye(3) * 1e-4, np.array([[0.01]])

    def ours() -> None:
        models = fmu_models(
            fmitwin.models.path("dc_motor", 2), measurements=["w"], solver="rk4", step=dt
        )
        ekf = models.filter(P0=P0, Q=Q, R=R)
        for k in range(steps):
            ekf.predict(dt, u)
            ekf.update(z[k : k + 1])

    def filterpy() -> None:
        m = Fmpy("dc_motor", "me")
        m.fmu.setReal([m.vr["V"], m.vr["tau_load"]], list(u))
        t = [0.0]

        def propagate(x: np.ndarray) -> np.ndarray:
            return fmpy_me_rk4(m, x.copy(), t[0], dt / substeps, substeps)

        class Filter(FilterPyEKF):
            def predict_x(self, u=0):
                self.x = propagate(self.x.ravel()).reshape(-1, 1)

        ekf = Filter(dim_x=3, dim_z=1)
        ekf.x = np.zeros((3, 1))
        ekf.P, ekf.Q, ekf.R = P0.copy(), Q.copy(), R.copy()
        H = np.array([[0.0, 1.0, 0.0]])
        for k in range(steps):
            x = ekf.x.ravel()
            base = propagate(x)
            F = np.empty((3, 3))
            for j in range(3):  # forward differences of the propagated map
                e = np.zeros(3)
                e[j] = 1e-7 * max(1.0, abs(x[j]))
                F[:, j] = (propagate(x + e) - base) / e[j]
            ekf.F = F
            ekf.predict()
            t[0] += dt
            ekf.update(z[k : k + 1].reshape(1, 1), lambda x: H, lambda x: H @ x)
        m.close()

    t = best_of({"fmitwin": ours, "FilterPy + FMPy": filterpy}, repeats)
    return [
        f"FMU-backed EKF, DC motor (3 states, RK4 over dt = {dt}), {steps} predict+update steps",
        ratio_row("EKF per step", t),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = parser.parse_args()
    steps = 10_000 if args.quick else 100_000
    ekf_steps = 200 if args.quick else 2_000
    repeats = 1 if args.quick else 5
    for line in [*stepping(steps, repeats), "", *ekf_comparison(ekf_steps, repeats)]:
        print(line)


if __name__ == "__main__":
    main()
