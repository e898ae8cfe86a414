"""A running twin with ``[maintenance]`` updates its remaining life online from its health
indicator and publishes it: an OPC UA Maintenance object (RUL, its 90 % interval, P(failure
within the horizon), with units, read-only), the MQTT status and the history.

The plant is synthetic: its wear rises linearly, w(t) = W0 + RATE t, measured with noise, and
the asset fails at w = LIMIT, so the true remaining life at event time t is
(LIMIT - w(t)) / RATE seconds.
"""

import asyncio
import json
import math

import aiomqtt
import numpy as np
import pytest
from asyncua import Client, ua
from fmitwin.live.config import ConfigError, parse_config
from fmitwin.live.history import recorded_events
from fmitwin.live.twin import Twin
from support.live_servers import Running, free_port, replay_twin, running_broker, wait_until

W0, RATE, LIMIT, NOISE = 1.0, 0.01, 5.0, 0.05  # wear, wear per second, failure level
T0, DURATION, HZ = 1e9, 200.0, 20.0
HORIZON = 250.0  # s: P(failure within it) nears 1 as the RUL falls to 200 s


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    yield from running_broker(tmp_path_factory.mktemp("mqtt"))


def true_rul(t: float) -> float:
    return (LIMIT - (W0 + RATE * (t - T0))) / RATE


def wear_twin(tmp_path, opcua_port: int, mqtt_port: int) -> str:
    times = T0 + np.arange(0.0, DURATION, 1.0 / HZ)
    wear = W0 + RATE * (times - T0) + np.random.default_rng(11).normal(0.0, NOISE, times.size)
    csv = tmp_path / "wear.csv"
    rows = "".join(f"{t!r},T,{w!r}\n" for t, w in zip(times.tolist(), wear.tolist(), strict=True))
    csv.write_text("ts,sensor,value\n" + rows)
    return replay_twin(
        str(csv),
        name="pump",
        state="wear",
        x0=W0,
        P0=1.0,
        Q=0.01,
        speed=20.0,
        rate=HZ,
        value_range=(0.0, 10.0),
        extra=f"""
[publish]
opcua = "opc.tcp://127.0.0.1:{opcua_port}"
namespace = "urn:test:twin"
mqtt = "mqtt://127.0.0.1:{mqtt_port}"
prefix = "twin/pump"
[publish.security]
policies = ["None"]

[history]
path = "history.sqlite"

[maintenance]
indicator = "wear"
failure_threshold = {LIMIT}
time_unit = 1.0
noise = {NOISE}
horizon = {HORIZON}
""",
    )


@pytest.mark.asyncio
async def test_a_drifting_wear_gives_a_falling_rul_whose_interval_holds_the_truth(broker, tmp_path):
    port = free_port()
    twin = Twin(parse_config(wear_twin(tmp_path, port, broker.port), tmp_path / "twin.toml"))
    twin.publisher.status_interval = 0.1  # more RUL updates in the 10 s replay
    statuses = []
    async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
        await sub.subscribe("twin/pump/status", qos=1)

        async def collect():
            async for message in sub.messages:
                statuses.append(json.loads(message.payload))

        collector = asyncio.create_task(collect())
        samples = []  # (t, RUL, low, high, P_failure), all from one RUL estimate
        async with Running(twin):
            await wait_until(lambda: twin.publisher.published_health is not None, 30, "published")
            client = Client(f"opc.tcp://127.0.0.1:{port}")
            await client.connect()
            idx = await client.get_namespace_index("urn:test:twin")
            names = ("RUL", "RUL_low", "RUL_high", "P_failure")
            nodes = [client.get_node(f"ns={idx};s=pump.Maintenance.{n}") for n in names]
            analog = ua.NodeId(ua.ObjectIds.AnalogUnitRangeType)
            for node in nodes:
                assert await node.read_type_definition() == analog
            units = await (await nodes[0].get_child("0:EngineeringUnits")).read_value()
            assert units.DisplayName.Text == "s"
            p_range = await (await nodes[3].get_child("0:EURange")).read_value()
            assert (p_range.Low, p_range.High) == (0.0, 1.0)
            with pytest.raises(ua.UaStatusCodeError):
                await nodes[0].write_value(ua.Variant(1.0, ua.VariantType.Double))
            while not twin.replay.done.is_set():
                values = await client.read_attributes(nodes)
                stamps = {v.SourceTimestamp for v in values}
                numbers = [v.Value.Value for v in values]
                if len(stamps) == 1 and all(math.isfinite(x) for x in numbers):
                    t = stamps.pop().timestamp()
                    if not samples or t > samples[-1][0]:
                        samples.append((t, *numbers))
                await asyncio.sleep(0.3)
            await client.disconnect()
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
    assert len(samples) >= 5, samples
    rul = [s[1] for s in samples]
    assert rul[-1] < rul[0] - 50.0, rul  # the remaining life falls as the wear rises
    late = rul[len(rul) // 2 :]
    assert all(b < a for a, b in zip(late, late[1:], strict=False)), rul
    t, median, low, high, p_failure = samples[-1]
    assert low < true_rul(t) < high, (low, true_rul(t), high)
    assert low <= median <= high
    for _, _, low, high, p_failure in samples:  # the interval is the 5 % and 95 % quantiles
        assert high >= HORIZON or p_failure >= 0.95
        assert low <= HORIZON or p_failure <= 0.05
    assert samples[-1][3] < HORIZON and samples[-1][4] >= 0.95
    # MQTT status and history carry the same figures
    published = [s["maintenance"] for s in statuses if "maintenance" in s]
    assert published and published[-1]["unit"] == "s" and published[-1]["horizon"] == HORIZON
    assert published[-1]["low"] < published[-1]["rul"] < published[-1]["high"]
    recorded = recorded_events(tmp_path / "history.sqlite", "rul")
    assert len(recorded) >= len(samples)
    assert recorded[-1]["rul"] < recorded[0]["rul"] - 50.0


def test_a_maintenance_indicator_must_be_estimated(tmp_path):
    text = wear_twin(tmp_path, free_port(), free_port()).replace(
        'indicator = "wear"', 'indicator = "speed"'
    )
    with pytest.raises(ConfigError, match=r"\[maintenance.indicator\] 'speed' is not estimated"):
        parse_config(text, tmp_path / "twin.toml")
