"""``fmitwin serve``: a fleet's registry, its twins and the REST API in one process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

from fmitwin.commands import import_extra

HELP = (
    "Serve a fleet: register the fleet file's twins, run them, and serve the REST API "
    "(/api/v1, OpenAPI at /docs) and Prometheus /metrics on 127.0.0.1; with [ingest] in the "
    "fleet file, store what edge twins forward."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fleet", nargs="?", help="fleet TOML file")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve a simulated demo fleet instead: 20 wearing pumps and heated tanks on three "
        "sites, each a real-time plant with its OPC UA server on loopback, some with sensor faults",
    )
    parser.add_argument(
        "--demo-assets", type=int, default=20, metavar="N", help="assets in the demo (default 20)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (logs a warning)"
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--token-env", metavar="VAR", help="environment variable holding the API write token"
    )
    token.add_argument("--token-file", metavar="PATH", help="file holding the API write token")
    parser.add_argument(
        "--start",
        choices=("active", "all", "none"),
        default="all",
        help="twins to start: all not retired (default), those the registry says were active, "
        "or none",
    )
    parser.add_argument("--registry", help="registry file (default: the fleet file's)")


def run(args: argparse.Namespace) -> int:
    service = import_extra("fmitwin.fleet.service", "serve", "fleet")
    if service is None:
        return 1
    check_bind_address = service.check_bind_address
    from fmitwin.fleet import RegistryError, SqliteRegistry, load_fleet, register_fleet
    from fmitwin.live.config import ConfigError
    from fmitwin.live.redact import redact

    if (args.fleet is None) == (not args.demo):
        print("fmitwin serve: give a fleet file, or --demo (not both)", file=sys.stderr)
        return 2
    demo_folder = tempfile.TemporaryDirectory(prefix="fmitwin-demo-") if args.demo else None
    plants: list = []
    try:
        check_bind_address(args.host, allow_remote=args.allow_remote)
        token = _token(args)
        path = args.fleet
        if demo_folder is not None:
            from fmitwin.fleet.demo import write_demo_fleet

            path, plants = write_demo_fleet(Path(demo_folder.name), count=args.demo_assets)
        fleet = load_fleet(path)
        registry = SqliteRegistry(args.registry or fleet.registry)
        report = register_fleet(registry, fleet)
        ingest = None
        if fleet.ingest is not None:  # the records the fleet's edge twins forward
            from fmitwin.fleet.ingest import Ingest

            ingest = Ingest.from_config(fleet.ingest)
    except (ConfigError, RegistryError, ValueError, OSError, sqlite3.Error) as exc:
        print(f"fmitwin serve: {exc}", file=sys.stderr)
        return 1
    print(
        f"{fleet.name}: {len(fleet.assets)} twins ({len(report.added)} newly registered); "
        f"dashboard on http://{args.host}:{args.port}/, API at /api/v1 (docs at /docs)"
        + (
            f"; ingest of edge twins from {redact(fleet.ingest.url)} into {fleet.ingest.store}"
            if fleet.ingest
            else ""
        )
        + ("" if token else "; read-only: no token given (--token-env/--token-file)"),
        flush=True,
    )
    try:
        asyncio.run(
            serve(fleet, registry, args.host, args.port, token, args.start, plants, ingest=ingest)
        )
    except KeyboardInterrupt:
        pass
    finally:
        registry.close()
        if demo_folder is not None:
            demo_folder.cleanup()
    return 0


async def serve(
    fleet,
    registry,
    host: str,
    port: int,
    token: str | None,
    start: str,
    plants: list,
    *,
    ingest=None,
) -> None:
    """Run the plants (demo), the twins, the ingest of edge records and the API on this event
    loop until interrupted."""
    import uvicorn

    from fmitwin.fleet.runner import FleetRunner
    from fmitwin.fleet.service import create_app

    runner = FleetRunner(fleet, registry)
    stop = asyncio.Event()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(registry, runner, token=token, ingest=ingest),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    # SIGINT/SIGTERM end the API first, then every twin cleanly (uvicorn's own handlers would
    # re-raise the signal and cancel the twins' shutdown half-way).
    server.capture_signals = contextlib.nullcontext
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    simulated = []
    if plants:
        from fmitwin.fleet.demo import start_plants

        simulated = start_plants(plants, stop)
    twins = asyncio.create_task(runner.run(stop, start=start))
    receiving = []
    if ingest is not None:
        receiving = [
            asyncio.create_task(ingest.run()),
            asyncio.create_task(_say_subscribed(ingest, fleet.ingest)),
        ]
    try:
        await server.serve()
    finally:
        stop.set()
        await twins
        await asyncio.gather(*simulated, return_exceptions=True)
        for task in receiving:
            task.cancel()
        await asyncio.gather(*receiving, return_exceptions=True)
        if ingest is not None:
            ingest.close()


async def _say_subscribed(ingest, cfg) -> None:
    """From this line on the broker keeps the ingest's session: edges may start forwarding."""
    from fmitwin.live.redact import redact

    await ingest.subscribed.wait()
    print(f"ingest subscribed to {cfg.prefix}/+/+ at {redact(cfg.url)}", flush=True)


def _token(args: argparse.Namespace) -> str | None:
    if args.token_env:
        value = os.environ.get(args.token_env)
        if not value:
            raise ValueError(f"--token-env {args.token_env}: that environment variable is empty")
        return value
    if args.token_file:
        value = Path(args.token_file).read_text(encoding="utf-8").strip()
        if not value:
            raise ValueError(f"--token-file {args.token_file} is empty")
        return value
    return None
