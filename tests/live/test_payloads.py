"""Hostile and unusual MQTT payloads through a real mosquitto: a 10 MB payload, deeply nested
JSON and a 400-digit integer are counted and recorded (a bounded prefix, never the whole
payload); millisecond timestamps and other key names are read with ts_unit and keys; MQTT
wildcards in the publishing prefix or the twin name are refused in the twin file."""

import json
import sqlite3
import time

import aiomqtt
import pytest
from fmitwin.live.config import ConfigError, parse_config
from fmitwin.live.history import recorded_readings
from fmitwin.live.readings import Flag
from fmitwin.live.twin import Twin
from support.live_servers import Running, heated_tank_twin, mqtt_broker, wait_until

TOPIC = "fmitwin/plant/HeatedTank/T"


async def test_hostile_payloads_are_counted_and_recorded_bounded(tmp_path):
    broker = mqtt_broker(tmp_path)
    broker.start()
    history = tmp_path / "history.sqlite"
    text = heated_tank_twin(
        plant_opcua=None,
        mqtt=broker.url,
        history=history,
        mqtt_options='ts_unit = "ms"\nkeys = { value = "v", ts = "t" }',
    )
    twin = Twin(parse_config(text, tmp_path / "twin.toml"))
    hostile = [
        b"x" * 10_000_000,
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"v": 10**400, "t": time.time() * 1e3}).encode(),
        json.dumps({"value": 300.0, "ts": time.time()}).encode(),  # the default keys: not these
    ]
    try:
        async with Running(twin), aiomqtt.Client("127.0.0.1", broker.port) as plant:
            await wait_until(lambda: twin.mqtt.status.connected, 20, "the twin's link")
            for payload in hostile:
                await plant.publish(TOPIC, payload, qos=1)
            for k in range(5):
                good = {"v": 300.0 + k, "t": time.time() * 1e3}  # milliseconds
                await plant.publish(TOPIC, json.dumps(good), qos=1)
            stats = twin.gateway.stats["T_mqtt"]
            await wait_until(lambda: stats.received == 9, 20, lambda: f"9 readings, {stats}")
    finally:
        broker.stop()
    flags = twin.gateway.stats["T_mqtt"].flags
    assert flags[Flag.MALFORMED] == 3 and flags[Flag.OUT_OF_RANGE] == 1
    assert twin.gateway.stats["T_mqtt"].accepted == 5  # ms timestamps are not "future"
    recorded = [r for r in recorded_readings(history) if r.sensor == "T_mqtt"]
    assert len(recorded) == 9
    assert all(len(json.dumps(r.raw)) < 2_000 for r in recorded if r.flag is Flag.MALFORMED)
    with sqlite3.connect(history) as db:
        (size,) = db.execute("SELECT sum(length(raw)) FROM readings").fetchone()
    assert size < 50_000  # the 10 MB payload is not in the history


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('prefix = "twin/tank"', 'prefix = "twin/+/tank"'), "wildcards"),
        (('name = "tank"', 'name = "tank#1"'), "wildcards"),
        (('ts_unit = "ms"', 'ts_unit = "minutes"'), "expected one of"),
    ],
)
def test_payload_and_topic_settings_are_checked_in_the_twin_file(tmp_path, edit, message):
    text = heated_tank_twin(
        plant_opcua=None,
        mqtt="mqtt://127.0.0.1:1883",
        publish_opcua="opc.tcp://127.0.0.1:4841",
        mqtt_options='ts_unit = "ms"',
    )
    assert edit[0] in text
    with pytest.raises(ConfigError, match=message):
        parse_config(text.replace(*edit), tmp_path / "twin.toml")
