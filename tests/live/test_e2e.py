"""End to end against real peers on loopback: the plant (the bundled heated-tank FMU served by an
asyncua server and published through a real mosquitto) and the twin (asyncua and aiomqtt clients,
its own OPC UA server). Both servers require a user name and password (sent unencrypted here, as
the tests allow explicitly: test_access.py covers the refusal).

One plant and one broker serve the whole module (an asyncua server takes seconds to initialise);
the restart test runs last because it takes both away for a while.
"""

import asyncio
import json
import math
from datetime import UTC, datetime

import aiomqtt
import fmitwin.models
import numpy as np
import pytest
import pytest_asyncio
from asyncua import Client, ua
from fmitwin.live.access import AccessPolicy, UserAccount
from fmitwin.live.config import parse_config
from fmitwin.live.history import recorded_estimates, recorded_events, recorded_readings
from fmitwin.live.plant import Faults, Plant, Window
from fmitwin.live.readings import Flag
from fmitwin.live.twin import Twin
from support.live_servers import (
    Running,
    free_port,
    heated_tank_twin,
    mqtt_broker,
    password_file,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

# m = 2 kg and 2 kW heat the tank at ~0.24 K/s: a visible trajectory within seconds
TANK = {"m": 2.0, "P_heater": 2000.0}


def opcua_auth(directory, password="opc-secret"):
    name = password_file(directory, "opcua.password", password)
    return f'username = "operator"\npassword_file = "{name}"\nallow_insecure_credentials = true'


def mqtt_auth(directory, password="mq-secret"):
    name = password_file(directory, "mqtt.password", password)
    return f'username = "twin"\npassword_file = "{name}"\nallow_insecure_credentials = true'


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    mq = mqtt_broker(tmp_path_factory.mktemp("mqtt"), users={"twin": "mq-secret"})
    mq.start()
    yield mq
    mq.stop()


def mqtt_url(broker, password="mq-secret"):
    return f"mqtt://twin:{password}@127.0.0.1:{broker.port}"  # the plant's (Python API)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(broker):
    plant = Plant(
        fmitwin.models.path("heated_tank"),
        opcua=f"opc.tcp://127.0.0.1:{free_port()}",
        mqtt=mqtt_url(broker),
        start_values=TANK,
        faults=Faults(noise={"T": 0.2}),
        access=AccessPolicy(
            {"operator": UserAccount.with_password("operator", "operator", "opc-secret")},
            anonymous="off",
        ),
        allow_insecure_credentials=True,
    )
    task = asyncio.create_task(plant.run())
    await asyncio.wait_for(plant.ready.wait(), 60)
    yield plant
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def tank_twin(plant, broker, tmp_path, **kw):
    kw.setdefault("opcua_auth", opcua_auth(tmp_path))
    kw.setdefault("mqtt_options", mqtt_auth(tmp_path))
    text = heated_tank_twin(plant_opcua=plant.opcua_endpoint, mqtt=broker.url, **kw)
    return parse_config(text, tmp_path / "twin.toml")


async def test_twin_tracks_plant_within_3_sigma_publishes_and_replays(plant, broker, tmp_path):
    twin_port = free_port()
    history = tmp_path / "history.sqlite"
    config = tank_twin(
        plant,
        broker,
        tmp_path,
        publish_opcua=f"opc.tcp://127.0.0.1:{twin_port}",
        history=history,
        process="fmu",  # the twin's physics: the same FMU, integrated by the EKF
    )
    twin = Twin(config)
    published = []
    async with (
        Running(twin),
        aiomqtt.Client("127.0.0.1", broker.port, username="twin", password="mq-secret") as sub,
    ):
        await sub.subscribe("twin/tank/#", qos=0)

        async def collect():
            async for message in sub.messages:
                published.append((str(message.topic), json.loads(message.payload)))

        collector = asyncio.create_task(collect())
        await wait_until(lambda: twin.sync.counters.applied >= 150, 40, "150 updates")
        # any OPC UA client can browse the twin: read the estimate by namespace URI
        async with Client(f"opc.tcp://127.0.0.1:{twin_port}") as client:
            idx = await client.get_namespace_index("urn:test:twin")
            value = await client.get_node(f"ns={idx};s=tank.States.T.Value").read_value()
            sigma = await client.get_node(f"ns={idx};s=tank.States.T.Sigma").read_value()
            health = await client.get_node(f"ns={idx};s=tank.Health").read_value()
        collector.cancel()

    assert 250 < value < 450 and 0 < sigma < 1 and health in ("ok", "degraded")
    topics = {t for t, _ in published}
    assert {"twin/tank/state/T", "twin/tank/status", "twin/tank/residual/T_mqtt"} <= topics
    state = next(p for t, p in published if t == "twin/tank/state/T")
    assert set(state) >= {"value", "sigma", "ts", "quality"}

    # the record: every published estimate against the plant's ground truth at its event time
    estimates = recorded_estimates(history)
    assert len(estimates) >= 30
    inside = [
        abs(e["x"][0] - plant.true_value("T", e["source_ts"])) <= 3 * e["sigma"][0]
        for e in estimates[5:]  # after the initial transient from x0
    ]
    assert np.mean(inside) >= 0.97, f"only {np.mean(inside):.1%} of estimates within 3 sigma"
    counts = twin.gateway.counts()
    assert counts["T_opcua"]["accepted"] > 50 and counts["T_mqtt"]["accepted"] > 50
    assert twin.gateway.buffer.dropped == 0

    # replay from the record reproduces the live run's final estimate
    readings = recorded_readings(history)
    assert len(readings) == sum(c["received"] for c in counts.values())
    replayed = Twin(config, replay=readings, history=None)
    await replayed.run()
    assert replayed.sync.counters.applied == twin.sync.counters.applied
    np.testing.assert_allclose(replayed.sync.ekf.x, twin.sync.ekf.x, rtol=0, atol=1e-9)
    kinds = {e["kind"] for e in recorded_events(history)}
    assert {"twin_started", "twin_stopped"} <= kinds


async def test_bad_readings_over_the_wire_are_rejected_and_counted(plant, broker, tmp_path):
    # a probe node next to the plant's, and a probe topic: this test writes them directly
    server = plant.server
    idx = await server.get_namespace_index(plant.namespace)
    probe = await server.nodes.objects.add_variable(ua.NodeId("probe", idx), "probe", 300.0)
    # a node of the wrong type (a text node configured as a temperature sensor)
    await server.nodes.objects.add_variable(ua.NodeId("probe_text", idx), "probe_text", "301.0")
    extra = f"""
[sensors.probe_opcua]
variable = "T"
source = "opcua"
node = "nsu={plant.namespace};s=probe"
range = [250, 450]
rate = 20
noise = 0.2
stale_after = 1.0

[sensors.probe_text]
variable = "T"
source = "opcua"
node = "nsu={plant.namespace};s=probe_text"
range = [250, 450]
rate = 20
noise = 0.2
stale_after = 1.0

[sensors.probe_mqtt]
variable = "T"
source = "mqtt"
topic = "test/probe"
range = [250, 450]
rate = 20
noise = 0.2
stale_after = 1.0
"""
    twin = Twin(tank_twin(plant, broker, tmp_path, extra=extra), history=None)
    async with Running(twin):
        await wait_until(lambda: twin.opcua.status.connected, 20, "OPC UA link")
        await wait_until(lambda: twin.mqtt.status.connected, 20, "MQTT link")

        # Timestamps are taken as each value is written or published, so that a loaded machine
        # cannot age a fresh reading past stale_after (1 s) before it is sent.
        def dv(value, status, age):
            stamp = datetime.fromtimestamp(datetime.now(UTC).timestamp() - age, UTC)
            return ua.DataValue(
                ua.Variant(value, ua.VariantType.Double),
                ua.StatusCode(status),
                SourceTimestamp=stamp,
            )

        opcua_values = [  # (value, status, age in seconds)
            (1e4, ua.StatusCodes.Good, 0.0),  # out of range
            (math.nan, ua.StatusCodes.Good, 0.0),  # NaN
            (300.5, ua.StatusCodes.Good, 10.0),  # stale
            (300.6, ua.StatusCodes.BadSensorFailure, 0.0),  # Bad: missing
            (300.7, ua.StatusCodes.UncertainLastUsableValue, 0.0),  # Uncertain: reduced quality
            (300.8, ua.StatusCodes.Good, 0.0),  # good
        ]
        for value, status, age in opcua_values:
            await server.write_attribute_value(probe.nodeid, dv(value, status, age))
            await asyncio.sleep(0.1)  # one notification each (publishing interval 20 ms)
        now = datetime.now(UTC).timestamp()
        payloads = [
            b'{"value": 1e4, "ts": %f}' % now,
            b'{"value": null, "ts": %f}' % now,
            b'{"value": "301.0", "ts": %f}' % now,
            b'{"value": 300.5, "ts": %f}' % (now - 10.0),
            b'{"value": 300.6, "ts": %f, "quality": "bad"}' % now,
            b'{"value": 300.7, "ts": %f, "quality": "uncertain"}' % now,
            b'{"value": 300.8}',  # no timestamp
            b"not json",
            b'{"value": 300.9, "ts": %f}' % now,
        ]
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username="twin", password="mq-secret"
        ) as pub:
            for payload in payloads:
                await pub.publish("test/probe", payload, qos=1)
        await wait_until(
            lambda: twin.gateway.stats["probe_mqtt"].received >= len(payloads), 10, "MQTT probes"
        )
        await wait_until(
            lambda: twin.gateway.stats["probe_opcua"].received >= len(opcua_values),
            10,
            "OPC UA probes",
        )
    o = twin.gateway.counts()["probe_opcua"]
    assert o[Flag.OUT_OF_RANGE] == 1 and o[Flag.NAN] == 1
    assert twin.gateway.counts()["probe_text"][Flag.WRONG_TYPE] >= 1
    assert o[Flag.STALE] == 1 and o[Flag.BAD_STATUS] == 1 and o[Flag.UNCERTAIN] == 1
    assert o[Flag.OK] >= 1  # the initial value on subscribe, and 300.8
    m = twin.gateway.counts()["probe_mqtt"]
    assert m[Flag.OUT_OF_RANGE] == 1 and m[Flag.WRONG_TYPE] == 2 and m[Flag.STALE] == 1
    assert m[Flag.BAD_STATUS] == 1 and m[Flag.UNCERTAIN] == 1 and m[Flag.MALFORMED] == 2
    assert m[Flag.OK] == 1 and m["accepted"] == 2
    assert twin.gateway.stats["probe_mqtt"].last_value == 300.9  # never a clamped 450


