"""-o/--output names the file a command writes, in every command."""

import gzip

import pandas as pd
import pytest
from fmitwin.cli import main
from fmitwin.datasets import shipped_cmapss_path


@pytest.mark.parametrize("option", ["-o", "--output"])
def test_simulate_writes_the_file_named_by_output(tmp_path, option):
    out = tmp_path / "out.csv"
    command = ["simulate", "heated_tank", "--stop", "600", "--step", "60", "--record", "T"]
    assert main([*command, option, str(out)]) == 0
    assert list(pd.read_csv(out).columns) == ["time", "T"]


def test_study_writes_its_table_to_output(tmp_path):
    config = tmp_path / "study.toml"
    config.write_text(
        '[target]\nfmu = "heated_tank"\n[simulation]\nstop_time = 60.0\nstep = 60.0\n'
        "[parameters]\nUA = [20.0, 40.0]\n[execution]\nworkers = 0\n"
    )
    out = tmp_path / "table.csv"
    assert main(["study", str(config), "--no-progress", "--output", str(out)]) == 0
    assert list(pd.read_csv(out)["UA"]) == [20.0, 40.0]


def test_rul_validate_alone_overwrites_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for split, units in (("train", 30), ("test", 5)):  # a few units: quick
        lines = gzip.decompress(shipped_cmapss_path(split).read_bytes()).decode().splitlines()
        kept = [line for line in lines if int(line.split()[0]) <= units]
        (tmp_path / f"{split}.txt").write_text("\n".join(kept) + "\n")
    (tmp_path / "rul.csv").write_text("my own results\n")
    assert main(["rul", "--train", "train.txt", "--test", "test.txt", "--validate"]) == 0
    assert (tmp_path / "rul.csv").read_text() == "my own results\n"
    assert "rmse_capped" in capsys.readouterr().out


def test_every_command_spells_the_written_file_minus_o_and_output():
    import argparse

    from fmitwin.cli import build_parser

    def options(parser, name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    yield from options(subparser, f"{name} {sub}")
            elif {"-o", "--output"} & set(action.option_strings):
                yield name, action

    found = dict(options(build_parser(), "fmitwin"))
    assert {"fmitwin simulate", "fmitwin study", "fmitwin rul", "fmitwin aas"} <= set(found)
    for name, action in found.items():
        assert {"-o", "--output"} <= set(action.option_strings), name
        assert action.nargs is None and action.const is None, name  # one path, never a flag
        assert any(w in action.help for w in ("write", "path", "folder")), (name, action.help)
