"""Readers for the run-to-failure data sets shipped with fmitwin (NASA C-MAPSS FD001).

The C-MAPSS files hold one row per engine operating cycle with 26 space-separated columns: unit,
cycle, three operational settings and 21 sensor measurements (Saxena et al., PHM08). The FD001
training and test files ship gzip-compressed inside the package, so ``load_cmapss()`` works on a
fresh install without network access.
"""

from __future__ import annotations

import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

CMAPSS_SETTINGS = [f"setting{i}" for i in range(1, 4)]
CMAPSS_SENSORS = [f"s{i}" for i in range(1, 22)]
CMAPSS_COLUMNS = ["unit", "cycle", *CMAPSS_SETTINGS, *CMAPSS_SENSORS]
CMAPSS_SPLITS = ("train", "test")

__all__ = [
    "CMAPSS_COLUMNS",
    "CMAPSS_SENSORS",
    "CMAPSS_SETTINGS",
    "cmapss_histories",
    "cmapss_readme",
    "load_cmapss",
    "read_cmapss",
    "shipped_cmapss_path",
    "training_rul",
]


def shipped_cmapss_path(split: str = "train", subset: str = "FD001") -> Path:
    """Path of the gzip-compressed C-MAPSS file shipped inside the package."""
    if split not in CMAPSS_SPLITS:
        raise ValueError(f"split={split!r} is not a C-MAPSS split; use one of {CMAPSS_SPLITS}")
    if subset != "FD001":
        raise ValueError(
            f"subset={subset!r} is not shipped (only FD001 is); pass the file to read_cmapss()"
        )
    resource = resources.files("fmitwin") / "data" / "cmapss" / f"{split}_{subset}.txt.gz"
    return Path(str(resource))


def cmapss_readme() -> str:
    """The data set's own readme (fault modes, conditions, column meaning, reference)."""
    resource = resources.files("fmitwin") / "data" / "cmapss" / "readme.txt.gz"
    return gzip.decompress(resource.read_bytes()).decode("latin-1")


def read_cmapss(path: str | Path) -> pd.DataFrame:
    """Read one C-MAPSS text file (plain or ``.gz``) into a DataFrame of ``CMAPSS_COLUMNS``.

    ``unit`` and ``cycle`` are integers, the rest floats. Raises ``ValueError`` naming the file
    when a row does not have 26 numeric columns, a value is missing, or the cycles of a unit are
    not strictly increasing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"C-MAPSS file {str(path)!r} does not exist")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = raw.decode("latin-1")
    if not text.strip():
        raise ValueError(f"C-MAPSS file {str(path)!r} is empty; expected 26 columns per row")
    try:
        table = np.loadtxt(io.StringIO(text), dtype=float, ndmin=2)
    except ValueError as exc:
        raise ValueError(
            f"C-MAPSS file {str(path)!r} is not a table of numbers separated by spaces: {exc}"
        ) from exc
    if table.shape[1] != len(CMAPSS_COLUMNS):
        raise ValueError(
            f"C-MAPSS file {str(path)!r} has {table.shape[1]} columns per row; expected "
            f"{len(CMAPSS_COLUMNS)} (unit, cycle, 3 settings, 21 sensors)"
        )
    if not np.isfinite(table).all():
        row = int(np.argwhere(~np.isfinite(table))[0, 0]) + 1
        raise ValueError(f"C-MAPSS file {str(path)!r} has a missing/NaN value on row {row}")
    frame = pd.DataFrame(table, columns=CMAPSS_COLUMNS)
    frame[["unit", "cycle"]] = frame[["unit", "cycle"]].astype(np.int64)
    steps = frame.groupby("unit", sort=False)["cycle"].diff()
    bad = steps.notna() & (steps <= 0)
    if bad.any():
        unit = int(frame.loc[bad.idxmax(), "unit"])
        raise ValueError(
            f"C-MAPSS file {str(path)!r}: cycles of unit {unit} are not strictly increasing; "
            "rows of one unit must be in cycle order"
        )
    return frame


def load_cmapss(split: str = "train", subset: str = "FD001") -> pd.DataFrame:
    """The shipped C-MAPSS ``split`` ('train' or 'test') of ``subset`` as a DataFrame."""
    return read_cmapss(shipped_cmapss_path(split, subset))


def training_rul(frame: pd.DataFrame) -> pd.Series:
    """Remaining useful life of every row of a run-to-failure (training) frame, in cycles.

    The last cycle of each unit is its failure, so RUL = last cycle of the unit - cycle.
    """
    last = frame.groupby("unit")["cycle"].transform("max")
    return (last - frame["cycle"]).rename("rul")


def cmapss_histories(frame: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{unit: (cycles (n,), values (n, 24))} with values the 3 settings then the 21 sensors:
    the history form every remaining-life model takes (``fmitwin.maintenance.RULModel``)."""
    columns = [*CMAPSS_SETTINGS, *CMAPSS_SENSORS]
    return {
        int(unit): (group["cycle"].to_numpy(dtype=float), group[columns].to_numpy(dtype=float))
        for unit, group in frame.groupby("unit", sort=True)
    }
