"""`fmitwin demo`: the tank twin's numbers against the plant it simulated, the CLI's table and PNG,
clean errors for a bad output path, and the pendulum option."""

from __future__ import annotations

import fmitwin
import fmitwin.models
import matplotlib.image
import numpy as np
import pytest
from fmitwin import demo
from fmitwin.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
C_TANK = 100.0 * 4186.0  # J/K, the FMU's m c_p


@pytest.fixture(scope="module")
def default_run() -> demo.TankDemo:
    return demo.run(seed=0)


def test_the_plant_is_the_tank_energy_balance(default_run) -> None:
    """The simulated truth against the closed-form step of m c_p dT/dt = P - UA (T - T_amb),
    with the power and UA held over each sample."""
    r = default_run
    assert r.fmu.name == "heated_tank.fmu"
    decay = np.exp(-r.true_ua * demo.SAMPLE_PERIOD / C_TANK)
    settle = demo.T_AMBIENT + r.heater_power / r.true_ua
    expected = np.empty_like(r.true_temperature)
    previous = demo.T_AMBIENT + r.heater_power[0] / r.true_ua[0]
    for i in range(expected.size):
        previous = expected[i] = settle[i] + (previous - settle[i]) * decay[i]
    np.testing.assert_allclose(r.true_temperature, expected, rtol=0, atol=1e-5)
    # the insulation wears: UA rises steadily over the run
    assert 5.0 < r.true_ua[-1] - r.true_ua[0] < 30.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_twin_tracks_the_unmeasured_ua_and_brackets_the_remaining_life(seed, default_run) -> None:
    r = default_run if seed == 0 else demo.run(seed=seed)
    # A consistent filter keeps the truth inside 3 sigma nearly all the time once settled.
    assert r.ua_coverage >= 0.95, r.ua_coverage
    assert r.ua_rms_error < 1.0
    assert r.std[-1, 1] < 1.0  # learned, not just bracketed
    # The twin's temperature is better than the probe it reads.
    assert r.temperature_rms_error < 0.5 * demo.PROBE_SIGMA
    # Every spike is gated, dropouts are skipped, and few clean samples are rejected.
    assert r.spikes.sum() > 50 and (r.gated & r.spikes).sum() == r.spikes.sum()
    assert not r.accepted[r.missing].any()
    assert (r.gated & ~r.spikes).sum() < 0.005 * r.times.size
    # The remaining life: its interval holds the plant's true remaining life, and the median
    # is close to it.
    low, high = r.rul_interval
    assert low <= r.true_rul <= high, (low, r.true_rul, high)
    assert abs(r.rul.median - r.true_rul) < 0.2 * r.true_rul
    assert 0 < high - low < r.true_rul


def test_a_spike_in_the_first_reading_does_not_derail_the_twin() -> None:
    """Seed 2's first reading is a spike: a filter started on it gated every reading after."""
    r = demo.run(seed=2, days=2.0)
    assert r.spikes[0]
    assert r.ua_coverage >= 0.95
    assert (r.gated & ~r.spikes).sum() < 0.005 * r.times.size
    low, high = r.rul_interval
    assert low <= r.true_rul <= high


def test_the_filter_beats_its_first_guess(default_run) -> None:
    r = default_run
    start_error = abs(demo.UA_DATASHEET - r.true_ua[0])
    assert start_error > 3.0
    assert abs(r.estimates[-1, 1] - r.true_ua[-1]) < 0.2 * start_error


@pytest.mark.parametrize("days", [1.0, 16.5, float("nan")])
def test_run_rejects_a_run_too_short_or_past_the_end_of_life(days) -> None:
    with pytest.raises(ValueError, match="give 2 to 16 days"):
        demo.run(days=days)


def test_command_runs_the_fmi3_tank(capsys) -> None:
    assert main(["demo", "--fmi", "3", "--days", "2", "--no-plot"]) == 0
    printed = capsys.readouterr().out
    assert "heated_tank_fmi3.fmu (FMI 3.0)" in printed


def test_command_prints_the_table_names_the_fmu_and_writes_the_plot(tmp_path, capsys) -> None:
    output = tmp_path / "tank.png"
    assert main(["demo", "--days", "3", "-o", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "heated_tank.fmu" in printed
    for row in ("UA at day 3", "3σ band", "remaining life [days]", "gated"):
        assert row in printed, row
    assert str(output) in printed
    assert output.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = matplotlib.image.imread(output).shape  # decodes as a whole image
    assert height >= 1000 and width >= 1000


def test_the_demo_constants_are_the_fmus_start_values() -> None:
    model = fmitwin.load_fmu(fmitwin.models.path(demo.MODEL))
    assert model.variable("T_ambient").start == demo.T_AMBIENT
    assert model.variable("UA").start == demo.UA_DATASHEET
    assert demo.UA_LIMIT == pytest.approx(80.0)


def test_command_without_plot_writes_nothing(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--days", "2", "--no-plot"]) == 0
    assert "remaining life" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing/plot.png", "does not exist; create it"),
        ("plot.svg", "ending in .png"),
        (".", "is a folder"),
    ],
)
def test_command_rejects_a_bad_output_path_before_running(tmp_path, name, message) -> None:
    with pytest.raises(SystemExit, match=message):
        main(["demo", "-o", str(tmp_path / name)])


def test_command_rejects_a_negative_seed(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--seed", "-1"])
    assert "give a non-negative integer" in capsys.readouterr().err


def test_command_rejects_an_unwritable_path(tmp_path) -> None:
    # /proc takes no new files, even from root (for whom a read-only folder is writable).
    with pytest.raises(SystemExit, match="cannot be written"):
        main(["demo", "-o", "/proc/fmitwin-demo.png"])


def test_checking_the_path_leaves_no_file_behind(tmp_path) -> None:
    assert demo.check_plot_path(tmp_path / "plot.png") == tmp_path / "plot.png"
    assert list(tmp_path.iterdir()) == []


# --- the pendulum option ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pendulum_estimates_stay_within_their_bands(seed: int) -> None:
    result = demo.pendulum_run(duration=10.0, seed=seed)
    settled = result.times > 1.0
    inside = np.abs(result.estimates - result.truth) <= 2 * result.std
    # About 95% of a consistent filter's errors lie within 2 sigma.
    assert inside[settled].mean(axis=0).min() >= 0.9, inside[settled].mean(axis=0)
    final_error = abs(result.estimates[-1, 2] - demo.TRUE_DAMPING)
    assert final_error <= 2 * result.std[-1, 2]
    assert result.std[-1, 2] < 0.02  # the damping is learned, not just bracketed
    # Gyro spikes were gated, dropouts only left the gyro out.
    assert 0 < (~result.accepted).sum() < 0.05 * len(result.accepted)


def test_pendulum_command_prints_the_table_and_writes_the_plot(tmp_path, capsys) -> None:
    output = tmp_path / "plot.png"
    assert main(["demo", "--model", "pendulum", "-o", str(output), "--duration", "4"]) == 0
    printed = capsys.readouterr().out
    assert "estimate +- 2 sigma" in printed and "damping [1/s]" in printed
    assert str(output) in printed
    assert output.read_bytes()[:8] == PNG_SIGNATURE


def test_pendulum_command_rejects_a_bad_duration() -> None:
    with pytest.raises(SystemExit, match="duration"):
        main(["demo", "--model", "pendulum", "--duration", "-1", "--no-plot"])
