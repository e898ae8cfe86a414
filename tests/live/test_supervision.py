"""A failing model step never stops the twin: an FMU that returns fmi2Error, or a NaN
derivative, is a model_error event; the filter is rebuilt and re-initialised from the latest
good readings; health says model_error until an update succeeds; the history records it all and
is closed with twin_stopped. Driven by a CSV replay through the real gateway and FMU."""

import math

import numpy as np
import pytest
from fmitwin.live.config import parse_config
from fmitwin.live.history import recorded_estimates, recorded_events
from fmitwin.live.twin import Twin

TWIN = """
[twin]
name = "faulty"

[model]
fmu = "{fmu}"
states = ["x"]
inputs = ["u"]
step = 0.05

[filter]
x0 = {{ x = 0.0 }}
P0 = {{ x = 1.0 }}
Q = {{ x = 0.01 }}

[csv]
path = "readings.csv"
speed = 4  # 2 s of wall time: published health can be watched

[sensors.x]
variable = "x"
source = "csv"
unit = ""
range = [-10, 10]
rate = 10
noise = 0.05
stale_after = 1000

[sensors.u]
variable = "u"
source = "csv"
unit = ""
range = [-1e7, 1e7]
rate = 10
noise = 1
stale_after = 1000

[history]
path = "history.sqlite"
"""


def readings(fault: float) -> str:
    """x follows u = 1 (tau = 1 s); u is ``fault`` for t in [3, 4) s."""
    rows = ["ts,sensor,value"]
    for k in range(80):
        t = 1000.0 + 0.1 * k
        u = fault if 3.0 <= t - 1000.0 < 4.0 else 1.0
        rows.append(f"{t:.3f},u,{u}")
        rows.append(f"{t + 0.05:.3f},x,{1.0 - math.exp(-(t - 1000.0)):.6f}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("fault", [1e6, -1e6], ids=["fmi2Error", "NaN-derivative"])
async def test_a_failing_model_step_is_an_event_and_the_twin_recovers(test_fmu, tmp_path, fault):
    (tmp_path / "readings.csv").write_text(readings(fault))
    path = tmp_path / "twin.toml"
    path.write_text(TWIN.format(fmu=test_fmu("faulty", 2)))
    twin = Twin(parse_config(path.read_text(), path))
    healths = []
    publish = twin.publisher.publish

    async def watch(est):
        healths.append(est.health)
        await publish(est)

    twin.publisher.publish = watch
    await twin.run()  # the replay ends: the twin stops by itself, cleanly

    events = recorded_events(tmp_path / "history.sqlite")
    kinds = [e["kind"] for e in events]
    assert kinds.count("model_error") == 1  # one event for the whole fault, no storm
    assert kinds.count("model_recovered") == 1 and kinds[-1] == "twin_stopped"
    error = next(e for e in events if e["kind"] == "model_error")
    recovered = next(e for e in events if e["kind"] == "model_recovered")
    reason = error["reason"]
    assert "fmi2GetDerivatives returned Error" in reason or "non-finite" in reason
    assert 1003.0 <= error["t"] < 1003.2 and recovered["failures"] >= 5
    assert 0.9 < error["x"][0] < 1.0  # re-initialised from the latest good reading of x
    assert twin.sync.counters.model_errors == recovered["failures"]
    assert "model_error" in healths
    # back on track after the fault: the estimate follows x again, within 3 sigma
    final = twin.sync.estimate
    assert final.health != "model_error" and np.all(np.isfinite(final.x))
    assert abs(final.x[0] - (1.0 - math.exp(-7.95))) < 3 * final.sigma[0] + 0.05
    assert recorded_estimates(tmp_path / "history.sqlite")
