"""`fmitwin demo`: it runs, prints a table, writes a PNG, and its estimates stay in their bands."""

from __future__ import annotations

import numpy as np
import pytest
from fmitwin import demo
from fmitwin.cli import main


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimates_stay_within_their_bands(seed: int) -> None:
    result = demo.run(duration=10.0, seed=seed)
    settled = result.times > 1.0
    inside = np.abs(result.estimates - result.truth) <= 2 * result.std
    # About 95% of a consistent filter's errors lie within 2 sigma.
    assert inside[settled].mean(axis=0).min() >= 0.9, inside[settled].mean(axis=0)
    final_error = abs(result.estimates[-1, 2] - demo.TRUE_DAMPING)
    assert final_error <= 2 * result.std[-1, 2]
    assert result.std[-1, 2] < 0.02  # the damping is learned, not just bracketed
    # Gyro spikes were gated, dropouts only left the gyro out.
    assert 0 < (~result.accepted).sum() < 0.05 * len(result.accepted)


def test_command_prints_the_table_and_writes_the_plot(tmp_path, capsys) -> None:
    output = tmp_path / "plot.png"
    assert main(["demo", "--output", str(output), "--duration", "4"]) == 0
    printed = capsys.readouterr().out
    assert "estimate +- 2 sigma" in printed and "damping [1/s]" in printed
    assert str(output) in printed
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_rejects_a_bad_duration() -> None:
    with pytest.raises(SystemExit, match="duration"):
        main(["demo", "--duration", "-1"])
