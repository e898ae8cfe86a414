"""Live ingest benchmark: readings/s from an OPC UA subscription and from MQTT into EKF updates,
and latency from source timestamp to published estimate.

The source (an asyncua server or an MQTT publisher) runs in a child process so that it does not
share the twin's event loop. Each rate is compared with a bare client receiving the same stream
in the same run (an asyncua subscription handler that only counts; an aiomqtt loop that only
counts): the ratio says what the twin's gateway, synchronizer, EKF and publisher cost on top of
the protocol client.

    python benchmarks/bench_live.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
from asyncua import Client, Server, ua

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fmitwin.live.config import parse_config  # noqa: E402
from fmitwin.live.mqtt import encode_payload  # noqa: E402
from fmitwin.live.opcua import data_value  # noqa: E402
from fmitwin.live.twin import Twin  # noqa: E402
from support.live_servers import Mosquitto, free_port  # noqa: E402

NS = "urn:fmitwin:bench"
N_SENSORS = 20


# -- sources (child processes) -------------------------------------------------------------------


def _paced(rate: float | None, k: int, t0: float) -> float:
    """Seconds to sleep before item k to hold ``rate`` items/s (0 when unpaced)."""
    return 0.0 if not rate else max(0.0, t0 + k / rate - time.time())


def opcua_source(endpoint: str, rate: float | None, seconds: float, ready) -> None:
    async def main():
        server = Server()
        await server.init()
        server.set_endpoint(endpoint)
        idx = await server.register_namespace(NS)
        nodes = [
            (await server.nodes.objects.add_variable(ua.NodeId(f"s{i}", idx), f"s{i}", 0.0)).nodeid
            for i in range(N_SENSORS)
        ]
        async with server:
            ready.set()
            await asyncio.sleep(3.0)  # clients connect and subscribe
            t0, k = time.time(), 0
            while time.time() - t0 < seconds:
                for node in nodes:
                    await server.write_attribute_value(
                        node, data_value(float(k % 100), time.time())
                    )
                    k += 1
                await asyncio.sleep(_paced(rate, k, t0))

    logging.disable(logging.WARNING)
    asyncio.run(main())


def mqtt_source(port: int, rate: float | None, seconds: float, ready) -> None:
    """QoS 1 readings from paho-mqtt (aiomqtt's engine) with many messages in flight, so that
    the publisher is not the bottleneck being measured."""
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.set()
    time.sleep(2.0)
    t0, k = time.time(), 0
    while time.time() - t0 < seconds:
        for i in range(N_SENSORS):
            client.publish(f"bench/s{i}", encode_payload(float(k % 100), time.time()), qos=1)
            k += 1
        time.sleep(_paced(rate, k, t0) if rate else 0.0)
    client.loop_stop()
    client.disconnect()


def start_source(target, *args):
    ready = mp.get_context("spawn").Event()
    proc = mp.get_context("spawn").Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    if not ready.wait(60):
        raise RuntimeError("benchmark source did not start")
    return proc


# -- the twin and the bare clients ---------------------------------------------------------------


def twin_text(source: str, address: str, publish_mqtt: str | None) -> str:
    head = """
[twin]
name = "bench"
[model]
process = "random_walk"
states = ["x"]
[filter]
x0 = { x = 50.0 }
P0 = { x = 100.0 }
Q = { x = 1e6 }
gate_probability = 0.999999
"""
    if source == "opcua":
        head += f'[opcua]\nendpoint = "{address}"\npublishing_interval = 0.01\n'
    else:
        head += f'[mqtt]\nurl = "{address}"\nqos = 1\n'
    for i in range(N_SENSORS):
        where = f'node = "nsu={NS};s=s{i}"' if source == "opcua" else f'topic = "bench/s{i}"'
        head += f"""
[sensors.s{i}]
variable = "x"
source = "{source}"
{where}
range = [-1, 101]
rate = 200
noise = 1.0
stale_after = 5.0
"""
    if publish_mqtt:
        head += f'\n[publish]\nmqtt = "{publish_mqtt}"\nprefix = "bench/twin"\ninterval = 0.0\n'
    return head


async def measure_twin(text: str, seconds: float) -> dict:
    twin = Twin(parse_config(text, "bench.toml"), history=None)
    stop = asyncio.Event()
    task = asyncio.create_task(twin.run(stop))
    while twin.sync.counters.applied < N_SENSORS + 50:  # past the initial values: streaming
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    n0, t0 = twin.sync.counters.applied, time.perf_counter()
    twin.publisher.latencies.clear()
    await asyncio.sleep(seconds)
    n1, t1 = twin.sync.counters.applied, time.perf_counter()
    lat = twin.publisher.latency_stats()
    stop.set()
    await task
    return {
        "rate": (n1 - n0) / (t1 - t0),
        "median_ms": lat["median"] * 1e3,
        "p99_ms": lat["p99"] * 1e3,
        "dropped": twin.gateway.buffer.dropped,
        "late": sum(twin.sync.counters.late.values()),
        "gated": sum(twin.sync.counters.gated.values()),
    }


async def measure_bare_opcua(endpoint: str, seconds: float) -> float:
    count = [0]

    class Handler:
        def datachange_notification(self, node, val, data):
            count[0] += 1

    async with Client(endpoint) as client:
        idx = await client.get_namespace_index(NS)
        sub = await client.create_subscription(10, Handler(), queue_maxsize=100_000)
        nodes = [client.get_node(ua.NodeId(f"s{i}", idx)) for i in range(N_SENSORS)]
        await sub.subscribe_data_change(nodes, queuesize=100, sampling_interval=0)
        while count[0] < N_SENSORS + 10:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        n0, t0 = count[0], time.perf_counter()
        await asyncio.sleep(seconds)
        return (count[0] - n0) / (time.perf_counter() - t0)


async def measure_bare_mqtt(port: int, seconds: float) -> float:
    count = 0
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("bench/#", qos=1)

        async def consume():
            nonlocal count
            async for _ in client.messages:
                count += 1

        task = asyncio.create_task(consume())
        while count < 10:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        n0, t0 = count, time.perf_counter()
        await asyncio.sleep(seconds)
        rate = (count - n0) / (time.perf_counter() - t0)
        task.cancel()
        return rate


def run_source(target, address, rate, seconds, measure):
    proc = start_source(target, address, rate, seconds + 4.0)
    try:
        return asyncio.run(measure)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    s = args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp))
        broker.start()
        try:
            rows = []
            endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
            bare = run_source(opcua_source, endpoint, None, s, measure_bare_opcua(endpoint, s))
            twin_text_ = twin_text("opcua", endpoint, broker.url)
            twin = run_source(opcua_source, endpoint, None, s, measure_twin(twin_text_, s))
            rows.append(("OPC UA max ingest", twin, bare))
            paced = run_source(opcua_source, endpoint, 1000.0, s, measure_twin(twin_text_, s))
            rows.append(("OPC UA at 1000/s", paced, None))

            bare = run_source(mqtt_source, broker.port, None, s, measure_bare_mqtt(broker.port, s))
            twin_text_ = twin_text("mqtt", broker.url, broker.url)
            twin = run_source(mqtt_source, broker.port, None, s, measure_twin(twin_text_, s))
            rows.append(("MQTT max ingest", twin, bare))
            paced = run_source(mqtt_source, broker.port, 1000.0, s, measure_twin(twin_text_, s))
            rows.append(("MQTT at 1000/s", paced, None))
        finally:
            broker.stop()
    print(
        f"{'case':<20}{'twin/s':>10}{'bare/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'dropped':>9}{'late':>6}"
    )
    for name, twin, bare in rows:
        ratio = f"{twin['rate'] / bare:.2f}" if bare else "-"
        bare_text = f"{bare:.0f}" if bare else "-"
        print(
            f"{name:<20}{twin['rate']:>10.0f}{bare_text:>10}{ratio:>8}"
            f"{twin['median_ms']:>9.1f}{twin['p99_ms']:>9.1f}{twin['dropped']:>9}{twin['late']:>6}"
        )
    print("targets: OPC UA >= 3000/s, MQTT >= 2000/s, p99 < 50 ms at 1000/s")


if __name__ == "__main__":
    main()
