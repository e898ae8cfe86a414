"""Adapter failures are retried and reported with a reason that says what to do; the rest of the
twin keeps going: a sensor whose namespace the server lacks, and a server that refuses the twin's
certificate until it is trusted there (the server here is another twin's, with a trust store)."""

import asyncio
import shutil

import fmitwin.models
import pytest
import pytest_asyncio
from fmitwin.live.config import parse_config
from fmitwin.live.pki import create_certificate
from fmitwin.live.plant import Faults, Plant
from fmitwin.live.twin import Twin
from support.live_servers import Running, free_port, heated_tank_twin, port_open, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


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


async def test_a_namespace_the_server_lacks_stops_one_sensor_not_the_twin(plant, tmp_path):
    typo = """
[sensors.T_typo]
variable = "T"
source = "opcua"
node = "nsu=urn:fmitwin:plant:HeatedTnak;s=T"
unit = "K"
range = [250, 450]
rate = 20
noise = 0.2
"""
    text = heated_tank_twin(plant_opcua=plant.opcua_endpoint, mqtt=None, extra=typo)
    twin = Twin(parse_config(text, tmp_path / "twin.toml"), history=None)
    running = Running(twin)
    async with running:
        await wait_until(lambda: twin.gateway.stats["T_opcua"].accepted > 20, 30, "readings")
        assert not running.task.done()
    errors = [d for _, kind, d in twin.events if kind == "node_error"]
    assert errors and errors[0]["sensors"] == ["T_typo"]
    assert "urn:fmitwin:plant:HeatedTnak not on the server" in errors[0]["status"]
    assert twin.gateway.stats["T_typo"].accepted == 0


async def test_an_untrusted_certificate_is_reported_with_the_fix_and_retried(plant, tmp_path):
    # the server: a twin of the plant publishing with SignAndEncrypt and a trust store
    port = free_port()
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    text = heated_tank_twin(
        plant_opcua=plant.opcua_endpoint,
        mqtt=None,
        publish_opcua=f"opc.tcp://127.0.0.1:{port}",
        publish_security='policies = ["Basic256Sha256_SignAndEncrypt"]',
    )
    server_config = parse_config(text, upstream / "twin.toml")
    sec = server_config.publish.security
    await create_certificate(sec.certificate, sec.private_key, sec.application_uri, "127.0.0.1")
    # the client: a twin reading the first twin's estimate over an encrypted channel
    cert, key = tmp_path / "client.der", tmp_path / "client.pem"
    await create_certificate(cert, key, "urn:test:downstream", "127.0.0.1")
    security = """
[opcua.security]
policy = "Basic256Sha256"
certificate = "client.der"
private_key = "client.pem"
"""
    text = heated_tank_twin(
        plant_opcua=f"opc.tcp://127.0.0.1:{port}", mqtt=None, opcua_auth=security
    ).replace("nsu=urn:fmitwin:plant:HeatedTank;s=T", "nsu=urn:test:twin;s=tank.States.T.Value")
    downstream = Twin(parse_config(text, tmp_path / "twin.toml"), history=None)
    async with Running(Twin(server_config, history=None)):
        await wait_until(lambda: port_open(port), 30, "the upstream twin's server")
        running = Running(downstream)
        async with running:
            link = downstream.opcua.status
            await wait_until(lambda: link.outages, 30, "the refusal")
            assert f"certificate not trusted by the server: trust {cert} there" in link.last_error
            rejected = list((upstream / "pki" / "rejected").iterdir())
            assert len(rejected) == 1 and not running.task.done()
            shutil.move(rejected[0], upstream / "pki" / "trusted")
            await wait_until(
                lambda: downstream.gateway.stats["T_opcua"].accepted > 10, 30, "trusted readings"
            )
    assert downstream.sync.counters.applied > 10
