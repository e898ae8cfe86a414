"""The gateway between adapters and the synchronizer: validation, staleness, last-known values and
a bounded buffer.

Every reading an adapter delivers passes :meth:`Gateway.submit`:

* wrong type (anything but a real number: strings, booleans, None, arrays) -> ``WRONG_TYPE``
* NaN or infinite -> ``NAN``
* outside the sensor's configured ``range`` -> ``OUT_OF_RANGE`` (never clamped into range)
* source timestamp older than ``stale_after`` -> ``STALE``; ahead of the clock by more than
  ``future_tolerance`` -> ``FUTURE``
* same sensor, source timestamp and value as a reading already accepted -> ``DUPLICATE``
* source said Bad -> ``BAD_STATUS``; source said Uncertain -> kept, quality reduced

Duplicates. Redeliveries repeat a reading exactly: MQTT QoS 1 (a message whose PUBACK was lost
in a cut is sent again when a persistent session resumes; a publisher resends what it did not see
acknowledged) and OPC UA (a new subscription reports the current value, already received before
the outage). The gateway remembers ``(source timestamp, value)`` of each sensor's accepted
readings for ``stale_after`` seconds (a repeat older than that is ``STALE`` anyway), at most
``capacity`` per sensor; a repeat among them is ``DUPLICATE``. Two different values with the same
timestamp are two readings, both applied. Only accepted readings are remembered: a repeat of a
rejected reading is rejected, and counted, again.

A flagged reading gets quality 0 and value NaN, is counted per sensor and per flag, is recorded,
and never reaches the filter. Usable readings go into a bounded FIFO for the synchronizer; when it
is full the oldest reading is dropped and counted (a slow consumer cannot exhaust memory).

Last-known value: ``last_known(sensor)`` returns the last usable value with quality
``q0 * exp(-age / tau)``, ``tau = stale_after / 3``, and quality 0 once ``age > stale_after``. The
synchronizer uses it for model inputs (a heater power reading holds between samples); it is never
fed to the filter as a measurement (that would count one sample many times).
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fmitwin.live.config import SensorConfig
from fmitwin.live.readings import Flag, Reading

_FLOAT_MAX = sys.float_info.max


class BoundedBuffer:
    """FIFO with a hard capacity; when full, the oldest item is dropped and counted."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"BoundedBuffer capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: deque = deque()
        self.dropped = 0
        self.high_water = 0

    def push(self, item) -> None:
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self.high_water = max(self.high_water, len(self._items))

    def drain(self) -> list:
        items = list(self._items)
        self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class SensorStats:
    """Per-sensor counters and the last usable reading."""

    received: int = 0
    accepted: int = 0
    flags: Counter = field(default_factory=Counter)
    last_value: float = math.nan
    last_quality: float = 0.0
    last_source_ts: float | None = None
    last_received_ts: float | None = None
    stale: bool = True  # no usable reading yet
    stale_episodes: int = 0
    rate: float = 0.0  # usable readings/s over the last full window of >= 1 s
    window_start: float = 0.0
    window_count: int = 0
    accepted_keys: set = field(default_factory=set)  # (source_ts, value) kept to spot repeats
    accepted_order: deque = field(default_factory=deque)  # the same keys, oldest first

    @property
    def rejected(self) -> int:
        return sum(n for f, n in self.flags.items() if f not in (Flag.OK, Flag.UNCERTAIN))


