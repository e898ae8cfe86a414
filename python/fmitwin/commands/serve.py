"""``fmitwin serve``: a fleet's registry, its twins and the REST API in one process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

HELP = (
    "Serve a fleet: register the fleet file's twins, run them, and serve the REST API "
    "(/api/v1, OpenAPI at /docs) and Prometheus /metrics on 127.0.0.1."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fleet", help="fleet TOML file")
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
    try:
        from fmitwin.fleet.service import check_bind_address
    except ImportError as exc:
        print(
            f"fmitwin serve: {exc.name} is not installed; pip install 'fmitwin[fleet]'",
            file=sys.stderr,
        )
        return 1
    from fmitwin.fleet import RegistryError, SqliteRegistry, load_fleet, register_fleet
    from fmitwin.live.config import ConfigError

    try:
        check_bind_address(args.host, allow_remote=args.allow_remote)
        token = _token(args)
        fleet = load_fleet(args.fleet)
        registry = SqliteRegistry(args.registry or fleet.registry)
        report = register_fleet(registry, fleet)
    except (ConfigError, RegistryError, ValueError, OSError) as exc:
        print(f"fmitwin serve: {exc}", file=sys.stderr)
        return 1
    print(
        f"{fleet.name}: {len(fleet.assets)} twins ({len(report.added)} newly registered); "
        f"API on http://{args.host}:{args.port}/api/v1 (docs at /docs)"
        + ("" if token else "; read-only: no token given (--token-env/--token-file)"),
        flush=True,
    )
    try:
        asyncio.run(serve(fleet, registry, args.host, args.port, token, args.start))
    except KeyboardInterrupt:
        pass
    finally:
        registry.close()
    return 0


async def serve(fleet, registry, host: str, port: int, token: str | None, start: str) -> None:
    """Run the twins and the API on this event loop until interrupted."""
    import uvicorn

    from fmitwin.fleet.runner import FleetRunner
    from fmitwin.fleet.service import create_app

    runner = FleetRunner(fleet, registry)
    stop = asyncio.Event()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(registry, runner, token=token),
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
    twins = asyncio.create_task(runner.run(stop, start=start))
    try:
        await server.serve()
    finally:
        stop.set()
        await twins


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
