"""The twin registry: lifecycle rules, recorded transitions, queries, urgency, durability."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fmitwin.fleet import (
    ALLOWED,
    Lifecycle,
    RegistryError,
    SqliteRegistry,
    TwinEntry,
)
from fmitwin.maintenance.rul import CrossingTimeRUL
from scipy.stats import norm


def entry(twin_id: str, site: str = "north", asset_type: str = "pump", tags=()) -> TwinEntry:
    return TwinEntry(twin_id, f"asset-{twin_id}", asset_type, site, f"{twin_id}.toml", tuple(tags))


class NormalRUL:
    """A Gaussian remaining life: an independent reference for P(failure within H)."""

    def __init__(self, mean: float, sd: float) -> None:
        self.mean, self.sd = mean, sd

    def quantile(self, q: float) -> float:
        return float(max(norm.ppf(q, self.mean, self.sd), 0.0))

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        tail = (1 - level) / 2
        return self.quantile(tail), self.quantile(1 - tail)


@pytest.fixture
def registry(tmp_path):
    with SqliteRegistry(tmp_path / "fleet.sqlite") as reg:
        yield reg


def test_every_lifecycle_transition_is_recorded_with_time_and_reason(registry):
    registry.register(entry("P1"), reason="installed on line 1")
    for target, reason in [
        ("commissioning", "first connection"),
        ("running", "filter converged"),
        ("degraded", "sensor T stale"),
        ("running", "sensor back"),
        ("stopped", "maintenance window"),
        ("retired", "pump replaced"),
    ]:
        registry.transition("P1", target, reason)
    moves = registry.transitions("P1")
    assert [(m.source, m.target) for m in moves] == [
        (None, Lifecycle.REGISTERED),
        (Lifecycle.REGISTERED, Lifecycle.COMMISSIONING),
        (Lifecycle.COMMISSIONING, Lifecycle.RUNNING),
        (Lifecycle.RUNNING, Lifecycle.DEGRADED),
        (Lifecycle.DEGRADED, Lifecycle.RUNNING),
        (Lifecycle.RUNNING, Lifecycle.STOPPED),
        (Lifecycle.STOPPED, Lifecycle.RETIRED),
    ]
    assert moves[0].reason == "installed on line 1" and moves[-1].reason == "pump replaced"
    times = [m.at for m in moves]
    assert times == sorted(times)
    assert registry.get("P1").lifecycle is Lifecycle.RETIRED


@pytest.mark.parametrize("source", list(Lifecycle))
def test_illegal_transitions_are_refused_naming_the_legal_ones(registry, source):
    path = {
        Lifecycle.REGISTERED: [],
        Lifecycle.COMMISSIONING: ["commissioning"],
        Lifecycle.RUNNING: ["commissioning", "running"],
        Lifecycle.DEGRADED: ["commissioning", "running", "degraded"],
        Lifecycle.STOPPED: ["commissioning", "stopped"],
        Lifecycle.RETIRED: ["retired"],
    }[source]
    registry.register(entry("P1"))
    for target in path:
        registry.transition("P1", target, "setup")
    before = registry.transitions("P1")
    for target in set(Lifecycle) - ALLOWED[source]:
        with pytest.raises(RegistryError, match=f"cannot go from {source} to {target}"):
            registry.transition("P1", target, "try")
    assert registry.transitions("P1") == before
    assert registry.get("P1").lifecycle is source


def test_bad_requests_are_clear_errors(registry):
    registry.register(entry("P1"))
    with pytest.raises(RegistryError, match="already registered"):
        registry.register(entry("P1"))
    with pytest.raises(RegistryError, match="unknown twin id 'P9'; registered: P1"):
        registry.get("P9")
    with pytest.raises(RegistryError, match="unknown lifecycle state 'runing'"):
        registry.transition("P1", "runing", "typo")
    with pytest.raises(RegistryError, match="needs a reason"):
        registry.transition("P1", "commissioning", " ")
    with pytest.raises(RegistryError, match="site must be a non-empty string"):
        registry.register(entry("P2", site=""))
    with pytest.raises(RegistryError, match="quantile"):
        registry.update_status("P1", rul=42.0)


def test_health_moves_a_running_twin_to_degraded_and_back(registry):
    registry.register(entry("P1"))
    registry.transition("P1", "commissioning", "start")
    registry.transition("P1", "running", "converged")
    assert registry.update_status("P1", health="diverged").lifecycle is Lifecycle.DEGRADED
    assert registry.update_status("P1", health="ok").lifecycle is Lifecycle.RUNNING
    reasons = [m.reason for m in registry.transitions("P1")][-2:]
    assert reasons == ["health diverged", "health ok again"]
    # a stopped twin's health does not move it
    registry.transition("P1", "stopped", "stop")
    assert registry.update_status("P1", health="degraded").lifecycle is Lifecycle.STOPPED


def test_probability_of_failure_matches_the_distribution(registry):
    registry.register(entry("P1"))
    reference = NormalRUL(100.0, 20.0)
    status = registry.update_status("P1", rul=reference).status
    assert status.rul == pytest.approx(100.0)
    assert (status.rul_low, status.rul_high) == pytest.approx(reference.interval(0.9))
    for horizon in (60.0, 80.0, 100.0, 120.0, 140.0):
        assert status.probability_of_failure(horizon) == pytest.approx(
            norm.cdf(horizon, 100.0, 20.0), abs=0.01
        )


def test_a_distribution_that_may_never_fail_is_stored(registry):
    # a path whose slope may be negative: upper quantiles are infinite
    rul = CrossingTimeRUL(np.array([0.0, 0.01]), np.diag([1e-6, 1e-4]), level=1.0, now=0.0)
    registry.register(entry("P1"))
    status = registry.update_status("P1", rul=rul).status
    assert status.rul_quantiles and all(np.isfinite(v) for _, v in status.rul_quantiles)
    assert 0.0 <= status.probability_of_failure(1e6) <= 1.0


def test_queries_and_urgency_ranking(registry):
    registry.register(entry("N1", "north", "pump", ["critical"]))
    registry.register(entry("N2", "north", "tank"))
    registry.register(entry("S1", "south", "pump", ["critical", "line-2"]))
    registry.register(entry("S2", "south", "pump"))
    registry.update_status("N1", health="ok", rul=NormalRUL(300.0, 30.0))
    registry.update_status("N2", health="ok", rul=NormalRUL(50.0, 10.0))
    registry.update_status("S1", health="degraded", rul=NormalRUL(80.0, 40.0))
    for twin in ("N1", "N2", "S1"):
        registry.transition(twin, "commissioning", "start")
    ids = lambda records: [r.id for r in records]  # noqa: E731
    assert ids(registry.query(site="north")) == ["N1", "N2"]
    assert ids(registry.query(asset_type="pump", tag="critical")) == ["N1", "S1"]
    assert ids(registry.query(lifecycle="registered")) == ["S2"]
    assert ids(registry.query(lifecycle=["commissioning"], site="south")) == ["S1"]
    assert ids(registry.query(health="degraded")) == ["S1"]
    assert ids(registry.query(rul_below=100.0)) == ["N2", "S1"]
    # P(fail within 60): N2 ~0.84, S1 ~0.31, N1 ~0
    assert ids(registry.query(failure_within=(60.0, 0.5))) == ["N2"]
    assert ids(registry.query(failure_within=(60.0, 0.2))) == ["N2", "S1"]
    assert ids(registry.ranked(horizon=60.0)) == ["N2", "S1", "N1", "S2"]
    registry.transition("N2", "stopped", "stop")
    registry.transition("N2", "retired", "scrapped")
    assert "N2" not in ids(registry.ranked(horizon=60.0))


def test_tags_and_entries_can_be_updated(registry):
    registry.register(entry("P1", tags=["a"]))
    updated = registry.update_entry(entry("P1", site="east", tags=["b", "c"]))
    assert updated.entry.site == "east" and updated.entry.tags == ("b", "c")
    assert [r.id for r in registry.query(tag="a")] == []


def test_a_process_killed_mid_writes_leaves_every_committed_change(tmp_path):
    path = tmp_path / "fleet.sqlite"
    writer = textwrap.dedent(
        f"""
        import os, sys
        from fmitwin.fleet import SqliteRegistry, TwinEntry
        reg = SqliteRegistry({str(path)!r})
        for i in range(100000):
            reg.register(TwinEntry(f"T{{i:06d}}", "a", "pump", "north", "t.toml"))
            reg.transition(f"T{{i:06d}}", "commissioning", "start")
            if i == 50:
                print("ready", flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.kill()
    process.wait()
    with SqliteRegistry(path) as reg:
        records = reg.query()
        assert len(records) > 50
        # every twin is whole: registered and then (unless the kill fell between the two
        # transactions, for the last one only) commissioning, with matching transitions
        for record in records[:-1]:
            assert record.lifecycle is Lifecycle.COMMISSIONING
            assert [m.target for m in reg.transitions(record.id)] == [
                Lifecycle.REGISTERED,
                Lifecycle.COMMISSIONING,
            ]
        reg.register(entry("after"))  # and the file takes new writes


def test_an_unusable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RegistryError, match="cannot open the registry"):
        SqliteRegistry(bad)