class Gateway:
    """Validates readings, keeps last-known values and feeds a bounded buffer.

    ``on_reading(reading)`` is called for every reading after validation (the history records it);
    ``on_event(kind, details)`` for stale episodes; ``on_buffered()`` after a usable reading is
    buffered (wakes the synchronizer).
    """

    def __init__(
        self,
        sensors: dict[str, SensorConfig],
        *,
        capacity: int = 100_000,
        future_tolerance: float = 1.0,
        on_reading: Callable[[Reading], None] | None = None,
        on_event: Callable[[str, dict], None] | None = None,
        on_buffered: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
        units: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        """``units``: sensor -> (scale, offset) from its unit into the model's (see
        ``fmitwin.live.units``); the range is checked before, in the sensor's unit."""
        self.sensors = sensors
        self.units = units or {}
        self.buffer = BoundedBuffer(capacity)
        self.future_tolerance = future_tolerance
        self.stats = {name: SensorStats() for name in sensors}
        self._on_reading = on_reading
        self._on_event = on_event
        self._on_buffered = on_buffered
        self.clock = clock

    def validate(self, reading: Reading, now: float) -> Reading:
        """Set flag, quality and value of ``reading`` from its raw value and timestamps."""
        cfg = self.sensors[reading.sensor]
        raw = reading.raw
        flag = reading.flag
        if flag not in (Flag.OK, Flag.UNCERTAIN):
            pass  # the adapter already knows it is unusable (Bad status, malformed payload)
        elif isinstance(raw, bool) or not isinstance(raw, int | float | np.integer | np.floating):
            flag = Flag.WRONG_TYPE
        elif isinstance(raw, int) and not -_FLOAT_MAX <= raw <= _FLOAT_MAX:
            flag = Flag.OUT_OF_RANGE  # a 400-digit integer: beyond every float, so every range
        elif not math.isfinite(raw):
            flag = Flag.NAN
        elif not cfg.range[0] <= raw <= cfg.range[1]:
            flag = Flag.OUT_OF_RANGE
        elif now - reading.source_ts > cfg.stale_after:
            flag = Flag.STALE
        elif reading.source_ts - now > self.future_tolerance:
            flag = Flag.FUTURE
        elif (reading.source_ts, raw) in self.stats[reading.sensor].accepted_keys:
            flag = Flag.DUPLICATE
        reading.flag = flag
        if flag in (Flag.OK, Flag.UNCERTAIN):
            scale, offset = self.units.get(reading.sensor, (1.0, 0.0))
            reading.value = scale * float(raw) + offset
        else:
            reading.value = math.nan
            reading.quality = 0.0
        return reading

    def submit(self, reading: Reading) -> Reading:
        """Validate, count, record and (if usable) buffer one reading; returns it."""
        now = self.clock()
        self.validate(reading, now)
        st = self.stats[reading.sensor]
        st.received += 1
        st.flags[reading.flag] += 1
        if reading.usable:
            st.accepted += 1
            st.window_count += 1
            if now - st.window_start >= 1.0:
                st.rate = st.window_count / (now - st.window_start)
                st.window_start, st.window_count = now, 0
            st.last_received_ts = now
            self._remember(st, reading, now - self.sensors[reading.sensor].stale_after)
            if st.last_source_ts is None or reading.source_ts >= st.last_source_ts:
                st.last_value = reading.value
                st.last_quality = reading.quality
                st.last_source_ts = reading.source_ts
            if st.stale:
                st.stale = False
                self._event("sensor_fresh", sensor=reading.sensor)
            self.buffer.push(reading)
            if self._on_buffered is not None:
                self._on_buffered()
        if self._on_reading is not None:
            self._on_reading(reading)
        return reading

    def _remember(self, st: SensorStats, reading: Reading, horizon: float) -> None:
        """Remember an accepted reading; forget those with a source timestamp older than
        ``horizon`` (in arrival order) and beyond the capacity."""
        key = (reading.source_ts, reading.raw)
        st.accepted_keys.add(key)
        order = st.accepted_order
        order.append(key)
        while order and (order[0][0] < horizon or len(order) > self.buffer.capacity):
            st.accepted_keys.discard(order.popleft())

    def last_known(self, sensor: str, now: float | None = None) -> tuple[float, float]:
        """``(value, quality)`` of the last usable reading, quality decayed with its age."""
        st = self.stats[sensor]
        if st.last_source_ts is None:
            return math.nan, 0.0
        age = max(0.0, (self.clock() if now is None else now) - st.last_source_ts)
        stale_after = self.sensors[sensor].stale_after
        if age > stale_after:
            return st.last_value, 0.0
        return st.last_value, st.last_quality * math.exp(-3.0 * age / stale_after)

    def check_staleness(self, now: float | None = None) -> list[str]:
        """Mark sensors without a reading for longer than ``stale_after``; returns new ones."""
        now = self.clock() if now is None else now
        newly = []
        for name, st in self.stats.items():
            if st.stale:
                continue
            if (
                st.last_source_ts is not None
                and now - st.last_source_ts > self.sensors[name].stale_after
            ):
                st.stale = True
                st.stale_episodes += 1
                newly.append(name)
                self._event("sensor_stale", sensor=name, last_reading=st.last_source_ts, at=now)
        return newly

    def counts(self) -> dict[str, dict[str, int]]:
        """``{sensor: {flag: count}}`` plus ``received``/``accepted``; for status and tests."""
        out = {}
        for name, st in self.stats.items():
            out[name] = {"received": st.received, "accepted": st.accepted, **st.flags}
        return out

    def _event(self, kind: str, **details) -> None:
        if self._on_event is not None:
            self._on_event(kind, details)
