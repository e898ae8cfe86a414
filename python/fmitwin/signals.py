"""Input signals over time, one vocabulary for ``simulate``, ``System`` and the CLI's ``--input``.

A signal is a pair (times, values) of equal-length 1-D float arrays. Times are finite and
non-decreasing; a time given twice is a step change: the signal has the first value up to that
time and the second from it on (right-continuous). Floating-point inputs are interpolated
linearly between samples, others are held. Before the first sample a signal has its first
value, after the last its last.

Accepted forms (``read_table`` / ``read_signals``):

* a table: a numpy structured array with a ``time`` field, a pandas DataFrame with a ``time``
  column or index, or a mapping with a ``time`` entry, plus one column per signal;
* (``System`` only) a mapping ``name -> constant`` or ``name -> (times, values)``, each signal on
  its own times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Signal = tuple[np.ndarray, np.ndarray]


def check_times(times: Any, what: str) -> np.ndarray:
    """``times`` as a float array: ValueError naming ``what`` unless 1-D, non-empty, finite
    and non-decreasing (a repeated time is a step change)."""
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0):
        raise ValueError(
            f"{what} must be finite and non-decreasing (a time given twice is a step change)"
        )
    return times


def step_times(times: np.ndarray) -> np.ndarray:
    """The times of step changes (the repeated times)."""
    return times[1:][np.diff(times) == 0]


def read_table(inputs: Any, argument: str = "inputs") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(times, {name: column}) from a table form (see the module docstring); the columns are
    the raw arrays (their dtype kept, for exact integer checks), each as long as ``times``."""
    if hasattr(inputs, "columns"):  # pandas DataFrame
        columns = {str(c): inputs[c].to_numpy() for c in inputs.columns}
        if "time" not in columns:
            columns = {"time": inputs.index.to_numpy(), **columns}
    elif isinstance(inputs, np.ndarray) and inputs.dtype.names:
        columns = {name: inputs[name] for name in inputs.dtype.names}
    elif isinstance(inputs, Mapping):
        columns = {str(k): np.asarray(v) for k, v in inputs.items()}
    else:
        raise TypeError(
            f"{argument}: expected a structured numpy array (a 'time' field), a pandas DataFrame "
            f"or a dict with a 'time' entry, got {type(inputs).__name__}"
        )
    if "time" not in columns:
        raise ValueError(f"{argument}: no 'time' column; give the sample times as 'time'")
    times = check_times(columns.pop("time"), f"{argument}: 'time'")
    for name, column in columns.items():
        if np.shape(column) != times.shape:
            raise ValueError(
                f"{argument}[{name!r}]: {np.size(column)} values for {times.size} time points"
            )
    return times, columns


def _is_table(inputs: Any) -> bool:
    if hasattr(inputs, "columns") or getattr(getattr(inputs, "dtype", None), "names", None):
        return True
    return isinstance(inputs, Mapping) and "time" in inputs


def read_signals(inputs: Any, argument: str = "inputs") -> dict[str, Signal]:
    """name -> (times, values) from any accepted form (None: no signals). Values must be
    finite numbers; a constant is one sample at t = 0."""
    if inputs is None:
        return {}
    if _is_table(inputs):
        times, columns = read_table(inputs, argument)
        signals = {name: (times, np.asarray(c, dtype=float)) for name, c in columns.items()}
    elif isinstance(inputs, Mapping):
        signals = {}
        for name, value in inputs.items():
            if np.ndim(value) == 0:
                signals[name] = (np.zeros(1), np.array([float(value)]))
                continue
            try:
                times, values = value
            except (TypeError, ValueError):
                raise ValueError(
                    f"{argument}: {name!r} needs a constant or a pair (times, values)"
                ) from None
            times = check_times(times, f"{argument}: the times of {name!r}")
            values = np.asarray(values, dtype=float)
            if values.shape != times.shape:
                raise ValueError(f"{argument}: {name!r} needs equal-length 1-D times and values")
            signals[name] = (times, values)
    else:
        raise TypeError(
            f"{argument}: give a mapping name -> constant or (times, values), or a DataFrame / "
            "structured array with a 'time' column"
        )
    for name, (_, values) in signals.items():
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{argument}: {name!r} has non-finite values")
    return signals
