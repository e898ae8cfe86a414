import subprocess
import sys

from fmitwin.cli import main


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
