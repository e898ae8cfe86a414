"""``fmitwin report`` on recorded indicators (CSV with timestamps) and on C-MAPSS."""

import numpy as np
import pandas as pd
import pytest
from fmitwin.cli import main

PHI, THRESHOLD = 0.5, 3.0


def exponential_units(rng, count, start="2024-01-01", fraction=1.0):
    """Rows (asset, ISO timestamp every 12 h, vibration) of units degrading as
    S = phi + exp(a + b t + eps), t in hours, cut at ``fraction`` of life."""
    rows, failures = [], {}
    for unit in range(count):
        a, b = rng.normal(np.log(0.05), 0.2), rng.normal(0.004, 0.0004)
        failure = (np.log(THRESHOLD - PHI) - a) / b
        hours = np.arange(0.0, fraction * failure, 12.0)
        values = PHI + np.exp(a + b * hours + 0.05 * rng.standard_normal(hours.size))
        stamps = pd.Timestamp(start) + pd.to_timedelta(hours, unit="h")
        rows += [(f"pump-{unit}", s.isoformat(), v) for s, v in zip(stamps, values, strict=True)]
        failures[f"pump-{unit}"] = failure
    return pd.DataFrame(rows, columns=["asset", "time", "vibration"]), failures


def test_report_from_recorded_indicator_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    fleet, _ = exponential_units(rng, 25)
    monitored, failures = exponential_units(rng, 3, fraction=0.85)
    fleet.to_csv(tmp_path / "fleet.csv", index=False)
    monitored.to_csv(tmp_path / "history.csv", index=False)
    output = tmp_path / "report"
    code = main(
        [
            "report", "-o", str(output), "--history", str(tmp_path / "history.csv"),
            "--fleet", str(tmp_path / "fleet.csv"), "--value-column", "vibration",
            "--failure-mode", "bearing wear", "--every", "10",
        ]
    )  # fmt: skip
    assert code == 0
    assert "3 assets" in capsys.readouterr().out
    for asset in failures:
        for kind in ("health", "rul", "distribution"):
            assert (output / f"{asset}_{kind}.png").stat().st_size > 10_000
    summary = pd.read_csv(output / "summary.csv")
    assert set(summary["asset"]) == set(failures)
    for row in summary.itertuples():
        last = monitored[monitored.asset == row.asset]
        elapsed = (
            pd.Timestamp(last.time.iloc[-1]) - pd.Timestamp(last.time.iloc[0])
        ).total_seconds()
        true_rul = failures[row.asset] - elapsed / 3600.0
        assert row.rul_low <= true_rul <= row.rul_high
        assert row.failure_mode == "bearing wear"
    assert "| asset |" in (output / "summary.md").read_text()


def test_report_on_cmapss_plots_requested_engines(tmp_path, capsys):
    output = tmp_path / "cmapss"
    assert main(["report", "-o", str(output), "--units", "3", "49", "--every", "20"]) == 0
    printed = capsys.readouterr().out
    # the interval calibration per predicted-horizon band comes first: 5 bands
    assert "interval calibration (90%, per predicted-horizon band)" in printed
    lines = printed.splitlines()
    header = lines.index(next(line for line in lines if "predicted_from" in line))
    bands = [line.split() for line in lines[header + 1 : header + 6]]
    assert [band[2] for band in bands] == ["200"] * 5  # 1000 out-of-fold pairs, 200 per band
    assert sorted(p.name for p in output.glob("*.png")) == sorted(
        f"engine_{u}_{k}.png" for u in (3, 49) for k in ("health", "rul", "distribution")
    )
    summary = pd.read_csv(output / "summary.csv")
    assert len(summary) == 100
    urgency_rank = summary["urgency"].map({"immediate": 0, "soon": 1, "scheduled": 2, "none": 3})
    assert urgency_rank.is_monotonic_increasing


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--history", "{tmp}/h.csv"], "needs --fleet"),
        (
            ["--history", "{tmp}/h.csv", "--fleet", "{tmp}/h.csv", "--value-column", "x"],
            "no column",
        ),
        (["--units", "999"], "not in the test file"),
    ],
)
def test_report_errors_name_the_problem(tmp_path, capsys, arguments, message):
    pd.DataFrame({"asset": ["a"], "time": [0.0], "value": [1.0]}).to_csv(tmp_path / "h.csv")
    arguments = [a.format(tmp=tmp_path) for a in arguments]
    assert main(["report", "-o", str(tmp_path / "out"), *arguments]) == 1
    assert message in capsys.readouterr().err
