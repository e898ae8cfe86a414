"""Coupled-FMU stepping speed: fmitwin vs libcosim vs a hand-written FMPy loop vs a plain C loop.

Systems: 2 and 3 instances of the bundled heated tank (FMI 2.0 co-simulation), coupled in a ring
(each tank's heat loss heats the next), Jacobi, fixed step 1 s (one RK4 step inside the FMU per
communication step, so the FMU itself is cheap). Every engine makes the same FMI calls per step:
per instance one fmi2GetReal, one fmi2SetReal and one fmi2DoStep. The plain C loop dlopens the
same FMU binary and is the floor. Only the stepping loop is timed (not loading/initialization).

    pip install "fmitwin[bench]"    # libcosimpy, the peer engine
    python benchmarks/compare_cosim.py [--quick]

Prints steps per second of each engine and the ratios measured in this run.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import fmitwin.models
import fmpy
from fmitwin.fmu import load_fmu
from fmitwin.system import System

STEP = 1.0
OUT_VR, IN_VR = 4, 3  # heated tank: Q_loss (output), P_heater (input)

C_LOOP = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "fmi2Functions.h"

static void logger(fmi2ComponentEnvironment env, fmi2String name, fmi2Status status,
                   fmi2String category, fmi2String message, ...) {
  (void)env; (void)name; (void)status; (void)category; (void)message;
}

#define LOAD(type, name) type* name = (type*)dlsym(lib, #name)

int main(int argc, char** argv) {
  if (argc != 7) return 2;
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  LOAD(fmi2InstantiateTYPE, fmi2Instantiate);
  LOAD(fmi2SetupExperimentTYPE, fmi2SetupExperiment);
  LOAD(fmi2EnterInitializationModeTYPE, fmi2EnterInitializationMode);
  LOAD(fmi2ExitInitializationModeTYPE, fmi2ExitInitializationMode);
  LOAD(fmi2GetRealTYPE, fmi2GetReal);
  LOAD(fmi2SetRealTYPE, fmi2SetReal);
  LOAD(fmi2DoStepTYPE, fmi2DoStep);
  LOAD(fmi2FreeInstanceTYPE, fmi2FreeInstance);
  fmi2CallbackFunctions callbacks = {logger, calloc, free, NULL, NULL};
  const int n = atoi(argv[4]);
  const long steps = atol(argv[5]);
  const double h = atof(argv[6]);
  fmi2Component c[8];
  const fmi2ValueReference out = 4, in = 3;
  double y[8];
  for (int i = 0; i < n; ++i) {
    char name[16];
    snprintf(name, sizeof name, "t%d", i);
    c[i] = fmi2Instantiate(name, fmi2CoSimulation, argv[2], argv[3], &callbacks, fmi2False,
                           fmi2False);
    if (!c[i] || fmi2SetupExperiment(c[i], fmi2False, 0, 0, fmi2False, 0) > fmi2Warning ||
        fmi2EnterInitializationMode(c[i]) > fmi2Warning ||
        fmi2ExitInitializationMode(c[i]) > fmi2Warning)
      return 1;
  }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long k = 0; k < steps; ++k) {
    for (int i = 0; i < n; ++i) fmi2GetReal(c[i], &out, 1, &y[i]);
    for (int i = 0; i < n; ++i) fmi2SetReal(c[(i + 1) % n], &in, 1, &y[i]);
    for (int i = 0; i < n; ++i)
      if (fmi2DoStep(c[i], k * h, h, fmi2True) > fmi2Warning) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double seconds = (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
  printf("%.17g\n", steps / seconds);
  for (int i = 0; i < n; ++i) fmi2FreeInstance(c[i]);
  return 0;
}
"""


def ring(fmu_path: Path, n: int) -> System:
    tank = load_fmu(fmu_path)
    system = System(f"ring{n}")
    for i in range(n):
        system.add(f"t{i}", tank, start_values={"T": 300.0 + 10 * i})
    for i in range(n):
        system.connect(f"t{i}.Q_loss", f"t{(i + 1) % n}.P_heater")
    return system


def fmitwin_rate(fmu_path: Path, n: int, steps: int) -> float:
    system = ring(fmu_path, n)
    stop = steps * STEP
    with system.start(STEP, stop_time=stop, outputs=["t0.T"], output_interval=stop) as run:
        start = time.perf_counter()
        run.advance_to(stop)
        return steps / (time.perf_counter() - start)