async def add_probe(plant, name, value):
    """A variable next to the plant's, in its namespace, that the test writes directly."""
    idx = await plant.server.get_namespace_index(plant.namespace)
    return await plant.server.nodes.objects.add_variable(ua.NodeId(name, idx), name, value)


def probe_sensor(name, source, address, stale_after=1.0):
    """A temperature sensor reading ``address`` (an OPC UA node id or an MQTT topic)."""
    key = "node" if source == "opcua" else "topic"
    return f"""
[sensors.{name}]
variable = "T"
source = "{source}"
{key} = "{address}"
range = [250, 450]
rate = 20
noise = 0.2
stale_after = {stale_after}
"""


async def test_an_unchanged_value_with_a_new_source_timestamp_is_a_reading(plant, tmp_path):
    # the subscription triggers on status, value or timestamp: a steady sensor is alive, and a
    # value-only trigger would leave it stale
    steady = await add_probe(plant, "steady", 300.0)
    extra = probe_sensor("steady", "opcua", f"nsu={plant.namespace};s=steady", stale_after=5.0)
    text = heated_tank_twin(
        plant_opcua=plant.opcua_endpoint, mqtt=None, opcua_auth=opcua_auth(tmp_path)
    )
    twin = Twin(parse_config(text + extra, tmp_path / "twin.toml"), history=None)
    stats = twin.gateway.stats["steady"]
    stamps = []
    async with Running(twin):
        await wait_until(lambda: stats.received >= 1, 20, "the value on subscribing")
        for _ in range(3):
            stamps.append(datetime.now(UTC))
            await plant.server.write_attribute_value(
                steady.nodeid,
                ua.DataValue(ua.Variant(300.0, ua.VariantType.Double), SourceTimestamp=stamps[-1]),
            )
            await wait_until(
                lambda: stats.last_source_ts == stamps[-1].timestamp(), 10, "the repeated value"
            )
    assert stats.flags[Flag.OK] == stats.received == 4  # 300.0 each time, every one a reading
    assert stats.last_value == 300.0


