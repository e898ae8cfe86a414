"""``fmitwin bench``: the throughput table, its JSON form and its argument errors (no timing)."""

import json

import pytest
from fmitwin.cli import main

TINY = ["bench", "--n", "2", "6", "--steps", "50", "--fleet", "20"]


def test_bench_prints_the_table_with_cpu_and_isa(capsys):
    assert main(TINY) == 0
    out = capsys.readouterr().out
    assert "CPU:" in out and "kernel ISA:" in out
    assert "GFLOP/s" in out and "batch/FilterPy" in out and "fleet/simdk" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["2"], ["6"])]
    assert [row[:2] for row in rows] == [["2", "1"], ["6", "3"]]


def test_bench_json_has_the_expected_keys(capsys):
    assert main([*TINY, "--m", "2", "--threads", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"cpu", "isa", "threads", "fleet", "peers", "rows"} <= result.keys()
    assert result["peers"] == ["filterpy", "simdkalman"] and result["threads"] == 2
    assert [(row["n"], row["m"]) for row in result["rows"]] == [(2, 2), (6, 2)]
    for row in result["rows"]:
        assert row["batch_steps_per_s"] > 0 and row["batch_gflops"] > 0
        assert row["batch_over_filterpy"] > 0 and row["fleet_over_simdkalman"] > 0


def test_bench_without_peers_still_measures_fmitwin(capsys):
    assert main([*TINY, "--peers", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert "batch_over_filterpy" not in row and row["fleet_steps_per_s"] > 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--n", "0"], "--n: every state size must be at least 1"),
        (["--m", "0"], "--m: the measurement size must be at least 1"),
        (["--threads", "0"], "--threads: must be at least 1"),
        (["--peers", "pykalman"], "unknown peer 'pykalman'; choose from filterpy, simdkalman"),
    ],
)
def test_bench_bad_arguments_are_explained(capsys, arguments, message):
    assert main(["bench", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bench_peak_gives_the_fraction_of_the_measured_fma_peak(capsys):
    assert main(["bench", "--n", "4", "--steps", "50", "--fleet", "10", "--peak", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fma_peak_gflops"] > 0 and result["fma_peak_isa"] in ("avx2-fma", "sse2")
    assert result["rows"][0]["peak_fraction"] > 0
