"""Replay sources: recorded readings (a CSV file or a twin's SQLite history) played into a twin.

CSV format (header required; one reading per row, any order)::

    ts,sensor,value[,quality]
    1764078000.00,T_opcua,331.2,good

``ts`` is the source timestamp (POSIX seconds), ``sensor`` a sensor name of the twin file,
``value`` the raw value (a cell that is not a number stays a string, so the gateway flags it as
the wrong type), ``quality`` as in the MQTT payload schema. Rows are played in timestamp order.

During a replay the twin's clock is the replay's :class:`ReplayClock` (the time of the reading
being played), so staleness and reordering are judged as they were live; ``speed`` 1 paces the
replay in real time, 0 plays as fast as possible.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fmitwin.live.readings import UNCERTAIN_QUALITY, Flag, LinkStatus, Reading


class ReplayClock:
    """A settable clock: ``clock()`` returns the time of the reading being replayed."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def csv_readings(path: str | Path, sensors: Sequence[str]) -> list[Reading]:
    """Readings of a replay CSV, sorted by timestamp; errors name the file, line and column."""
    path = Path(path)
    out = []
    qualities = {"good": (1.0, Flag.OK), "uncertain": (UNCERTAIN_QUALITY, Flag.UNCERTAIN)}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"ts", "sensor", "value"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path}:1: header lacks column(s) {sorted(missing)}; need ts,sensor,value"
            )
        for row in reader:
            line = reader.line_num
            if row["sensor"] not in sensors:
                raise ValueError(f"{path}:{line}: sensor {row['sensor']!r} is not in the twin file")
            try:
                ts = float(row["ts"])
            except ValueError:
                raise ValueError(f"{path}:{line}: ts {row['ts']!r} is not a number") from None
            raw: object = row["value"]
            try:
                raw = float(raw)
            except ValueError:
                pass  # kept as text: the gateway counts it as the wrong type
            word = (row.get("quality") or "good").strip().lower()
            quality, flag = qualities.get(word, (0.0, Flag.BAD_STATUS))
            out.append(Reading(row["sensor"], raw, ts, None, ts, quality, flag, source="csv"))
    out.sort(key=lambda r: r.source_ts)
    return out


class ReplaySource:
    """Plays readings into ``submit`` in order, advancing ``clock``; ``done`` is set at the end."""

    def __init__(
        self,
        readings: Sequence[Reading],
        submit: Callable[[Reading], object],
        clock: ReplayClock,
        *,
        speed: float = 0.0,
    ) -> None:
        self.readings = list(readings)
        self.submit = submit
        self.clock = clock
        self.speed = speed
        self.status = LinkStatus("replay", connected=True)
        self.done = asyncio.Event()
        self.played = 0
        if self.readings:
            clock.now = self.readings[0].received_ts

    async def run(self) -> None:
        start_wall = time.monotonic()
        start = self.readings[0].received_ts if self.readings else 0.0
        for i, r in enumerate(self.readings):
            if self.speed > 0:
                delay = (r.received_ts - start) / self.speed - (time.monotonic() - start_wall)
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 256 == 0:
                await asyncio.sleep(0)  # let the synchronizer drain the buffer
            self.clock.now = r.received_ts
            self.submit(r)
            self.played += 1
        self.done.set()
        await asyncio.Event().wait()  # a source runs until the twin stops it