async def test_commands_stay_within_limits(plant, broker, tmp_path):
    extra = f"""
[commands]
enabled = true

[commands.heater]
variable = "P_heater"
via = "opcua"
node = "nsu={plant.namespace};s=cmd.P_heater"
state = "T"
setpoint = 250.0
gain = 100.0
bias = 1500.0
min = 500.0
max = 1800.0
max_rate = 400.0
period = 0.25
"""
    twin = Twin(tank_twin(plant, broker, tmp_path, extra=extra), history=None)
    start = len(plant.commands)

    def sent():
        return [d for _, k, d in twin.events if k == "command"]

    try:
        async with Running(twin):
            await wait_until(
                lambda: len(sent()) >= 5 and len(plant.commands) >= start + 3,
                30,
                lambda: f"5 commands; twin events: {list(twin.events)[-8:]}",
            )
    finally:
        plant._command("P_heater", TANK["P_heater"], "test")  # restore for the other tests
    received = [v for _, name, v in plant.commands[start:-1] if name == "P_heater"]
    values = [d["value"] for d in sent()]
    assert received and all(500.0 <= v <= 1800.0 for v in values + received)
    assert set(received) <= set(values)  # the plant got what the twin logged
    # the law asks far below min (T >> setpoint); from the plant's 2000 W the bound max wins
    # first, then the command steps down by at most 400 W/s
    assert sent()[0]["requested"] < 500.0 and values[0] == 1800.0
    times = [d["at"] for d in sent()]
    assert all(
        0 < a - b <= 400.0 * (tb - ta) + 1e-6
        for a, b, ta, tb in zip(values, values[1:], times, times[1:], strict=False)
    )


