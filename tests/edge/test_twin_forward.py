"""A running twin forwarding to a real central ingest through a real mosquitto: while its link
is cut the twin keeps estimating and publishing locally and its outbox grows; after the cut, and
after the twin's restart, the centre holds every record once, in order; the status shows the
backlog, drops, bytes sent and last contact."""

import asyncio
import contextlib
import json

import pytest
from fmitwin.fleet.ingest import Ingest
from fmitwin.live.config import parse_config
from fmitwin.live.forward import Forwarder, Outbox
from fmitwin.live.status import render
from fmitwin.live.twin import Twin
from rich.console import Console
from support.live_servers import (
    LinkCut,
    Mosquitto,
    Running,
    replay_twin,
    running_broker,
    wait_until,
)

ASYNC = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    yield from running_broker(tmp_path_factory.mktemp("edge-twin"), Mosquitto)


@contextlib.asynccontextmanager
async def background(coro):
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def write_readings(path, seconds: float, rate: float = 20.0) -> None:
    rows = [f"{i / rate:.3f},T,{300 + 0.01 * i:.3f}" for i in range(int(seconds * rate))]
    path.write_text("ts,sensor,value\n" + "\n".join(rows) + "\n")


def edge_twin(tmp_path, url: str, speed: float, forward: str = "") -> Twin:
    text = replay_twin(
        "readings.csv",
        name=f"edge-{tmp_path.name}"[:40],
        speed=speed,
        Q=0.1,
        value_range=(250.0, 1000.0),
        extra=f'[history]\npath = "history.db"\n\n[forward]\nurl = "{url}"\n'
        f"health_interval = 0.2\n{forward}",
    )
    (tmp_path / "twin.toml").write_text(text)
    return Twin(parse_config(text, tmp_path / "twin.toml"))


@ASYNC
async def test_cut_link_twin_keeps_estimating_and_centre_gets_all_once(broker, tmp_path):
    write_readings(tmp_path / "readings.csv", 300.0)  # more than the test plays, at speed 1
    ingest = Ingest(tmp_path / "central.db", broker.url, client_id=f"ingest-{tmp_path.name}")
    async with background(ingest.run()), LinkCut(broker.port) as link:
        await asyncio.wait_for(ingest.subscribed.wait(), 10)
        twin = edge_twin(tmp_path, f"mqtt://127.0.0.1:{link.port}", speed=1.0)
        name = twin.config.name
        async with Running(twin):
            await wait_until(lambda: len(ingest.records(name)) >= 20, 20, "the first records")
            link.cut()
            await wait_until(lambda: not twin.forwarder.status.connected, 10, "the cut noticed")
            applied, published = twin.sync.counters.applied, twin.publisher.published
            stored = len(ingest.records(name))
            await asyncio.sleep(3.0)  # the cut
            assert twin.sync.counters.applied > applied + 20  # kept estimating (20 Hz)
            assert twin.publisher.published > published  # and publishing locally
            assert twin.forward_status()["backlog"] > 20
            assert len(ingest.records(name)) == stored
            screen = Console(width=200, record=True)
            screen.print(render(twin))
            shown = screen.export_text()
            assert "forward backlog" in shown and "DOWN" in shown
            link.restore()
            queued = twin.outbox.acked + twin.outbox.backlog  # the last id in the outbox
            await wait_until(
                lambda: len(ingest.records(name)) >= queued,
                30,
                lambda: (
                    f"the {queued} records queued by the end of the cut: {twin.forward_status()}"
                ),
            )
        final = twin.forward_status()  # the twin stopped: its last records wait in the outbox
        assert final["backlog"] > 0 and final["dropped"] == 0 and final["bytes_sent"] > 0
        # the next run of the edge sends them (a forwarder on the same outbox)
        outbox = Outbox(tmp_path / "history.db")
        assert outbox.bytes_sent == final["bytes_sent"]  # kept across the restart
        last_id = outbox.pending(10_000)[-1][0]
        forwarder = Forwarder(
            outbox, broker.url, twin=name, client_id=twin.config.forward.client_id
        )
        async with background(forwarder.run()):
            await wait_until(lambda: len(ingest.records(name)) >= last_id, 20, "the rest")
        outbox.close()
    records = ingest.records(name)
    assert [r[0] for r in records] == list(range(1, last_id + 1))  # every record once, in order
    assert ingest.duplicates == 0 or len(records) == last_id
    estimates = [body for _, kind, body in records if kind == "estimate"]
    times = [e["t"] for e in estimates]
    assert times == sorted(times) and len(estimates) > 60
    events = [body["kind"] for _, kind, body in records if kind == "event"]
    assert events[0] == "twin_started" and events[-1] == "twin_stopped"
    assert "link_down" in events and "link_up" in events  # the cut, reported to the centre
    backlogs = [body["forward"]["backlog"] for _, kind, body in records if kind == "health"]
    assert max(backlogs) > 20  # the health sent during the cut reported the backlog
    ingest.close()


@ASYNC
async def test_status_topic_and_exit_report_forwarding(broker, tmp_path):
    """The published health (MQTT status topic) carries the forwarder's numbers."""
    import aiomqtt

    write_readings(tmp_path / "readings.csv", 2.0)
    text = replay_twin(
        "readings.csv",
        name="edge-status",
        speed=1.0,  # real time: the status goes out while the twin runs
        value_range=(250.0, 1000.0),
        extra=f'[history]\npath = "history.db"\n\n[publish]\nmqtt = "{broker.url}"\n'
        f'prefix = "site/edge-status"\n\n[forward]\nurl = "{broker.url}"\n',
    )
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe("site/edge-status/status", qos=1)
        twin = Twin(parse_config(text, tmp_path / "twin.toml"))
        await twin.run()

        async def forward_status():
            async for message in client.messages:
                doc = json.loads(message.payload)
                if "forward" in doc:
                    return doc["forward"]

        status = await asyncio.wait_for(forward_status(), 10)
    assert set(status) == {"backlog", "dropped", "bytes_sent", "last_contact"}


@pytest.mark.parametrize(
    ("forward", "most"),
    [
        ("every = 10", lambda whole: whole // 10 + 1),
        # 0.6 K in all: the first estimate, three moves of 0.2 K, and the health changes
        ("deadband = 0.2", lambda whole: 8),
    ],
    ids=["every", "deadband"],
)
def test_bandwidth_settings_thin_the_forwarded_estimates(tmp_path, forward, most):
    """The same replay in real time (one estimate per reading), forwarded whole and thinned;
    the link is down, so everything stays queued in the outbox."""
    write_readings(tmp_path / "readings.csv", 3.0)  # 60 readings, 0.6 K in all
    queued = {}
    for name, extra in (("whole", ""), ("thinned", forward)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "readings.csv").write_text((tmp_path / "readings.csv").read_text())
        twin = edge_twin(folder, "mqtt://127.0.0.1:1", speed=1.0, forward=extra)
        asyncio.run(twin.run())
        outbox = Outbox(folder / "history.db")
        rows = outbox.pending(100_000)
        queued[name] = (sum(k == "estimate" for _, k, _ in rows), outbox.backlog_bytes)
        outbox.close()
    (whole, whole_bytes), (thinned, thinned_bytes) = queued["whole"], queued["thinned"]
    assert whole >= 20 and 0 < thinned <= most(whole)
    assert thinned_bytes < 0.5 * whole_bytes
