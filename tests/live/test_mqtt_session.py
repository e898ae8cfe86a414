"""MQTT sessions against a real mosquitto: readings published while the twin's connection is cut
reach it after the cut with a persistent session (once each, in event-time order; also across a
twin restart and a broker restart), and are lost with the default clean session.

The cut is a loopback TCP forwarder between twin and broker (`LinkCut`): the broker stays up for
the publisher, as in a network cut between plant network and twin. The tests run on mosquitto
explicitly (CI installs it), not on whichever broker `mqtt_broker` picks: amqtt 0.12's broker does
not deliver the queue of a resumed session.
"""

import time

import aiomqtt
import pytest
import pytest_asyncio
from fmitwin.live.config import parse_config
from fmitwin.live.history import recorded_readings
from fmitwin.live.readings import Flag
from fmitwin.live.twin import Twin
from support.live_servers import (
    LinkCut,
    Mosquitto,
    Running,
    heated_tank_twin,
    running_broker,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOPIC = "fmitwin/plant/HeatedTank/T"  # the T_mqtt sensor of heated_tank_twin


def persistent(tmp_path) -> str:
    """The [mqtt] keys of a persistent session, with a client id of this test's own."""
    return f'session = "persistent"\nclient_id = "fmitwin-{tmp_path.name}"'


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    yield from running_broker(tmp_path_factory.mktemp("mqtt-session"), Mosquitto)


@pytest_asyncio.fixture(loop_scope="module")
async def publisher(broker):
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="plant") as client:
        yield Publisher(client)


class Publisher:
    """The plant side: one JSON reading per message at QoS 1, each stamped as it is sent."""

    def __init__(self, client) -> None:
        self.client = client
        self.sent: list[tuple[float, float]] = []  # (value, source timestamp), in publish order

    async def readings(self, n: int) -> None:
        for _ in range(n):
            await self._publish(300.0 + 0.01 * len(self.sent), time.time())

    async def resend(self, index: int) -> None:
        """Publish ``sent[index]`` again: what a QoS 1 publisher does after losing a PUBACK."""
        await self._publish(*self.sent[index])

    async def _publish(self, value: float, ts: float) -> None:
        payload = b'{"value": %r, "ts": %r}' % (value, ts)
        await self.client.publish(TOPIC, payload, qos=1)  # returns once the broker has it
        self.sent.append((value, ts))

    def times(self) -> list[float]:
        return [ts for _, ts in self.sent]


def session_twin(cut: LinkCut, directory, options: str = "") -> Twin:
    text = heated_tank_twin(
        plant_opcua=None,
        mqtt=f"mqtt://127.0.0.1:{cut.port}",
        history=directory / "history.sqlite",
        mqtt_options=options,
        stale_after=30.0,  # bridge the outage: queued readings arrive seconds old
    )
    return Twin(parse_config(text, directory / "twin.toml"))


def accepted(twin: Twin) -> int:
    return twin.gateway.stats["T_mqtt"].accepted


async def outage(twin: Twin, cut: LinkCut, publisher: Publisher) -> None:
    """5 readings, cut, 10 readings (one of them sent twice) while away, reconnect, 5 more."""
    await wait_until(lambda: twin.mqtt.status.connected, 20, "MQTT link up")
    await publisher.readings(5)
    await wait_until(lambda: accepted(twin) == 5, 20, "readings before the cut")
    cut.cut()
    await wait_until(lambda: not twin.mqtt.status.connected, 20, "the cut to be noticed")
    await publisher.readings(10)
    await publisher.resend(-3)  # one of the queued readings, sent twice
    cut.restore()
    await wait_until(lambda: twin.mqtt.status.reconnects == 1, 20, "the reconnection")
    await publisher.readings(5)


