"""``fmitwin plant model.fmu --opcua URL [--mqtt URL]``: serve an FMU as a live plant."""

from __future__ import annotations

import argparse

HELP = "Simulate an FMU in real time and serve it as a plant over OPC UA and/or MQTT."


def _pair(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None


def _window(text: str):
    """``START:DURATION`` in seconds."""
    from fmitwin.live.plant import Window

    start, sep, duration = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return Window(float(start), float(duration))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:DURATION in seconds, got {text!r}"
        ) from None


def _named_window(text: str):
    name, sep, rest = text.partition("@")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME@START:DURATION, got {text!r}")
    return name, _window(rest)


def _drift(text: str):
    name_rate, sep, start = text.partition("@")
    name, rate = _pair(name_rate)
    try:
        return name, (rate, float(start) if sep else 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE[@START], got {text!r}") from None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fmu", help="a co-simulation FMU, or the name of a bundled model")
    parser.add_argument(
        "--opcua", metavar="URL", help="serve on this endpoint, opc.tcp://host:port"
    )
    parser.add_argument("--mqtt", metavar="URL", help="publish to this broker, mqtt://host:port")
    parser.add_argument(
        "--set",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="start value of a parameter or input (repeatable)",
    )
    parser.add_argument(
        "--sensor",
        action="append",
        default=None,
        metavar="NAME",
        help="variable to serve (repeatable; default: states and inputs)",
    )
    parser.add_argument("--step", type=float, default=0.01, help="FMU step, s (default 0.01)")
    parser.add_argument("--rate", type=float, default=20.0, help="samples/s (default 20)")
    parser.add_argument(
        "--noise",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME=STD",
        help="Gaussian sensor noise (repeatable)",
    )
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="probability that a sample is not sent"
    )
    parser.add_argument(
        "--stuck",
        type=_named_window,
        action="append",
        default=[],
        metavar="NAME@START:DURATION",
        help="sensor stuck at its last value",
    )
    parser.add_argument(
        "--drift",
        type=_drift,
        action="append",
        default=[],
        metavar="NAME=RATE[@START]",
        help="sensor bias growing at RATE per s",
    )
    parser.add_argument(
        "--outage",
        type=_window,
        action="append",
        default=[],
        metavar="START:DURATION",
        help="the plant goes off-line",
    )
    parser.add_argument(
        "--users",
        metavar="FILE",
        help="OPC UA: users file (name:role:hash, see `fmitwin passwd`); only its operators "
        "may write the cmd.* setpoints",
    )
    parser.add_argument(
        "--anonymous",
        choices=("off", "read", "operate"),
        default=None,
        help="OPC UA anonymous sessions (default: operate without --users, read with)",
    )
    parser.add_argument(
        "--allow-insecure-credentials",
        action="store_true",
        help="accept passwords over security None (without --certificate)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --opcua address (other machines can connect)",
    )
    parser.add_argument(
        "--certificate", help="OPC UA: server certificate; with --private-key, encrypted only"
    )
    parser.add_argument("--private-key", help="OPC UA: the server certificate's private key")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many s")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal
    import sys
    from pathlib import Path

    from fmitwin.live.access import AccessPolicy, read_users_file
    from fmitwin.live.plant import Faults, Plant
    from fmitwin.live.redact import install_log_redaction, redact

    if not args.opcua and not args.mqtt:
        print("error: give --opcua URL and/or --mqtt URL to serve the plant on", file=sys.stderr)
        return 2
    fmu = Path(args.fmu)
    if not fmu.is_file():
        import fmitwin.models

        try:
            fmu = fmitwin.models.path(args.fmu)
        except (ValueError, FileNotFoundError) as exc:
            print(
                f"error: {args.fmu}: neither an FMU file nor a bundled model ({exc})",
                file=sys.stderr,
            )
            return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    install_log_redaction()
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    access = None
    if args.users or args.anonymous:
        try:
            users = read_users_file(args.users) if args.users else {}
        except (OSError, ValueError) as exc:
            print(f"error: --users: {exc}", file=sys.stderr)
            return 2
        access = AccessPolicy(users, args.anonymous or ("read" if users else "operate"))
    faults = Faults(
        noise=dict(args.noise),
        dropout=args.dropout,
        stuck=dict(args.stuck),
        drift=dict(args.drift),
        outages=list(args.outage),
    )
    if args.step <= 0 or args.rate <= 0:
        print("error: --step and --rate must be positive", file=sys.stderr)
        return 2
    try:
        plant = Plant(
            fmu,
            opcua=args.opcua,
            mqtt=args.mqtt,
            sensors=args.sensor,
            start_values=dict(args.set),
            step=args.step,
            rate=args.rate,
            faults=faults,
            seed=args.seed,
            access=access,
            certificate=args.certificate,
            private_key=args.private_key,
            allow_insecure_credentials=args.allow_insecure_credentials,
            allow_remote_clients=args.allow_remote,
        )
    except Exception as exc:  # a bad FMU, an unknown --set name, a bad URL: say it, no traceback
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"plant {fmu.name}: sensors {plant.sensors}, inputs {plant.inputs}")
        if args.opcua:
            print(f"  OPC UA {args.opcua}  namespace {plant.namespace}")
        if args.mqtt:
            print(f"  MQTT {redact(args.mqtt)}  topics {plant.prefix}/<variable>")
        await plant.run(stop, duration=args.duration)

    try:
        asyncio.run(main())
    except (ValueError, OSError) as exc:  # e.g. a port in use, a refused bind address
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 2
    return 0
