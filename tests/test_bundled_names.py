"""A bundled model's name works wherever a path to an FMU is asked for."""

import fmitwin
import fmitwin.models
import numpy as np
import pytest
from fmitwin.cli import main


def test_the_library_takes_a_bundled_name():
    result = fmitwin.simulate("heated_tank", 600.0, 60.0, start_values={"T": 320.0})
    by_path = fmitwin.simulate(
        fmitwin.models.path("heated_tank"), 600.0, 60.0, start_values={"T": 320.0}
    )
    np.testing.assert_array_equal(result["T"], by_path["T"])
    assert fmitwin.load_fmu("heated_tank").path == fmitwin.models.path("heated_tank")
    with pytest.raises(FileNotFoundError, match="nor a bundled model .*heated_tank"):
        fmitwin.load_fmu("heated_tnak")


def test_the_command_line_takes_a_bundled_name(tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["simulate", "heated_tank", "--stop", "600", "--step", "60", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("time")
    assert main(["info", "heated_tank"]) == 0
    assert "UA" in capsys.readouterr().out