def fmpy_rate(fmu_path: Path, n: int, steps: int) -> float:
    description = fmpy.read_model_description(str(fmu_path))
    unzipdir = fmpy.extract(str(fmu_path))
    try:
        slaves = []
        for i in range(n):
            slave = fmpy.fmi2.FMU2Slave(
                guid=description.guid,
                unzipDirectory=unzipdir,
                modelIdentifier=description.coSimulation.modelIdentifier,
                instanceName=f"t{i}",
            )
            slave.instantiate()
            slave.setupExperiment(startTime=0.0)
            slave.enterInitializationMode()
            slave.exitInitializationMode()
            slaves.append(slave)
        start = time.perf_counter()
        for k in range(steps):
            y = [s.getReal([OUT_VR])[0] for s in slaves]
            for i in range(n):
                slaves[(i + 1) % n].setReal([IN_VR], [y[i]])
            for s in slaves:
                s.doStep(currentCommunicationPoint=k * STEP, communicationStepSize=STEP)
        rate = steps / (time.perf_counter() - start)
        for s in slaves:
            s.terminate()
            s.freeInstance()
        return rate
    finally:
        shutil.rmtree(unzipdir, ignore_errors=True)


def libcosim_rate(fmu_path: Path, n: int, steps: int) -> float:
    from libcosimpy.CosimExecution import CosimExecution
    from libcosimpy.CosimLogging import CosimLogLevel, log_output_level
    from libcosimpy.CosimSlave import CosimLocalSlave

    log_output_level(CosimLogLevel.ERROR)

    execution = CosimExecution.from_step_size(step_size=int(STEP * 1e9))
    for i in range(n):
        execution.add_local_slave(CosimLocalSlave(fmu_path=str(fmu_path), instance_name=f"t{i}"))
    for i in range(n):
        execution.connect_real_variables(i, OUT_VR, (i + 1) % n, IN_VR)
    execution.step(1)  # initialization happens on the first step
    start = time.perf_counter()
    execution.step(steps)
    rate = steps / (time.perf_counter() - start)
    execution.stop()
    return rate


def c_loop_rate(fmu_path: Path, n: int, steps: int, workdir: Path) -> float:
    binary = workdir / "c_loop"
    if not binary.exists():
        source = workdir / "c_loop.c"
        source.write_text(C_LOOP)
        headers = Path(fmpy.__file__).parent / "c-code"
        subprocess.run(
            ["cc", "-O2", "-o", str(binary), str(source), f"-I{headers}", "-ldl"], check=True
        )
        with zipfile.ZipFile(fmu_path) as zf:
            zf.extractall(workdir / "fmu")
    description = fmpy.read_model_description(str(fmu_path))
    identifier = description.coSimulation.modelIdentifier
    library = workdir / "fmu" / "binaries" / "linux64" / f"{identifier}.so"
    resources = (workdir / "fmu" / "resources").as_uri()
    out = subprocess.run(
        [str(binary), str(library), description.guid, resources, str(n), str(steps), str(STEP)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = parser.parse_args()
    fast_steps, slow_steps = (20_000, 1_000) if args.quick else (200_000, 5_000)
    try:
        import libcosimpy  # noqa: F401
    except ImportError:
        print(
            'this benchmark compares against libcosim: pip install "fmitwin[bench]"',
            file=sys.stderr,
        )
        return 1
    fmu_path = fmitwin.models.path("heated_tank")
    if sys.platform != "linux" or ctypes.sizeof(ctypes.c_void_p) != 8:
        print("the plain C loop is built for linux64 only", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="fmitwin-bench-") as tmp:
        workdir = Path(tmp)
        print(
            f"heated tank (FMI 2.0 CS), ring coupling, Jacobi, step {STEP} s; steps/s (best of 3)"
        )
        print(
            f"{'FMUs':>4} {'fmitwin':>12} {'C loop':>12} {'libcosim':>12} {'FMPy loop':>12}"
            f" {'x libcosim':>11} {'x FMPy':>8} {'C/fmitwin':>10}"
        )
        for n in (2, 3):
            rates = {
                "fmitwin": max(fmitwin_rate(fmu_path, n, fast_steps) for _ in range(3)),
                "c": max(c_loop_rate(fmu_path, n, fast_steps, workdir) for _ in range(3)),
                "libcosim": max(libcosim_rate(fmu_path, n, slow_steps) for _ in range(3)),
                "fmpy": max(fmpy_rate(fmu_path, n, slow_steps) for _ in range(3)),
            }
            print(
                f"{n:>4} {rates['fmitwin']:>12.4g} {rates['c']:>12.4g} {rates['libcosim']:>12.4g}"
                f" {rates['fmpy']:>12.4g} {rates['fmitwin'] / rates['libcosim']:>11.1f}"
                f" {rates['fmitwin'] / rates['fmpy']:>8.1f} {rates['c'] / rates['fmitwin']:>10.2f}"
            )
    print("(targets: >= 100 x libcosim, C/fmitwin <= 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
