"""``fmitwin init twin|study [PATH]``: write a commented starting file for the bundled heated tank.

``twin``: the example twin file (the same as ``examples/heated_tank_twin.toml`` of the source
tree, installed with the package) for the live demo with ``fmitwin plant`` and ``fmitwin run``.
``study``: a Monte Carlo study file for ``fmitwin study``. An existing file is never overwritten
unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Write a starting twin file or study file (for the bundled heated tank)."

STUDY = """\
# A Monte Carlo study of the bundled heated tank: how the temperature after two hours spreads
# for an uncertain initial temperature and heat-loss coefficient. Run: fmitwin study {name}
# (schema: `python -m pydoc fmitwin.study`).

[target]
fmu = "heated_tank"                 # a path to an .fmu (or ssp = "system.ssp"), or a bundled model

[simulation]
stop_time = 7200.0                  # s
step = 60.0                         # communication step, s
outputs = ["T", "Q_loss"]

[design]
kind = "monte_carlo"                # grid | lhs | monte_carlo
samples = 40
seed = 1

[parameters]
T = { distribution = "norm", loc = 330.0, scale = 5.0 }   # initial temperature, K
UA = [20.0, 60.0]                   # W/K, uniform between the bounds

[metrics]
stats = ["final", "max"]

[output]
table = "study.csv"                 # one row per run
results = "study.jsonl"             # per-run results: a killed study resumes from here
plot = "quantiles.png"              # quantiles over time of every output

[execution]
workers = 2                         # local process pool; 0 runs in this process
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=("twin", "study"), help="which file to write")
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help="where to write it (default: heated_tank_twin.toml / study.toml here)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def _twin_text() -> str:
    import fmitwin

    # an installed package holds it in fmitwin/examples; an editable one spreads over folders
    for folder in fmitwin.__path__:
        path = Path(folder) / "examples" / "heated_tank_twin.toml"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(
        "the example twin file was not installed with fmitwin; reinstall it (pip install fmitwin)"
    )


def run(args: argparse.Namespace) -> int:
    path = args.path or Path("heated_tank_twin.toml" if args.kind == "twin" else "study.toml")
    if path.exists() and not args.force:
        print(f"fmitwin init: {path} exists; give another path or --force", file=sys.stderr)
        return 2
    try:
        text = _twin_text() if args.kind == "twin" else STUDY.replace("{name}", path.name)
        if args.kind == "twin":
            text = text.replace("examples/heated_tank_twin.toml", str(path))
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"fmitwin init: {exc}", file=sys.stderr)
        return 1
    follow = f"fmitwin run {path}" if args.kind == "twin" else f"fmitwin study {path}"
    print(f"wrote {path}; next: {follow}")
    return 0
