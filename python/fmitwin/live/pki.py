"""The twin's application instance certificate and the trust store its OPC UA server checks
client certificates against.

Layout (the usual one of OPC UA servers), under the trust store folder::

    trusted/    certificates of the clients this server accepts (DER or PEM, any file name)
    rejected/   certificates presented and refused, as <SHA-1 thumbprint>.der; move one to
                trusted/ to accept that client (no restart needed)

With ``trust_on_first_use`` the first client certificate presented while ``trusted/`` is empty
is stored there and accepted; every later unknown one is rejected as usual.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

log = logging.getLogger(__name__)


async def create_certificate(
    certificate: Path, private_key: Path, application_uri: str, hostname: str | None = None
) -> None:
    """A self-signed application instance certificate (DER) for ``application_uri`` and a new
    RSA-2048 private key (PEM, mode 0600); both usable by a server and a client. Existing files
    are replaced."""
    certificate.parent.mkdir(parents=True, exist_ok=True)
    private_key.parent.mkdir(parents=True, exist_ok=True)
    certificate.unlink(missing_ok=True)
    private_key.unlink(missing_ok=True)
    hostname = hostname or socket.gethostname()
    await setup_self_signed_certificate(
        private_key,
        certificate,
        application_uri,
        hostname,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        {"commonName": application_uri},
    )
    os.chmod(private_key, 0o600)


def thumbprint(cert: x509.Certificate) -> str:
    """The SHA-1 thumbprint OPC UA names certificates by, in hex."""
    return cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - the OPC UA identifier, not a MAC


def _load(path: Path) -> x509.Certificate | None:
    data = path.read_bytes()
    try:
        if data.startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        log.warning("not a certificate, ignored: %s", path)
        return None


class TrustStore:
    """A certificate validator for asyncua's server (``server.set_certificate_validator``)."""

    def __init__(self, directory: Path, *, trust_on_first_use: bool = False) -> None:
        self.trusted = directory / "trusted"
        self.rejected = directory / "rejected"
        self.trusted.mkdir(parents=True, exist_ok=True)
        self.rejected.mkdir(parents=True, exist_ok=True)
        self.trust_on_first_use = trust_on_first_use
        # validity period and that the certificate names the application it claims to be
        self._basic = CertificateValidator(
            CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        )

    def trusted_thumbprints(self) -> set[str]:
        """Read on every check, so a certificate moved into trusted/ counts at once."""
        certs = (_load(p) for p in sorted(self.trusted.iterdir()) if p.is_file())
        return {thumbprint(c) for c in certs if c is not None}

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        await self._basic.validate(cert, app)
        known = self.trusted_thumbprints()
        print_ = thumbprint(cert)
        if print_ in known:
            return
        der = cert.public_bytes(serialization.Encoding.DER)
        if self.trust_on_first_use and not known:
            (self.trusted / f"{print_}.der").write_bytes(der)
            log.warning("trusted on first use: client %s, %s", app.ApplicationUri, print_)
            return
        path = self.rejected / f"{print_}.der"
        path.write_bytes(der)
        log.warning(
            "client certificate of %s not trusted; to accept it, move %s to %s",
            app.ApplicationUri,
            path,
            self.trusted,
        )
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)
