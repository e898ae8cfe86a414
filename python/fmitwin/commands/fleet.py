"""``fmitwin fleet``: check a fleet file, register its twins, list the fleet by urgency."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

HELP = (
    "Fleets of twins: `check` a fleet file, `register` its twins in the registry, `list` the "
    "registry's twins most urgent first (filters: site, type, tag, lifecycle, RUL), write a "
    "`grafana` dashboard over the service's Prometheus metrics."
)


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a fleet file and every twin it declares")
    check.add_argument("fleet", help="fleet TOML file")
    register = actions.add_parser(
        "register", help="register the fleet file's twins (new ones added, changed ones updated)"
    )
    register.add_argument("fleet", help="fleet TOML file")
    register.add_argument("--registry", help="registry file (default: the fleet file's)")
    grafana = actions.add_parser(
        "grafana", help="write a Grafana dashboard (JSON to import) over `fmitwin serve` /metrics"
    )
    grafana.add_argument("fleet", help="fleet TOML file")
    grafana.add_argument("-o", "--output", required=True, help="dashboard JSON file to write")
    listing = actions.add_parser("list", help="the registry's twins, most urgent first")
    source = listing.add_mutually_exclusive_group(required=True)
    source.add_argument("--fleet", help="fleet TOML file whose registry to read")
    source.add_argument("--registry", help="registry file")
    listing.add_argument("--site")
    listing.add_argument("--type", dest="asset_type")
    listing.add_argument("--tag")
    listing.add_argument("--lifecycle", action="append", help="repeat for several states")
    listing.add_argument("--rul-below", type=float, metavar="X", help="median RUL below X")
    listing.add_argument(
        "--failure-within",
        nargs=2,
        type=float,
        metavar=("H", "P"),
        help="probability of failure within horizon H above P",
    )
    listing.add_argument(
        "--horizon", type=float, default=100.0, help="horizon of the urgency ranking (default 100)"
    )


def run(args: argparse.Namespace) -> int:
    from fmitwin.fleet import RegistryError, SqliteRegistry, load_fleet, register_fleet
    from fmitwin.live.config import ConfigError

    try:
        if args.action == "check":
            fleet = load_fleet(args.fleet)
            _print_assets(fleet)
            return 0
        if args.action == "register":
            fleet = load_fleet(args.fleet)
            with SqliteRegistry(args.registry or fleet.registry) as registry:
                report = register_fleet(registry, fleet)
            print(
                f"{fleet.name}: {len(report.added)} added, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged in {args.registry or fleet.registry}"
            )
            if report.undeclared:
                print(
                    f"registered but no longer declared (retire them if they are gone): "
                    f"{', '.join(report.undeclared)}"
                )
            return 0
        if args.action == "grafana":
            from fmitwin.fleet.grafana import dashboard_json

            fleet = load_fleet(args.fleet)
            Path(args.output).write_text(dashboard_json(fleet.name), encoding="utf-8")
            print(f"{args.output}: Grafana dashboard of {fleet.name} (import it, pick Prometheus)")
            return 0
        path = args.registry or load_fleet(args.fleet).registry
        with SqliteRegistry(path) as registry:
            criteria = {
                "site": args.site,
                "asset_type": args.asset_type,
                "tag": args.tag,
                "lifecycle": args.lifecycle,
                "rul_below": args.rul_below,
                "failure_within": tuple(args.failure_within) if args.failure_within else None,
            }
            chosen = {r.id for r in registry.query(**criteria)}
            records = [r for r in registry.ranked(args.horizon) if r.id in chosen]
        _print_records(records, args.horizon)
        return 0
    except (ConfigError, RegistryError, OSError) as exc:
        print(f"fmitwin fleet: {exc}", file=sys.stderr)
        return 1


def _print_assets(fleet) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{fleet.name}: {len(fleet.assets)} twins ({fleet.file})")
    for column in ("id", "asset", "type", "site", "tags", "model", "sources"):
        table.add_column(column, no_wrap=column == "id")
    for asset in fleet.assets:
        twin, entry = asset.twin, asset.entry
        sources = sorted({s.source for s in twin.sensors.values()})
        table.add_row(
            entry.id,
            entry.asset_id,
            entry.asset_type,
            entry.site,
            ", ".join(entry.tags),
            str(twin.model.fmu or twin.model.process),
            ", ".join(sources),
        )
    Console().print(table)


def _print_records(records, horizon: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(records)} twins, most urgent first")
    for column in (
        "id",
        "site",
        "type",
        "lifecycle",
        "health",
        "RUL (90 % interval)",
        f"P(fail < {horizon:g})",
        "updated",
    ):
        table.add_column(column, no_wrap=column == "id")
    for record in records:
        status = record.status
        rul = (
            "-"
            if status.rul is None
            else (f"{status.rul:.0f} ({status.rul_low:.0f}-{status.rul_high:.0f})")
        )
        pof = status.probability_of_failure(horizon)
        updated = (
            "-"
            if status.updated_at is None
            else dt.datetime.fromtimestamp(status.updated_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        )
        table.add_row(
            record.id,
            record.entry.site,
            record.entry.asset_type,
            record.lifecycle.value,
            status.health or "-",
            rul,
            "-" if pof is None else f"{pof:.2f}",
            updated,
        )
    Console().print(table)
