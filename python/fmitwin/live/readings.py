"""Reading and quality types shared by the live adapters, gateway, synchronizer and history.

A reading is one sample of one sensor. Times are POSIX seconds (float, UTC). Quality is a number in
[0, 1]: 1 is Good, 0 is unusable (the filter skips it), values in between scale the sensor noise
(the filter uses R / quality).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fmitwin.live.redact import redact, redact_details

#: Quality given to an OPC UA Uncertain StatusCode or an MQTT "uncertain" payload.
UNCERTAIN_QUALITY = 0.5


class Flag(enum.StrEnum):
    """Why a reading has the quality it has (the gateway counts each kind)."""

    OK = "ok"
    BAD_STATUS = "bad_status"  # the source itself said Bad (OPC UA StatusCode, MQTT quality 0)
    UNCERTAIN = "uncertain"  # the source said Uncertain: kept with reduced quality
    OUT_OF_RANGE = "out_of_range"
    NAN = "nan"
    WRONG_TYPE = "wrong_type"
    STALE = "stale"  # source timestamp older than the sensor's stale_after
    FUTURE = "future"  # source timestamp ahead of the twin's clock by more than the tolerance
    DUPLICATE = "duplicate"  # a repeat (sensor, source timestamp, value) of an accepted reading
    MALFORMED = "malformed"  # payload could not be decoded at all (MQTT)


@dataclass(slots=True)
class Reading:
    """One sample as received from a source, before and after gateway validation.

    ``raw`` is what the source delivered (any type); ``value`` is the validated float, or NaN when
    the reading is unusable. ``quality`` is 0 whenever ``flag`` is not OK/UNCERTAIN.
    """

    sensor: str
    raw: Any
    source_ts: float
    server_ts: float | None = None
    received_ts: float = field(default_factory=time.time)
    quality: float = 1.0
    flag: Flag = Flag.OK
    value: float = float("nan")
    source: str = ""  # adapter name, e.g. "opcua" or "mqtt"

    @property
    def usable(self) -> bool:
        return self.quality > 0.0 and self.flag in (Flag.OK, Flag.UNCERTAIN)


@dataclass
class LinkStatus:
    """Connection state of one adapter (OPC UA client, MQTT client, publisher): outages reported.

    ``outages`` holds ``(start, end)`` wall-clock pairs; ``end`` is None while the link is down.
    """

    name: str
    connected: bool = False
    reconnects: int = 0
    last_error: str = ""
    outages: list[tuple[float, float | None]] = field(default_factory=list)

    def down(self, error: BaseException | str, now: float | None = None) -> bool:
        """Mark the link down; True when this starts a new outage (report it once)."""
        self.last_error = str(error) or type(error).__name__
        self.connected = False
        if self.outages and self.outages[-1][1] is None:
            return False  # already inside an outage
        self.outages.append((time.time() if now is None else now, None))
        return True

    def up(self, now: float | None = None) -> float | None:
        """Mark the link up; returns the length of the outage it ends, if any."""
        self.connected = True
        if self.outages and self.outages[-1][1] is None:
            start = self.outages[-1][0]
            end = time.time() if now is None else now
            self.outages[-1] = (start, end)
            self.reconnects += 1
            return end - start
        return None


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that ``asyncio.wait_for`` swallowed (Python 3.11 does when the
    awaited future completes at the moment of the cancel); loops call it once per turn."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class LinkReporter:
    """Keeps a LinkStatus and turns its transitions into ``link_down`` / ``link_up`` events."""

    def __init__(self, name: str, target: str, on_event: Callable[[str, dict], None] | None):
        self.status = LinkStatus(name)
        self.target = redact(target)
        self.on_event = on_event

    def up(self) -> None:
        gap = self.status.up()
        if gap is not None:
            self.event("link_up", link=self.status.name, target=self.target, gap=gap)

    def down(self, error: BaseException | str) -> None:
        error = redact(str(error) or type(error).__name__)
        if self.status.down(error):
            self.event("link_down", link=self.status.name, target=self.target, error=error)

    def event(self, kind: str, **details) -> None:
        details = redact_details(details)
        if self.on_event is not None:
            self.on_event(kind, details)
        else:
            logging.getLogger("fmitwin.live").info("%s %s", kind, details)
