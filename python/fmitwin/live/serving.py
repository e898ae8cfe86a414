"""How fmitwin's OPC UA servers (the twin's and the plant simulator's) are exposed: the address
they bind, the security policies they offer, their certificate, ApplicationUri and trust store,
and who may do what (:mod:`fmitwin.live.access`).

Secure by default: a server binds a loopback address unless ``allow_remote_clients`` is set (and
then logs a warning naming the exposure); security policy None is offered only when listed;
user names and passwords are refused where they would cross the network in the clear (no
encrypting policy offered) unless ``allow_insecure_credentials`` is set.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from asyncua import Server, ua

from fmitwin.live.access import AccessPolicy, AccessRuleset, AccessUserManager
from fmitwin.live.pki import TrustStore

log = logging.getLogger(__name__)

#: Policies offered by name ("None" is ``NoSecurity``); the deprecated Basic128Rsa15 and Basic256
#: are left out.
POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    **{
        t.name: t
        for t in ua.SecurityPolicyType
        if t.name.startswith(("Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"))
    },
}
ENCRYPTED = tuple(name for name in POLICIES if name.endswith("_SignAndEncrypt"))
CREDENTIALS_IN_CLEAR = (
    "passwords would travel in the clear: no SignAndEncrypt policy is offered; offer one (with "
    "a certificate), or set allow_insecure_credentials = true"
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it resolves to an interface others can reach


def check_bind(endpoint: str, allow_remote_clients: bool, what: str) -> None:
    """Refuse a non-loopback bind unless allowed; warn when it is."""
    host = urlparse(endpoint).hostname or ""
    if is_loopback(host):
        return
    if not allow_remote_clients:
        raise ValueError(
            f"{what} {endpoint} would accept connections from other machines; bind 127.0.0.1, "
            "or allow it explicitly (allow_remote_clients = true / --allow-remote)"
        )
    log.warning(
        "%s listens on %s: reachable from the network%s",
        what,
        endpoint,
        " on every interface" if host in ("0.0.0.0", "::", "[::]") else "",
    )


@dataclass(frozen=True)
class ServerSecurity:
    """Everything about how one OPC UA server is exposed."""

    policies: tuple[str, ...] = ENCRYPTED
    certificate: Path | None = None
    private_key: Path | None = None
    application_uri: str = "urn:fmitwin"
    trust_store: Path | None = None  # None: any client certificate that passes basic checks
    trust_on_first_use: bool = False
    access: AccessPolicy = field(default_factory=AccessPolicy)
    allow_insecure_credentials: bool = False
    allow_remote_clients: bool = False

    def problem(self) -> str | None:
        """Why this setting cannot be served, with the fix; None when it can."""
        if unknown := [p for p in self.policies if p not in POLICIES]:
            return f"unknown security policies {unknown}; choose from {', '.join(POLICIES)}"
        if not self.policies:
            return "no security policy to offer"
        encrypted = [p for p in self.policies if p != "None"]
        if encrypted and (self.certificate is None or self.private_key is None):
            return f"{encrypted} need the server's certificate and private key"
        for path in (self.certificate, self.private_key) if encrypted else ():
            if not path.is_file():
                return (
                    f"{path} not found: {encrypted} need the server's certificate and key; "
                    "create them with `fmitwin certs <twin file>`"
                )
        if self.credentials_in_clear():
            return CREDENTIALS_IN_CLEAR
        return None

    def credentials_in_clear(self) -> bool:
        """Users who would send their passwords unencrypted (no encrypting policy offered),
        without the explicit ``allow_insecure_credentials``."""
        encrypting = any(p.endswith("_SignAndEncrypt") for p in self.policies)
        return bool(self.access.users) and not encrypting and not self.allow_insecure_credentials

    async def apply(self, server: Server, endpoint: str, what: str) -> None:
        """Configure ``server`` (after ``init()``, before ``start()``)."""
        if problem := self.problem():
            raise ValueError(f"{what}: {problem}")
        check_bind(endpoint, self.allow_remote_clients, what)
        server.set_endpoint(endpoint)
        await server.set_application_uri(self.application_uri)
        if any(p != "None" for p in self.policies):
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
        server.iserver.set_user_manager(AccessUserManager(self.access))
        server.set_identity_tokens(self.access.identity_tokens())
        server.set_security_policy(
            [POLICIES[p] for p in self.policies], permission_ruleset=AccessRuleset(self.access)
        )
        if self.trust_store is not None:
            server.set_certificate_validator(
                TrustStore(self.trust_store, trust_on_first_use=self.trust_on_first_use)
            )
