"""Published health tells the truth: during a plant outage the twin's OPC UA Health and the
StatusCode of its state values follow the staleness of the sensors (and come back after), the
MQTT state quality does too, and the status topic says "offline" when the twin stops cleanly
and, as the twin's MQTT Last Will, when its connection dies."""

import asyncio
import json

import aiomqtt
import fmitwin.models
import pytest
import pytest_asyncio
from asyncua import Client
from fmitwin.live.config import parse_config
from fmitwin.live.plant import Faults, Plant, Window
from fmitwin.live.twin import Twin
from support.live_servers import (
    LinkCut,
    Running,
    free_port,
    heated_tank_twin,
    running_broker,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    yield from running_broker(tmp_path_factory.mktemp("mqtt"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant():
    plant = Plant(
        fmitwin.models.path("heated_tank"),
        opcua=f"opc.tcp://127.0.0.1:{free_port()}",
        start_values={"m": 2.0, "P_heater": 2000.0},
        faults=Faults(noise={"T": 0.2}),
    )
    task = asyncio.create_task(plant.run())
    await asyncio.wait_for(plant.ready.wait(), 60)
    yield plant
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def twin_publishing_to(plant, mqtt_url, port=None):
    """A twin of the plant (OPC UA sensors) publishing on OPC UA and to ``mqtt_url``."""
    return heated_tank_twin(
        plant_opcua=plant.opcua_endpoint,
        mqtt=None,
        publish_opcua=f"opc.tcp://127.0.0.1:{port or free_port()}",
        publish_options=f'mqtt = "{mqtt_url}"\nprefix = "twin/tank"',
    )


async def test_a_plant_outage_shows_in_health_and_status_codes(plant, broker, tmp_path):
    port = free_port()
    text = twin_publishing_to(plant, broker.url, port)
    twin = Twin(parse_config(text, tmp_path / "twin.toml"), history=None)
    seen = []  # (health, T value StatusCode name, MQTT quality)

    async with Running(twin), aiomqtt.Client("127.0.0.1", broker.port) as sub:
        await sub.subscribe("twin/tank/state/T")
        qualities = []

        async def collect():
            async for message in sub.messages:
                qualities.append(json.loads(message.payload)["quality"])

        collector = asyncio.create_task(collect())
        await wait_until(lambda: twin.publisher.published_health == "ok", 30, "health ok")
        async with Client(f"opc.tcp://127.0.0.1:{port}") as client:
            idx = await client.get_namespace_index("urn:test:twin")
            health = client.get_node(f"ns={idx};s=tank.Health")
            value = client.get_node(f"ns={idx};s=tank.States.T.Value")

            async def observe():
                dv = await value.read_data_value(raise_on_bad_status=False)
                seen.append((await health.read_value(), dv.StatusCode.name, qualities[-1:]))
                return seen[-1]

            assert (await observe())[:2] == ("ok", "Good")
            plant.faults.outages.append(Window(plant.sim.time + 0.1, 3.0))  # 3 s off-line
            await wait_until(lambda: twin.publisher.published_health == "stale", 10, "stale")
            during = await observe()
            await wait_until(lambda: twin.publisher.published_health == "ok", 30, "recovery")
            after = await observe()
        collector.cancel()
    assert during[:2] == ("stale", "BadNoCommunication") and during[2] == ["bad"]
    assert after[:2] == ("ok", "Good")
    assert "bad" in qualities and qualities[-1] == "good"


async def test_status_topic_says_offline_on_stop_and_as_last_will(plant, broker, tmp_path):
    async with LinkCut(broker.port) as cut:
        # the twin's publishing link to the broker goes through cut
        text = twin_publishing_to(plant, f"mqtt://127.0.0.1:{cut.port}")
        twin = Twin(parse_config(text, tmp_path / "twin.toml"), history=None)
        statuses = []
        async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
            await sub.subscribe("twin/tank/status", qos=1)

            async def collect():
                async for message in sub.messages:
                    statuses.append(json.loads(message.payload)["health"])

            collector = asyncio.create_task(collect())
            async with Running(twin):
                # statuses may hold the previous test's retained one: wait for this twin's link
                await wait_until(lambda: twin.publish_link.status.connected, 30, "publishing")
                await wait_until(lambda: "ok" in statuses, 30, "a status")
                cut.cut()  # the connection dies without a DISCONNECT: the broker sends the will
                await wait_until(lambda: statuses[-1] == "offline", 10, "the Last Will")
                cut.restore()
                await wait_until(lambda: statuses[-1] != "offline", 30, "back online")
            await wait_until(lambda: statuses[-1] == "offline", 10, "offline on a clean stop")
            collector.cancel()
    async with aiomqtt.Client("127.0.0.1", broker.port) as late:  # retained for late comers
        await late.subscribe("twin/tank/status", qos=1)
        message = await asyncio.wait_for(anext(aiter(late.messages)), 10)
        assert json.loads(message.payload) == {"health": "offline"}
