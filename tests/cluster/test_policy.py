"""The placement policy: requirements -> Dask worker resources (no cluster needed)."""

import pytest
from fmitwin.placement import (
    GiB,
    PlacementPolicy,
    Requirements,
    resources_argument,
    worker_resources,
)


def test_realtime_runs_at_the_edge_heavy_work_in_the_cloud_the_rest_on_the_fog():
    policy = PlacementPolicy()
    assert policy.resources(Requirements(latency="realtime")) == {"edge": 1.0}
    assert policy.resources(Requirements(latency="interactive", cores=2)) == {"fog": 2.0}
    assert policy.resources(Requirements()) == {"fog": 1.0}
    assert policy.resources(Requirements(gpus=1)) == {"cloud": 1.0, "GPU": 1.0}
    assert policy.resources(Requirements(memory="32 GiB")) == {
        "cloud": 1.0,
        "MEMORY": float(32 * GiB),
    }
    assert policy.resources(Requirements(memory=2 * GiB)) == {"fog": 1.0, "MEMORY": 2.0 * GiB}
    # real-time work stays at the edge, where it then needs a GPU
    assert policy.resources(Requirements(latency="realtime", gpus=1)) == {"edge": 1.0, "GPU": 1.0}
    assert policy.resources(Requirements(latency="realtime", site="plant-a")) == {
        "edge": 1.0,
        "site:plant-a": 1.0,
    }


def test_the_user_overrides_the_policy_or_a_tasks_tier():
    assert PlacementPolicy().tier(Requirements(tier="cloud")) == "cloud"
    mine = PlacementPolicy(
        tiers={"realtime": "edge", "interactive": "fog", "batch": "cloud"}, large_memory=GiB
    )
    assert mine.tier(Requirements()) == "cloud"
    assert mine.tier(Requirements(latency="interactive", memory="2 GiB")) == "cloud"
    with pytest.raises(ValueError, match=r"policy: .* missing \['batch'\]"):
        PlacementPolicy(tiers={"realtime": "edge", "interactive": "fog"})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"latency": "soon"}, "latency must be one of realtime, interactive, batch, got 'soon'"),
        ({"memory": "lots"}, "memory 'lots' is not a size"),
        ({"memory": -1}, "memory must be a non-negative size"),
        ({"cores": 0}, "cores must be a whole number >= 1"),
        ({"gpus": 0.5}, "gpus must be a whole number >= 0"),
        ({"site": "plant a"}, "site must be a name without spaces"),
        ({"tier": "mist"}, "tier must be one of edge, fog, cloud"),
    ],
)
def test_bad_requirements_are_refused(given, message):
    with pytest.raises(ValueError, match=message):
        Requirements(**given)


def test_worker_resources_as_the_dask_worker_command_takes_them():
    offer = worker_resources("cloud", 4, site="central", gpus=1, memory="64 GiB")
    assert offer == {"cloud": 4.0, "site:central": 4.0, "GPU": 1.0, "MEMORY": 64.0 * GiB}
    assert resources_argument(offer) == "cloud=4 site:central=4 GPU=1 MEMORY=68719476736"
