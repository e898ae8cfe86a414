"""The served replay fleet of the fleet tests."""

from __future__ import annotations

import pytest
from support.fleet_service import served_fleet


@pytest.fixture
def service(tmp_path):
    with served_fleet(tmp_path) as served:
        yield served
