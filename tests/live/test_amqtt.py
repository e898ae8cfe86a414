"""The fallback MQTT peer (amqtt's broker, used where mosquitto is not installed) is exercised
here explicitly: the twin's sensor adapter authenticates, receives readings, reports a broker
outage and recovers when the broker comes back. (Passwords travel unencrypted here, allowed
explicitly: these brokers listen on loopback only.)"""

import asyncio
import json
import time

import aiomqtt
from fmitwin.live.config import MqttConfig, SensorConfig
from fmitwin.live.mqtt import client_args, sensor_link
from support.live_servers import AmqttBroker, wait_until

SENSOR = SensorConfig(
    name="T1",
    variable="T",
    source="mqtt",
    address="plant/T1",
    unit="K",
    range=(200.0, 500.0),
    rate=10.0,
    noise=0.1,
    stale_after=10.0,
)


async def _publish(broker, values):
    publisher = client_args(
        broker.url,
        username="twin",
        password="amqtt-secret",
        role="plant",
        allow_insecure_credentials=True,
    )
    async with aiomqtt.Client(**publisher) as client:
        for value in values:
            payload = json.dumps({"value": value, "ts": time.time()})
            await client.publish("plant/T1", payload, qos=1)


async def test_sensor_link_through_amqtt_survives_a_broker_restart(tmp_path):
    broker = AmqttBroker(tmp_path, users={"twin": "amqtt-secret"})
    broker.start()
    readings, events = [], []
    config = MqttConfig(
        url=broker.url, username="twin", password="amqtt-secret", allow_insecure_credentials=True
    )
    link = sensor_link(config, [SENSOR], readings.append, on_event=lambda *e: events.append(e))
    task = asyncio.create_task(link.run())
    try:
        await wait_until(lambda: link.client is not None, 30, lambda: f"link up ({events})")
        await _publish(broker, [300.0, 301.0])
        await wait_until(lambda: len(readings) == 2, 20, "readings before the outage")
        broker.stop()
        await wait_until(lambda: link.client is None, 30, "the outage to be noticed")
        assert len(link.status.outages) >= 1
        broker.start()
        await wait_until(lambda: link.client is not None, 30, "the link to come back")
        await _publish(broker, [302.0])
        await wait_until(lambda: len(readings) == 3, 20, "a reading after the outage")
        assert [r.raw for r in readings] == [300.0, 301.0, 302.0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.stop()


async def test_wrong_password_is_refused_and_reported(tmp_path):
    broker = AmqttBroker(tmp_path, users={"twin": "amqtt-secret"})
    broker.start()
    events = []
    config = MqttConfig(
        url=broker.url, username="twin", password="wrong", allow_insecure_credentials=True
    )
    link = sensor_link(config, [SENSOR], lambda r: None, on_event=lambda *e: events.append(e))
    task = asyncio.create_task(link.run())
    try:
        await wait_until(lambda: events, 30, "the refused connection to be reported")
        assert link.client is None and not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.stop()
