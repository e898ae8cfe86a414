"""The twin's own OPC UA server: the security policies it offers (None only when listed), its
per-twin ApplicationUri, ``fmitwin certs``, and the trust store (unknown client certificates go
to rejected/, trusted once moved to trusted/, or trusted on first use), against a real asyncua
client."""

import asyncio
import shutil
import stat

import pytest
from asyncua import Client, ua
from asyncua.crypto import security_policies
from cryptography import x509
from fmitwin.cli import main
from fmitwin.live.config import ConfigError, load_config
from fmitwin.live.opcua import certificate_uri
from fmitwin.live.pki import create_certificate
from fmitwin.live.twin import Twin
from support.live_servers import Running, free_port, heated_tank_twin, port_open, wait_until

POLICIES = [
    "Basic256Sha256_SignAndEncrypt",
    "Aes256Sha256RsaPss_SignAndEncrypt",
    "Aes128Sha256RsaOaep_Sign",
]


def write_twin(tmp_path, port, security, options=""):
    """A twin whose plant is absent (its adapter retries): only its own server matters here."""
    text = heated_tank_twin(
        plant_opcua=f"opc.tcp://127.0.0.1:{free_port()}",
        mqtt=None,
        publish_opcua=f"opc.tcp://127.0.0.1:{port}",
        publish_options=options,
        publish_security=security,
    )
    path = tmp_path / "twin.toml"
    path.write_text(text)
    return path


async def client_certificate(tmp_path, name):
    cert, key = tmp_path / f"{name}.der", tmp_path / f"{name}.pem"
    await create_certificate(cert, key, f"urn:test:{name}", "127.0.0.1")
    return cert, key


async def secure_client(endpoint, cert, key, policy="Aes256Sha256RsaPss"):
    client = Client(endpoint, timeout=4)
    client.application_uri = await certificate_uri(cert)
    await client.set_security(
        getattr(security_policies, f"SecurityPolicy{policy}"),
        certificate=str(cert),
        private_key=str(key),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    return client


def test_certs_command_creates_the_certificate_for_the_twins_uri(tmp_path, capsys):
    path = write_twin(tmp_path, 4841, 'policies = ["Basic256Sha256_SignAndEncrypt"]')
    assert main(["certs", str(path), "--hostname", "127.0.0.1"]) == 0
    sec = load_config(path).publish.security
    cert = x509.load_der_x509_certificate(sec.certificate.read_bytes())
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:fmitwin:twin:tank" in uris.get_values_for_type(x509.UniformResourceIdentifier)
    assert stat.S_IMODE(sec.private_key.stat().st_mode) == 0o600
    assert (tmp_path / "pki" / "trusted").is_dir() and (tmp_path / "pki" / "rejected").is_dir()
    assert main(["certs", str(path)]) == 2  # never replaced silently
    assert "--force" in capsys.readouterr().err


def test_an_encrypted_server_without_its_certificate_says_how_to_make_one(tmp_path):
    path = write_twin(tmp_path, 4841, 'policies = ["Basic256Sha256_SignAndEncrypt"]')
    with pytest.raises(ConfigError, match="fmitwin certs") as info:
        Twin(load_config(path), history=None)
    assert info.value.key == "publish"
    with pytest.raises(ConfigError, match="unknown"):
        load_config(write_twin(tmp_path, 4841, 'policies = ["Basic128Rsa15_Sign"]'))


async def test_policies_uri_and_trust_store(tmp_path):
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    path = write_twin(
        tmp_path, port, f"policies = {POLICIES}", 'application_uri = "urn:plant7:twin"'
    )
    assert await asyncio.to_thread(main, ["certs", str(path), "--hostname", "127.0.0.1"]) == 0
    cert, key = await client_certificate(tmp_path, "scada")
    twin = Twin(load_config(path), history=None)
    async with Running(twin):
        await wait_until(lambda: port_open(port), 30, "the twin's server")
        endpoints = await Client(endpoint, timeout=4).connect_and_get_server_endpoints()
        offered = {(e.SecurityPolicyUri.split("#")[1], e.SecurityMode.name) for e in endpoints}
        assert offered == {
            ("Basic256Sha256", "SignAndEncrypt"),
            ("Aes256_Sha256_RsaPss", "SignAndEncrypt"),  # the URIs' spelling
            ("Aes128_Sha256_RsaOaep", "Sign"),
        }
        assert {e.Server.ApplicationUri for e in endpoints} == {"urn:plant7:twin"}
        with pytest.raises(Exception, match="(?i)endpoint|security"):
            async with Client(endpoint, timeout=4):
                pass  # security None is not offered
        # unknown certificate: refused and kept in rejected/ for the operator to judge
        with pytest.raises(Exception, match="BadCertificateUntrusted|BadSecurityChecksFailed"):
            async with await secure_client(endpoint, cert, key):
                pass
        rejected = list((tmp_path / "pki" / "rejected").iterdir())
        assert len(rejected) == 1
        shutil.move(rejected[0], tmp_path / "pki" / "trusted" / rejected[0].name)
        for policy in ("Aes256Sha256RsaPss", "Basic256Sha256"):
            async with await secure_client(endpoint, cert, key, policy) as client:
                idx = await client.get_namespace_index("urn:test:twin")
                await client.get_node(f"ns={idx};s=tank.Health").read_value()


async def test_trust_on_first_use_pins_the_first_client(tmp_path):
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}"
    security = 'policies = ["Basic256Sha256_SignAndEncrypt"]\ntrust_on_first_use = true'
    path = write_twin(tmp_path, port, security)
    assert await asyncio.to_thread(main, ["certs", str(path), "--hostname", "127.0.0.1"]) == 0
    first = await client_certificate(tmp_path, "first")
    second = await client_certificate(tmp_path, "second")
    async with Running(Twin(load_config(path), history=None)):
        await wait_until(lambda: port_open(port), 30, "the twin's server")
        for _ in range(2):
            async with await secure_client(endpoint, *first, "Basic256Sha256"):
                pass
        with pytest.raises(Exception, match="BadCertificateUntrusted|BadSecurityChecksFailed"):
            async with await secure_client(endpoint, *second, "Basic256Sha256"):
                pass
    assert len(list((tmp_path / "pki" / "trusted").iterdir())) == 1
    assert len(list((tmp_path / "pki" / "rejected").iterdir())) == 1
