"""`fmitwin init`: the starting twin and study files are written out of the installed package
and work as written."""

from pathlib import Path

import pandas as pd
from fmitwin.cli import main
from fmitwin.live.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "heated_tank_twin.toml"


def test_init_twin_writes_the_example_twin_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "twin"]) == 0
    written = tmp_path / "heated_tank_twin.toml"
    assert "fmitwin run heated_tank_twin.toml" in written.read_text()
    assert written.read_text() == EXAMPLE.read_text().replace(
        "examples/heated_tank_twin.toml", "heated_tank_twin.toml"
    )
    config = load_config(written)
    assert config.name == "heated-tank" and config.model.fmu is not None
    assert "next: fmitwin run heated_tank_twin.toml" in capsys.readouterr().out


def test_init_never_overwrites_without_force(tmp_path, capsys):
    target = tmp_path / "mine.toml"
    target.write_text("# my own twin\n")
    assert main(["init", "twin", str(target)]) == 2
    assert target.read_text() == "# my own twin\n"
    assert "exists; give another path or --force" in capsys.readouterr().err
    assert main(["init", "twin", str(target), "--force"]) == 0
    assert "[twin]" in target.read_text()


def test_init_study_writes_a_study_that_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "study"]) == 0
    text = (tmp_path / "study.toml").read_text()
    (tmp_path / "study.toml").write_text(
        text.replace("samples = 40", "samples = 6").replace("workers = 2", "workers = 0")
    )
    assert main(["study", "study.toml", "--no-progress"]) == 0
    table = pd.read_csv(tmp_path / "study.csv")
    assert len(table) == 6 and table["T.final"].notna().all()
    assert (tmp_path / "quantiles.png").read_bytes()[:4] == b"\x89PNG"
