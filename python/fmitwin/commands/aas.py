"""``fmitwin aas``: export a twin as an Asset Administration Shell (AASX package or JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmitwin.commands import import_extra

HELP = (
    "Export a twin as an Asset Administration Shell (AAS v3): an AASX package with the FMU "
    "inside (Nameplate, SimulationModels, OperationalData, Maintenance submodels), or JSON."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a twin file, or a fleet file with --id")
    parser.add_argument("--id", help="the twin of the fleet file to export")
    parser.add_argument(
        "-o", "--output", required=True, help="file to write: .aasx (package) or .json"
    )
    parser.add_argument("--manufacturer", help="the asset's manufacturer (Nameplate)")
    parser.add_argument("--product", help="the asset's product designation (Nameplate)")


def run(args: argparse.Namespace) -> int:
    aas_module = import_extra("fmitwin.fleet.aas", "aas", "fleet")
    if aas_module is None:
        return 1
    build_aas = aas_module.build_aas
    from fmitwin.fleet import load_fleet
    from fmitwin.live.config import ConfigError, load_config
    from fmitwin.live.twin import resolve_fmu

    output = Path(args.output)
    if output.suffix.lower() not in (".aasx", ".json"):
        print(f"fmitwin aas: -o {output}: name a .aasx or .json file", file=sys.stderr)
        return 1
    if not output.parent.is_dir():
        print(
            f"fmitwin aas: -o {output}: the folder {output.parent} does not exist", file=sys.stderr
        )
        return 1
    try:
        entry = None
        if args.id is not None:
            fleet = load_fleet(args.file)
            try:
                asset = fleet.asset(args.id)
            except KeyError as exc:
                print(f"fmitwin aas: {exc.args[0]}", file=sys.stderr)
                return 1
            twin, entry = asset.twin, asset.entry
        else:
            twin = load_config(args.file)
        fmu = resolve_fmu(twin) if twin.model.process == "fmu" else None
        nameplate = {
            k: v for k, v in (("manufacturer", args.manufacturer), ("product", args.product)) if v
        }
        export = build_aas(twin, fmu, entry=entry, nameplate=nameplate)
        if output.suffix.lower() == ".aasx":
            export.write_aasx(output)
        else:
            output.write_text(export.json(), encoding="utf-8")
    except (ConfigError, OSError, ValueError) as exc:
        print(f"fmitwin aas: {exc}", file=sys.stderr)
        return 1
    print(f"wrote the AAS of {entry.id if entry else twin.name} to {output}")
    return 0
