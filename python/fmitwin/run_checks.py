"""Checks made before a run starts, so that bad input fails at once and loses nothing: the
experiment's times and step, the memory its results need, and the file they will be written to."""

from __future__ import annotations

import math
import os
from pathlib import Path


def experiment_times(
    start_time: float | None,
    stop_time: float | None,
    step: float | None,
    *,
    default_start: float | None = None,
    default_stop: float | None = None,
    default_step: float | None = None,
) -> tuple[float, float, float]:
    """(start, stop, step) from the arguments, else the defaults (an FMU's or SSP's default
    experiment; stop 1 s after start, step (stop - start) / 500 when none is given).

    Raises ValueError naming the argument for a start or stop time that is not finite, a stop
    time not after the start, and a step that is not positive and finite (a step of 0 is
    refused, never replaced by a default).
    """
    t0 = float(start_time if start_time is not None else (default_start or 0.0))
    if not math.isfinite(t0):
        raise ValueError(f"start_time: must be a finite number, got {t0}")
    t1 = float(stop_time if stop_time is not None else (default_stop or t0 + 1.0))
    if not math.isfinite(t1):
        raise ValueError(
            f"stop_time: must be a finite number, got {t1}; a run needs an end (give the time "
            "to stop at)"
        )
    if not t1 > t0:
        raise ValueError(f"stop_time: must be greater than start_time ({t0}), got {t1}")
    h = float(step if step is not None else (default_step or (t1 - t0) / 500))
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"step: must be a positive number and finite, got {h}")
    return t0, t1, h


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_result_memory(rows: float, columns: int, *, what: str = "the results") -> None:
    """Refuses a run whose ``rows`` x ``columns`` result table (8 bytes per value, time
    included) would not fit in the memory available now: MemoryError naming the rows, the
    memory needed and what to change, raised before anything is allocated."""
    needed = float(rows) * max(int(columns), 1) * 8
    available = _available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"{what} need {_size(needed)} ({rows:.4g} rows x {columns} values), more than the "
            f"{_size(available)} of memory available; use a larger step or output interval, a "
            "shorter run, or record fewer variables"
        )


def check_output_file(
    path: str | os.PathLike[str], *, inputs: tuple[Path, ...] = (), argument: str = "path"
) -> Path:
    """The file a run will write, checked before the run starts: ValueError if it is one of
    the run's ``inputs`` (e.g. the FMU itself) or a directory, FileNotFoundError if its
    directory does not exist, PermissionError if it cannot be written there. ``argument``
    names the file in the messages (e.g. "-o")."""
    out = Path(path)
    if any(out.exists() and i.exists() and out.samefile(i) for i in inputs):
        raise ValueError(
            f"{argument} {out}: that is the model being simulated; give another file name"
        )
    if out.is_dir():
        raise ValueError(
            f"{argument} {out}: is a directory; give a file name, e.g. {out / 'out.csv'}"
        )
    parent = out.parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"{argument} {out}: the directory {parent} does not exist; create it first or "
            "write elsewhere"
        )
    writable = os.access(out, os.W_OK) if out.exists() else os.access(parent, os.W_OK | os.X_OK)
    if not writable:
        raise PermissionError(f"{argument} {out}: cannot write there (permission denied)")
    return out
