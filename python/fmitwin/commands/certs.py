"""``fmitwin certs twin.toml``: create the twin's OPC UA certificate, key and trust store."""

from __future__ import annotations

import argparse

HELP = (
    "Create the certificate and private key of a twin's OPC UA server (self-signed, for its "
    "ApplicationUri) and its trust store folders (trusted/, rejected/)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("twin", help="the twin file (TOML) whose [publish] server needs them")
    parser.add_argument(
        "--hostname", default=None, help="host name written in the certificate (default: this one)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing certificate and key"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from fmitwin.live.config import ConfigError, load_config
    from fmitwin.live.pki import TrustStore, create_certificate

    try:
        config = load_config(args.twin)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sec = config.publish.security
    existing = [p for p in (sec.certificate, sec.private_key) if p.exists()]
    if existing and not args.force:
        print(
            f"error: {', '.join(map(str, existing))} already exist; --force replaces them "
            "(clients that trust the old certificate must then trust the new one)",
            file=sys.stderr,
        )
        return 2
    asyncio.run(
        create_certificate(sec.certificate, sec.private_key, sec.application_uri, args.hostname)
    )
    store = TrustStore(sec.trust_store)
    print(f"certificate {sec.certificate} for {sec.application_uri}")
    print(f"private key {sec.private_key} (readable by you only)")
    print(f"trust store: client certificates in {store.trusted}, refused ones in {store.rejected}")
    return 0
