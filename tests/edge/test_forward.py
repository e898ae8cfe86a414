"""Edge forwarding against a real mosquitto: records queued while the edge-broker link is cut
reach the central store once each, in order, after the cut; a restart of the central ingest loses
and duplicates nothing (its persistent session queues what it missed)."""

import asyncio
import contextlib

import pytest
from fmitwin.fleet.ingest import Ingest
from fmitwin.live.forward import Forwarder, Outbox
from support.live_servers import LinkCut, Mosquitto, running_broker, wait_until

ASYNC = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    yield from running_broker(tmp_path_factory.mktemp("edge-forward"), Mosquitto)


@contextlib.asynccontextmanager
async def background(coro):
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def produce(outbox: Outbox, forwarder: Forwarder, n: int, start: int) -> None:
    for i in range(start, start + n):
        outbox.put("estimate", {"t": float(i), "x": [i]})
        forwarder.wake.set()
        await asyncio.sleep(0.01)


def assert_exactly_once(ingest: Ingest, twin: str, n: int) -> None:
    records = ingest.records(twin)
    assert [r[0] for r in records] == list(range(1, n + 1))
    assert [r[2]["t"] for r in records] == [float(i) for i in range(n)]


async def link_cut(broker, tmp_path, cut_seconds: float) -> None:
    twin = f"edge-{tmp_path.name}"
    ingest = Ingest(tmp_path / "central.db", broker.url, client_id=f"ingest-{tmp_path.name}")
    outbox = Outbox(tmp_path / "history.db")
    async with LinkCut(broker.port) as link:
        forwarder = Forwarder(
            outbox, f"mqtt://127.0.0.1:{link.port}", twin=twin, client_id=twin, backoff_max=0.5
        )
        async with background(ingest.run()), background(forwarder.run()):
            await asyncio.wait_for(ingest.subscribed.wait(), 10)
            await produce(outbox, forwarder, 50, 0)
            await wait_until(lambda: outbox.backlog == 0, 20, "the first 50 records sent")
            link.cut()
            await produce(outbox, forwarder, int(cut_seconds / 0.01), 50)  # ~cut_seconds
            assert outbox.backlog > 0
            link.restore()
            await produce(outbox, forwarder, 50, 50 + int(cut_seconds / 0.01))
            n = 100 + int(cut_seconds / 0.01)
            await wait_until(
                lambda: len(ingest.records(twin)) >= n,
                30,
                lambda: (
                    f"all {n} records stored ({len(ingest.records(twin))}, {forwarder.stats()})"
                ),
            )
    assert_exactly_once(ingest, twin, n)
    status = forwarder.stats()
    assert status["backlog"] == 0 and status["dropped"] == 0 and status["bytes_sent"] > 0
    assert status["last_contact"] is not None


@ASYNC
@pytest.mark.parametrize("cut_seconds", [3.0, 30.0])  # 30 s: the cut the issue names
async def test_link_cut_loses_and_duplicates_nothing(broker, tmp_path, cut_seconds):
    await link_cut(broker, tmp_path, cut_seconds)


@ASYNC
async def test_ingest_restart_loses_and_duplicates_nothing(broker, tmp_path):
    twin = f"edge-{tmp_path.name}"
    outbox = Outbox(tmp_path / "history.db")
    forwarder = Forwarder(outbox, broker.url, twin=twin, client_id=twin)
    ingest_args = (tmp_path / "central.db", broker.url)
    ingest = Ingest(*ingest_args, client_id=f"ingest-{tmp_path.name}")
    async with background(forwarder.run()):
        async with background(ingest.run()):
            await asyncio.wait_for(ingest.subscribed.wait(), 10)
            await produce(outbox, forwarder, 30, 0)
            await wait_until(lambda: len(ingest.records(twin)) == 30, 20, "30 records stored")
        ingest.close()
        await produce(outbox, forwarder, 30, 30)  # the centre is down: the broker queues them
        await wait_until(lambda: outbox.backlog == 0, 20, "records acknowledged by the broker")
        ingest = Ingest(*ingest_args, client_id=f"ingest-{tmp_path.name}")
        async with background(ingest.run()):
            await wait_until(lambda: len(ingest.records(twin)) >= 60, 20, "the queued records")
    assert_exactly_once(ingest, twin, 60)


def test_full_outbox_drops_oldest_and_counts(tmp_path):
    outbox = Outbox(tmp_path / "history.db", limit=5)
    ids = [outbox.put("event", {"i": i}) for i in range(8)]
    assert ids == list(range(1, 9))
    assert outbox.backlog == 5 and outbox.dropped == 3
    assert [r[0] for r in outbox.pending()] == [4, 5, 6, 7, 8]
