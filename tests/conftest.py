"""Fixtures shared across the suite: the bundled heated tank in both FMI versions, and the
test-only FMUs of tests/fmus/, compiled once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fmitwin
import fmitwin.models
import pytest
from fmus.build import build_fmu


@pytest.fixture(scope="session")
def test_fmu(tmp_path_factory) -> Callable[[str, int], Path]:
    """test_fmu(name, fmi_version) -> the .fmu built from tests/fmus/<name>.c (cached)."""
    built: dict[tuple[str, int], Path] = {}

    def build(name: str, fmi_version: int = 2) -> Path:
        key = (name, fmi_version)
        if key not in built:
            directory = tmp_path_factory.mktemp(f"{name}-fmi{fmi_version}")
            built[key] = build_fmu(name, fmi_version, directory)
        return built[key]

    return build


@pytest.fixture(scope="module", params=[2, 3], ids=["fmi2", "fmi3"])
def tank(request) -> fmitwin.FmuModel:
    """The bundled heated tank, loaded, once per FMI version."""
    return fmitwin.load_fmu(fmitwin.models.path("heated_tank", request.param))
