"""``fmitwin run twin.toml``: run a twin against its live plant until Ctrl-C."""

from __future__ import annotations

import argparse

HELP = "Run a twin (TOML file) against its live plant until Ctrl-C, with a live status screen."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("twin", help="the twin file (TOML); see examples/heated_tank_twin.toml")
    parser.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: run)"
    )
    parser.add_argument(
        "--replay",
        metavar="HISTORY",
        default=None,
        help="replay the readings of a recorded history (SQLite) instead of connecting",
    )
    parser.add_argument(
        "--speed", type=float, default=0.0, help="replay pace: 1 = real time, 0 = fastest"
    )
    parser.add_argument("--no-status", action="store_true", help="log events instead of the screen")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal
    import sys

    from fmitwin.live.config import ConfigError, load_config
    from fmitwin.live.redact import install_log_redaction

    try:
        config = load_config(args.twin)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO if args.no_status else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    install_log_redaction()
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    from fmitwin.live.history import HistoryError

    try:
        return asyncio.run(_run(config, args, signal))
    except (ConfigError, HistoryError) as exc:  # found when the twin is built or replays
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _run(config, args, signal) -> int:
    import asyncio
    from pathlib import Path

    from fmitwin.live.history import HistoryError, recorded_readings
    from fmitwin.live.twin import Twin

    replay = None
    history = True
    if args.replay:
        replay = recorded_readings(args.replay)
        if unknown := sorted({r.sensor for r in replay} - set(config.sensors)):
            raise HistoryError(
                f"{args.replay} holds readings of sensors {unknown} that {config.file} does not "
                f"have (it has {sorted(config.sensors)}); replay it with the twin file that "
                "recorded it"
            )
        # never append a replay to the record it replays
        if config.history.path is not None:
            same = config.history.path.resolve() == Path(args.replay).resolve()
            history = None if same else True
    # a replay re-analyses the past: it never forwards to the centre
    twin = Twin(config, replay=replay, speed=args.speed, history=history, forward=not replay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # Ctrl-C: stop cleanly, flushing the history
    status = None
    if not args.no_status:
        from fmitwin.live.status import show

        status = asyncio.create_task(show(twin))
    try:
        await twin.run(stop, duration=args.duration)
    finally:
        if status is not None:
            status.cancel()
            await asyncio.gather(status, return_exceptions=True)
    counts = twin.gateway.counts()
    rejected = sum(twin.gateway.stats[s].rejected for s in counts)
    print(
        f"stopped: {twin.sync.counters.applied} updates, {rejected} readings rejected, "
        f"{twin.sync.counters.divergences} divergence events"
        + (f", history in {twin.history.path}" if twin.history else "")
    )
    if (fwd := twin.forward_status()) is not None:
        print(
            f"forwarded: {fwd['bytes_sent']} bytes sent, {fwd['backlog']} records waiting in the "
            f"outbox for the next run, {fwd['dropped']} dropped (outbox full)"
        )
    return 0
