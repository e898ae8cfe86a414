"""``fmitwin bench``: filter throughput on this machine against the peers installed."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time

HELP = "Measure Kalman filter throughput (steps/s, GFLOP/s) against FilterPy and simdkalman."

PEERS = ("filterpy", "simdkalman")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, nargs="+", default=[6, 24, 48], help="state sizes")
    parser.add_argument("--m", type=int, help="measurement size (default n // 2, at least 1)")
    parser.add_argument("--steps", type=int, default=2000, help="batch steps per timing")
    parser.add_argument("--fleet", type=int, default=1000, help="filters in the fleet run")
    parser.add_argument("--threads", type=int, default=1, help="fleet threads")
    parser.add_argument(
        "--peers", nargs="*", default=None, help=f"peers to compare (default: installed of {PEERS})"
    )
    parser.add_argument(
        "--peak",
        action="store_true",
        help="also measure one core's FMA peak (compiles a C++ probe) and the fraction reached",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _check(args: argparse.Namespace) -> str | None:
    if any(n < 1 for n in args.n):
        return "--n: every state size must be at least 1"
    if args.m is not None and args.m < 1:
        return "--m: the measurement size must be at least 1"
    for name, value in (
        ("--steps", args.steps),
        ("--fleet", args.fleet),
        ("--threads", args.threads),
    ):
        if value < 1:
            return f"{name}: must be at least 1"
    for peer in args.peers or ():
        if peer not in PEERS:
            return f"--peers: unknown peer {peer!r}; choose from {', '.join(PEERS)}"
        if importlib.util.find_spec(peer) is None:
            return f"--peers: {peer} is not installed; pip install {peer}"
    return None


def _measure(n: int, m: int, args: argparse.Namespace, peers: list[str]) -> dict[str, float]:
    import numpy as np

    import fmitwin
    from fmitwin.benchmarking import best_of, fmitwin_filter, linear_system, step_flops

    rng = np.random.default_rng(0)
    F, Q, H, R = linear_system(n, m, rng)
    zs = rng.normal(size=(args.steps, m))
    ekf = fmitwin_filter(F, Q, H, R)
    batch = best_of(3, lambda: ekf.batch_filter(zs, covariances="none")) / args.steps
    fleet_z = rng.normal(size=(3, args.fleet, m))
    fleet = fmitwin.FleetKalmanFilter(args.fleet, n, m, F=F, H=H, Q=Q, R=R, threads=args.threads)
    fleet_t = best_of(3, lambda: fleet.run(fleet_z), time.perf_counter) / fleet_z[..., 0].size
    row = {
        "n": n,
        "m": m,
        "batch_steps_per_s": 1 / batch,
        "batch_gflops": step_flops(n, m) / batch / 1e9,
        "fleet_steps_per_s": 1 / fleet_t,
    }
    if "filterpy" in peers:
        from filterpy.kalman import ExtendedKalmanFilter

        theirs = ExtendedKalmanFilter(n, m)
        theirs.F, theirs.Q, theirs.R = F, Q, R
        count = min(args.steps, 500)
        columns = [z[:, None] for z in zs[:count]]

        def filterpy_steps() -> None:
            for z in columns:
                theirs.predict()
                theirs.update(z, lambda _x: H, lambda x: H @ x)

        row["filterpy_steps_per_s"] = count / best_of(3, filterpy_steps)
        row["batch_over_filterpy"] = row["batch_steps_per_s"] / row["filterpy_steps_per_s"]
    if "simdkalman" in peers:
        import simdkalman.primitives as simd

        simd_z = fleet_z[..., None]

        def simdkalman_fleet() -> None:
            x, P = np.zeros((args.fleet, n, 1)), np.tile(np.eye(n), (args.fleet, 1, 1))
            for z in simd_z:
                x, P = simd.predict(x, P, F, Q)
                x, P = simd.update_with_nan_check(x, P, H, R, z)

        simd_t = best_of(3, simdkalman_fleet, time.perf_counter) / fleet_z[..., 0].size
        row["simdkalman_steps_per_s"] = 1 / simd_t
        row["fleet_over_simdkalman"] = simd_t / fleet_t
    return row


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"fmitwin bench: {problem}", file=sys.stderr)
        return 2
    from fmitwin.benchmarking import cpu_model, fma_peak_gflops, kernel_isa

    peers = (
        args.peers
        if args.peers is not None
        else [p for p in PEERS if importlib.util.find_spec(p) is not None]
    )
    rows = [_measure(n, args.m or max(1, n // 2), args, peers) for n in args.n]
    result = {
        "cpu": cpu_model(),
        "isa": kernel_isa(),
        "threads": args.threads,
        "fleet": args.fleet,
        "peers": peers,
        "rows": rows,
    }
    if args.peak:
        try:
            peak, probe_isa = fma_peak_gflops()
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"fmitwin bench --peak: {exc}", file=sys.stderr)
            return 1
        result["fma_peak_gflops"], result["fma_peak_isa"] = peak, probe_isa
        for row in rows:
            row["peak_fraction"] = row["batch_gflops"] / peak
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"CPU: {result['cpu']}; kernel ISA: {result['isa']}")
    print(f"fleet: {args.fleet} filters on {args.threads} thread(s); ratio = fmitwin / peer speed")
    header = f"{'n':>3} {'m':>3} {'batch steps/s':>14} {'GFLOP/s':>8} {'fleet steps/s':>14}"
    header += "".join(f" {h:>14}" for h in ("batch/FilterPy", "fleet/simdk"))
    print(header)
    for row in rows:
        line = f"{row['n']:3d} {row['m']:3d} {row['batch_steps_per_s']:14.3g}"
        line += f" {row['batch_gflops']:8.2f} {row['fleet_steps_per_s']:14.3g}"
        for key in ("batch_over_filterpy", "fleet_over_simdkalman"):
            line += f" {row[key]:14.1f}" if key in row else f" {'-':>14}"
        print(line)
    if args.peak:
        print(f"one core's FMA peak, measured ({result['fma_peak_isa']}): {peak:.1f} GFLOP/s")
        for row in rows:
            print(f"n = {row['n']}: batch at {100 * row['peak_fraction']:.1f} % of the peak")
    return 0
