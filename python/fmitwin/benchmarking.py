"""Measuring code shared by ``fmitwin bench`` and ``benchmarks/compare_filters.py``."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import fmitwin

# GCC's x86-64-v3 level (the clone the compiled core's kernels pick at load time when present).
_V3_FLAGS = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}


def best_of(
    repeats: int, run: Callable[[], object], clock: Callable[[], float] = time.process_time
) -> float:
    """The shortest of `repeats` runs. Single-threaded contenders are timed in process CPU time,
    which other processes on a busy machine inflate less; fleets on threads in wall time."""
    best = np.inf
    for _ in range(repeats):
        start = clock()
        run()
        best = min(best, clock() - start)
    return best


def linear_system(
    n: int, m: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stable random linear model: F, Q, H, R."""
    F = 0.95 * np.eye(n) + 0.02 * rng.normal(size=(n, n)) / np.sqrt(n)
    return F, 0.01 * np.eye(n), rng.normal(size=(m, n)), np.eye(m)


def fmitwin_filter(
    F: np.ndarray,
    Q: np.ndarray,
    H: np.ndarray,
    R: np.ndarray,
    kind: type = fmitwin.ExtendedKalmanFilter,
):
    """An fmitwin filter of `kind` on the linear model."""
    n, m = F.shape[0], H.shape[0]
    return kind(
        n,
        m,
        Q=Q,
        R=R,
        process_model=fmitwin.LinearProcessModel(F),
        measurement_model=fmitwin.LinearMeasurementModel(H),
    )


def step_flops(n: int, m: int) -> int:
    """Floating-point operations of one predict + Joseph-form update, dense products:
    F x, F P F^T + Q, H x, P H^T, H P H^T + R, K = P H^T S^-1 (Cholesky of S and solve),
    x + K y, K H, (I - K H) P (I - K H)^T and K R K^T."""
    predict = 2 * n * n + 4 * n**3 + n * n
    update = (
        2 * m * n  # H x
        + 2 * n * n * m  # P H^T
        + 2 * n * m * m  # H (P H^T) + R
        + m**3 // 3  # Cholesky of S
        + 2 * n * m * m  # solve for K
        + 2 * n * m  # x + K y
        + 2 * n * n * m  # K H
        + 4 * n**3  # (I - K H) P (I - K H)^T
        + 2 * n * m * m
        + 2 * n * n * m  # K R K^T
    )
    return predict + update


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def kernel_isa() -> str:
    """The instruction set the compiled core's cloned kernels run on this CPU: GCC's loader picks
    the x86-64-v3 clone (AVX2 + FMA) where the CPU has every v3 flag, else the baseline."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.machine() not in ("x86_64", "AMD64") or not cpuinfo.exists():
        return "baseline"
    flags: set[str] = set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return "x86-64-v3 (AVX2, FMA)" if _V3_FLAGS <= flags else "x86-64 baseline"


def build_cpp(source: Path, binary: Path, flags: tuple[str, ...] = ("-O3",)) -> Path:
    """`source` compiled with `flags` into `binary`, unless `binary` is newer than `source`."""
    if binary.exists() and binary.stat().st_mtime > source.stat().st_mtime:
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        raise RuntimeError("no C++ compiler found: install g++ or set CXX")
    command = [compiler, *flags, str(source), "-o", str(binary)]
    print("building:", " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True)
    return binary


def fma_peak_gflops() -> tuple[float, str]:
    """One core's double-precision FMA peak in GFLOP/s, measured by data/fma_peak.cpp (compiled
    here on each call), and the instruction set it used."""
    with tempfile.TemporaryDirectory() as folder:
        binary = build_cpp(Path(__file__).with_name("data") / "fma_peak.cpp", Path(folder) / "peak")
        out = subprocess.run([str(binary)], check=True, capture_output=True, text=True)
    value, isa = out.stdout.split()
    return float(value), isa