async def test_persistent_session_delivers_what_was_sent_during_a_cut(broker, publisher, tmp_path):
    async with LinkCut(broker.port) as cut:
        twin = session_twin(cut, tmp_path, persistent(tmp_path))
        async with Running(twin):
            await outage(twin, cut, publisher)
            # MQTT keeps publish order per session: the 5 readings after the cut come last
            await wait_until(lambda: accepted(twin) == 20, 20, lambda: twin.gateway.counts())
            await wait_until(lambda: twin.sync.counters.applied == 20, 5, "all applied")

    # 20 distinct readings, each accepted once; the repeat sent during the cut is a duplicate,
    # and so is any QoS 1 redelivery: a reading whose PUBACK the cut swallowed comes again when
    # the session resumes (seen in practice for the last reading before the cut)
    counts = twin.gateway.counts()["T_mqtt"]
    duplicates = counts["received"] - 20
    assert duplicates >= 1
    assert counts == {
        "received": 20 + duplicates,
        "accepted": 20,
        Flag.OK: 20,
        Flag.DUPLICATE: duplicates,
    }
    arrived = [r.source_ts for r in recorded_readings(tmp_path / "history.sqlite")]
    assert len(arrived) == counts["received"]
    assert list(dict.fromkeys(arrived)) == list(dict.fromkeys(publisher.times()))  # in send order
    # the filter applied all 20 in event time: none was late (older than the filter's time), so
    # each moved it forward, to the last reading's timestamp
    assert twin.sync.counters.applied == 20 and not twin.sync.counters.late
    assert twin.sync.t == publisher.times()[-1]
    assert twin.gateway.stats["T_mqtt"].last_value == publisher.sent[-1][0]


async def test_persistent_session_outlives_a_twin_restart(broker, publisher, tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    options = persistent(tmp_path)
    async with LinkCut(broker.port) as cut:
        first = session_twin(cut, tmp_path / "first", options)
        async with Running(first):
            await wait_until(lambda: first.mqtt.status.connected, 20, "MQTT link up")
            await publisher.readings(3)
            await wait_until(lambda: accepted(first) == 3, 20, "readings before the stop")
        await publisher.readings(4)  # no twin running: the broker queues them for its session
        second = session_twin(cut, tmp_path / "second", options)
        async with Running(second):
            await wait_until(lambda: accepted(second) == 4, 20, lambda: second.gateway.counts())
            await publisher.readings(1)
            await wait_until(lambda: accepted(second) == 5, 20, "a live reading after them")
    assert second.gateway.counts()["T_mqtt"] == {"received": 5, "accepted": 5, Flag.OK: 5}
    history = tmp_path / "second" / "history.sqlite"
    assert [r.source_ts for r in recorded_readings(history)] == publisher.times()[3:]


async def test_persistent_session_outlives_a_broker_restart(tmp_path):
    broker = Mosquitto(tmp_path, persistence=True)  # it saves its sessions when stopped
    broker.start()
    try:
        async with LinkCut(broker.port) as cut:
            twin = session_twin(cut, tmp_path, persistent(tmp_path))
            async with Running(twin):
                await wait_until(lambda: twin.mqtt.status.connected, 20, "MQTT link up")
                cut.cut()
                await wait_until(lambda: not twin.mqtt.status.connected, 20, "the cut")
                async with aiomqtt.Client("127.0.0.1", broker.port, identifier="plant") as c:
                    publisher = Publisher(c)
                    await publisher.readings(5)
                broker.stop()  # while the twin is cut off: the queue must survive the restart
                broker.start()
                cut.restore()
                await wait_until(lambda: accepted(twin) == 5, 20, lambda: twin.gateway.counts())
    finally:
        broker.stop()
    assert twin.gateway.counts()["T_mqtt"] == {"received": 5, "accepted": 5, Flag.OK: 5}
    assert twin.sync.t == publisher.times()[-1] and not twin.sync.counters.late


async def test_clean_session_loses_what_was_sent_during_a_cut(broker, publisher, tmp_path):
    async with LinkCut(broker.port) as cut:
        twin = session_twin(cut, tmp_path)  # the default: session = "clean"
        async with Running(twin):
            await outage(twin, cut, publisher)
            await wait_until(lambda: accepted(twin) == 10, 20, lambda: twin.gateway.counts())

    # the 5 after the cut arrived; had anything sent during it been kept, it would have come
    # before them (publish order), so the 11 messages of the cut are lost, as documented
    assert twin.gateway.counts()["T_mqtt"] == {"received": 10, "accepted": 10, Flag.OK: 10}
    received = [r.source_ts for r in recorded_readings(tmp_path / "history.sqlite")]
    assert received == publisher.times()[:5] + publisher.times()[-5:]
