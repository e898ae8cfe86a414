"""MQTT over TLS against a real mosquitto with a TLS-only listener: the twin's sensor adapter
connects with the broker's CA and username/password and receives readings; without the CA the
TLS handshake fails and the outage is reported, never a crash."""

import asyncio
import datetime
import ipaddress
import json
import time

import aiomqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fmitwin.live.config import MqttConfig, SensorConfig, TlsConfig
from fmitwin.live.mqtt import client_args, sensor_link
from support.live_servers import mqtt_broker, wait_until


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_ca_and_broker_certificate(directory):
    """A test CA and a broker certificate for 127.0.0.1 signed by it (PEM files)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("fmitwin test CA"))
        .issuer_name(_name("fmitwin test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "broker.pem", directory / "broker-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _sensor() -> SensorConfig:
    return SensorConfig(
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


async def test_sensor_readings_arrive_over_tls_with_password(tmp_path):
    ca, cert, key = _write_ca_and_broker_certificate(tmp_path)
    broker = mqtt_broker(tmp_path, users={"twin": "mqtt-secret"}, tls=(cert, key))
    broker.start()
    readings, events = [], []
    config = MqttConfig(
        url=broker.url,
        username="twin",
        password="mqtt-secret",
        tls=TlsConfig(ca=ca, certificate=None, private_key=None),
    )
    link = sensor_link(config, [_sensor()], readings.append, on_event=lambda *e: events.append(e))
    task = asyncio.create_task(link.run())
    try:
        await wait_until(lambda: link.client is not None, 20, lambda: f"TLS link up ({events})")
        publisher = client_args(
            broker.url, username="twin", password="mqtt-secret", tls=config.tls, role="plant"
        )
        async with aiomqtt.Client(**publisher) as client:
            for value in (300.0, 301.5):
                payload = json.dumps({"value": value, "ts": time.time(), "quality": 1.0})
                await client.publish("plant/T1", payload, qos=1)
        await wait_until(lambda: len(readings) == 2, 20, "two readings over TLS")
        assert [r.raw for r in readings] == [300.0, 301.5]  # as delivered, before the gateway
        assert all(r.quality == 1.0 and r.sensor == "T1" for r in readings)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.stop()


async def test_untrusted_broker_certificate_is_reported_as_an_outage(tmp_path):
    (tmp_path / "other").mkdir()
    other_ca, _, _ = _write_ca_and_broker_certificate(tmp_path / "other")
    _, cert, key = _write_ca_and_broker_certificate(tmp_path)
    broker = mqtt_broker(tmp_path, tls=(cert, key))
    broker.start()
    events = []
    config = MqttConfig(
        url=broker.url, tls=TlsConfig(ca=other_ca, certificate=None, private_key=None)
    )
    link = sensor_link(config, [_sensor()], lambda r: None, on_event=lambda *e: events.append(e))
    task = asyncio.create_task(link.run())
    try:
        await wait_until(lambda: events, 20, "the failed TLS handshake to be reported")
        assert link.client is None
        assert not task.done()  # the adapter keeps retrying; nothing crashed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.stop()
