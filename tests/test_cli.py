import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from fmitwin import cli
from fmitwin.cli import main
from fmitwin.commands import EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "fmitwin" in out


def test_python_dash_m_runs():
    result = subprocess.run(
        [sys.executable, "-m", "fmitwin", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("fmitwin ")


def _requirement_names(requirement: str) -> tuple[str, list[str]]:
    """(distribution, its extras) of a requirement string such as ``dask[distributed]>=2024``."""
    match = re.match(r"([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?", requirement)
    extras = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
    return canonical(match.group(1)), extras


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_optional_dependency_has_its_extra_named():
    """The command line names the extra to install from EXTRA_OF_MODULE: it must cover every
    optional dependency of the extras a command can need, and name the right extra."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    optional = pyproject["project"]["optional-dependencies"]
    modules_of: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(canonical(dist), set()).add(module)
    for extra in ("live", "dask", "fleet", "docs", "study"):
        for requirement in optional[extra]:
            dist, dist_extras = _requirement_names(requirement)
            if dist == "fmitwin":
                continue
            names = modules_of[dist] & EXTRA_OF_MODULE.keys()
            assert names, f"{requirement} ({extra}): none of {modules_of[dist]} in EXTRA_OF_MODULE"
            assert {EXTRA_OF_MODULE[n] for n in names} == {extra}, requirement
            # what a requirement's own extras pull in: dask[distributed] -> distributed
            for pulled in importlib.metadata.requires(dist) or []:
                if any(f'extra == "{e}"' in pulled for e in dist_extras):
                    pulled_dist = _requirement_names(pulled)[0]
                    assert modules_of[pulled_dist] & EXTRA_OF_MODULE.keys(), pulled


def _without_extras(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "without_extras.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_plain_install_runs_the_main_job_and_names_missing_extras(tmp_path):
    """`pip install . && fmitwin demo` has no extras: every command's help, the demo and a study
    work, and a command that needs an extra names it instead of a traceback."""
    helps = _without_extras("--help", cwd=tmp_path)  # builds every subcommand's parser
    assert helps.returncode == 0 and not helps.stderr, helps.stderr
    assert all(command in helps.stdout for command in cli._COMMANDS)
    demo = _without_extras("demo", "--no-plot", cwd=tmp_path)
    assert demo.returncode == 0 and "heated_tank" in demo.stdout, demo.stderr
    assert _without_extras("init", "study", cwd=tmp_path).returncode == 0
    study = _without_extras("study", "study.toml", cwd=tmp_path)
    assert study.returncode == 0 and "40 runs" in study.stdout + study.stderr, study.stderr
    needs_extra = {
        ("run", "twin.toml"): "live",
        ("plant", "heated_tank"): "live",
        ("passwd", "users.txt", "alice"): "live",
        ("certs", "twin.toml"): "live",
        ("fleet", "check", "fleet.toml"): "live",
        ("serve", "--demo"): "fleet",
        ("aas", "twin.toml", "-o", "twin.aasx"): "fleet",
    }
    for args, extra in needs_extra.items():
        result = _without_extras(*args, cwd=tmp_path)
        assert result.returncode != 0, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert f"pip install 'fmitwin[{extra}]'" in result.stderr, (args, result.stderr)
