"""Overload is visible: a burst of readings beyond the gateway buffer (played from a CSV file in
real time through the real gateway, synchronizer and publisher) is shed by the documented policy
(the oldest buffered readings are dropped), and the loss shows in the published health
("overloaded"), the status payload (dropped, late, lag), the history (an "overload" event, one
a second at most) and the status screen; health returns to ok once the burst is over."""

import json

from fmitwin.live.config import parse_config
from fmitwin.live.history import recorded_estimates, recorded_events
from fmitwin.live.publish import status_payload
from fmitwin.live.status import render
from rich.console import Console
from support.live_servers import replay_twin

TWIN = replay_twin(
    "readings.csv",
    name="tank",
    state="T",
    x0=300.0,
    P0=1.0,
    Q=0.01,
    speed=1.0,
    value_range=(250.0, 450.0),
    sensor_options='unit = "K"\nstale_after = 5',
    extra='[history]\npath = "history.sqlite"',
)


def readings() -> str:
    rows = ["ts,sensor,value"]
    rows += [f"{1000 + 0.05 * k:.6f},T,300.0" for k in range(10)]  # 0.5 s at 20 Hz
    rows += [f"{1000.5 + 1e-5 * k:.6f},T,300.0" for k in range(300)]  # a burst: 300 in 3 ms
    rows += [f"{1000.51 + 0.05 * k:.6f},T,300.0" for k in range(50)]  # 2.5 s at 20 Hz
    return "\n".join(rows) + "\n"


async def test_a_burst_beyond_the_buffer_is_shed_and_reported(tmp_path):
    from fmitwin.live.twin import Twin

    (tmp_path / "readings.csv").write_text(readings())
    twin = Twin(parse_config(TWIN, tmp_path / "twin.toml"), capacity=20)
    payloads = []
    publish = twin.publisher.publish

    async def watch(est):
        await publish(est)
        payloads.append(json.loads(status_payload(twin.sync, est)))

    twin.publisher.publish = watch
    await twin.run()  # to the end of the file
    console = Console(record=True, width=200)
    console.print(render(twin))
    screen = console.export_text()

    dropped = twin.gateway.buffer.dropped
    assert dropped > 200  # most of the burst overflowed the 20-reading buffer
    assert twin.sync.counters.applied == 360 - dropped
    healths = [e["health"] for e in recorded_estimates(tmp_path / "history.sqlite")]
    assert "overloaded" in healths and healths[-1] == "ok"
    assert any(p["dropped"] == dropped and p["lag"] >= 0 and "late" in p for p in payloads)
    overloads = [e for e in recorded_events(tmp_path / "history.sqlite") if e["kind"] == "overload"]
    assert len(overloads) == 1 and overloads[0]["lost"] == dropped
    assert "oldest" in overloads[0]["policy"]
    assert f"dropped {dropped}" in screen