async def test_wrong_credentials_are_reported_not_fatal(plant, broker, tmp_path):
    text = heated_tank_twin(
        plant_opcua=plant.opcua_endpoint,
        mqtt=broker.url,
        mqtt_options=mqtt_auth(tmp_path, "wrong"),
        opcua_auth=opcua_auth(tmp_path, "wrong"),
    )
    twin = Twin(parse_config(text, tmp_path / "twin.toml"), history=None)
    async with Running(twin):
        await wait_until(
            lambda: twin.opcua.status.outages and twin.mqtt.status.outages, 20, "refusals"
        )
    assert "BadUserAccessDenied" in twin.opcua.status.last_error
    assert "authori" in twin.mqtt.status.last_error.lower()
    assert twin.sync.counters.applied == 0


async def test_broker_and_server_restarts_are_survived_and_reported(plant, broker, tmp_path):
    twin = Twin(tank_twin(plant, broker, tmp_path), history=None)
    async with Running(twin):
        await wait_until(lambda: twin.mqtt.status.connected, 20, "MQTT link up")
        await wait_until(lambda: twin.gateway.stats["T_mqtt"].accepted > 20, 20, "MQTT readings")
        await wait_until(lambda: twin.gateway.stats["T_opcua"].accepted > 20, 20, "OPC readings")
        # the plant's OPC UA server goes away for 2 s, starting 0.2 s from now
        plant.faults.outages.append(Window(plant.sim.time + 0.2, 2.0))
        broker.stop()
        await wait_until(lambda: not twin.mqtt.status.connected, 30, "MQTT outage noticed")
        broker.start()
        await wait_until(lambda: twin.mqtt.status.reconnects >= 1, 30, "MQTT reconnect")
        n = twin.gateway.stats["T_mqtt"].accepted
        await wait_until(lambda: twin.gateway.stats["T_mqtt"].accepted > n + 10, 20, "MQTT data")
        await wait_until(lambda: twin.opcua.status.reconnects >= 1, 40, "OPC UA reconnect")
        n = twin.gateway.stats["T_opcua"].accepted
        await wait_until(lambda: twin.gateway.stats["T_opcua"].accepted > n + 10, 20, "OPC data")
    events = [(k, d) for _, k, d in twin.events]
    downs = {d["link"] for k, d in events if k == "link_down"}
    ups = {d["link"]: d["gap"] for k, d in events if k == "link_up"}
    assert downs == {"opcua", "mqtt"} and set(ups) == {"opcua", "mqtt"}
    assert all(gap > 0 for gap in ups.values())
    assert twin.opcua.status.outages[0][1] is not None  # the gap is closed and measured
    assert any(k == "sensor_stale" and d["sensor"] == "T_opcua" for k, d in events)
    assert twin.sync.counters.applied > 50 and math.isfinite(twin.sync.ekf.x[0])
