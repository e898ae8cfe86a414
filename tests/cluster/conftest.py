"""The tiered Dask cluster of support/dask_cluster.py, started once per test module."""

from __future__ import annotations

import pytest
from distributed import Client
from support.dask_cluster import WORKERS, tiered_cluster


@pytest.fixture(scope="module")
def cluster():
    with tiered_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as connected:
        connected.wait_for_workers(len(WORKERS), timeout=60)
        yield connected
