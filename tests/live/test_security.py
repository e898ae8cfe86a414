"""OPC UA with Basic256Sha256 (SignAndEncrypt) certificates and username/password, end to end:
the plant accepts only encrypted channels and known users; the twin connects with its own
certificate and credentials, and readings flow."""

import asyncio

import fmitwin.models
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID
from fmitwin.live.access import AccessPolicy, UserAccount
from fmitwin.live.config import parse_config
from fmitwin.live.plant import Faults, Plant
from fmitwin.live.twin import Twin
from support.live_servers import free_port, heated_tank_twin, password_file, wait_until


async def _certificate(directory, name, uri, usage):
    key, cert = directory / f"{name}-key.pem", directory / f"{name}-cert.der"
    await setup_self_signed_certificate(key, cert, uri, "127.0.0.1", [usage], {"commonName": name})
    return cert, key


async def test_encrypted_channel_with_certificates_and_password(tmp_path):
    server_cert, server_key = await _certificate(
        tmp_path, "plant", "urn:fmitwin:test:plant", ExtendedKeyUsageOID.SERVER_AUTH
    )
    await _certificate(tmp_path, "twin", "urn:fmitwin:test:twin", ExtendedKeyUsageOID.CLIENT_AUTH)
    plant = Plant(
        fmitwin.models.path("heated_tank"),
        opcua=f"opc.tcp://127.0.0.1:{free_port()}",
        start_values={"m": 2.0, "P_heater": 2000.0},
        faults=Faults(noise={"T": 0.2}),
        access=AccessPolicy(
            {"operator": UserAccount.with_password("operator", "reader", "opc-secret")}, "off"
        ),
        certificate=server_cert,
        private_key=server_key,
    )
    plant_task = asyncio.create_task(plant.run())
    await asyncio.wait_for(plant.ready.wait(), 60)
    password_file(tmp_path, "opc.password", "opc-secret")
    security = """username = "operator"
password_file = "opc.password"

[opcua.security]
policy = "Basic256Sha256"
mode = "SignAndEncrypt"
certificate = "twin-cert.der"
private_key = "twin-key.pem"
server_certificate = "plant-cert.der"
"""
    try:
        secure = Twin(
            parse_config(
                heated_tank_twin(plant_opcua=plant.opcua_endpoint, mqtt=None, opcua_auth=security),
                tmp_path / "twin.toml",
            ),
            history=None,
        )
        plain = Twin(
            parse_config(
                heated_tank_twin(
                    plant_opcua=plant.opcua_endpoint,
                    mqtt=None,
                    opcua_auth='username = "operator"\npassword_file = "opc.password"\n'
                    "allow_insecure_credentials = true",
                ),
                tmp_path / "plain.toml",
            ),
            history=None,
        )
        stop = asyncio.Event()
        tasks = [asyncio.create_task(t.run(stop)) for t in (secure, plain)]
        await wait_until(lambda: secure.sync.counters.applied >= 20, 30, "secure readings")
        await wait_until(lambda: plain.opcua.status.outages, 30, "plain refused")
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        plant_task.cancel()
        await asyncio.gather(plant_task, return_exceptions=True)
    assert secure.opcua.status.outages == []  # never refused
    assert plain.sync.counters.applied == 0  # an unencrypted channel gets nothing
    assert "No matching endpoints" in plain.opcua.status.last_error
