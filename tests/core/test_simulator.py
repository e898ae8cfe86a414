"""The compiled simulators as master algorithms use them: the _core.Simulator interface."""

from __future__ import annotations

import threading

import fmitwin
import fmitwin.models
import numpy as np
import pytest
from fmitwin import _core

VERSIONS = pytest.mark.parametrize("version", [2, 3], ids=["fmi2", "fmi3"])


def _vr(model, *names):
    return np.array([model.variable(n).value_reference for n in names], dtype=np.uint32)


@VERSIONS
@pytest.mark.parametrize("kind", ["cs", "me"])
def test_simulator_steps_saves_and_restores(version, kind):
    model = fmitwin.load_fmu(fmitwin.models.path("heated_tank", version))
    instance = model.instantiate(kind)
    sim = instance.simulator
    assert isinstance(sim, _core.Simulator) and sim._fmu_owner is instance
    sim.setup(0.0, 1e4)
    sim.set_real(_vr(model, "P_heater"), [2000.0])
    assert sim.do_step(0.0, 60.0)
    assert sim.can_save_state
    saved = sim.save_state()
    first = [sim.do_step(60.0 * k, 60.0) and sim.get_real(_vr(model, "T"))[0] for k in (1, 2, 3)]
    sim.restore_state(saved)
    again = [sim.do_step(60.0 * k, 60.0) and sim.get_real(_vr(model, "T"))[0] for k in (1, 2, 3)]
    assert first == again and first[0] < first[1] < first[2]
    with pytest.raises(ValueError, match="got 1 value references but 2 values"):
        sim.set_real(_vr(model, "P_heater"), [1.0, 2.0])
    instance.free()


def test_model_exchange_refuses_to_step_from_another_time():
    model = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 2))
    sim = model.instantiate("me").simulator
    sim.setup(0.0, 100.0)
    with pytest.raises(ValueError, match="restore a saved state to go back"):
        sim.do_step(50.0, 1.0)


def test_fmu_errors_name_the_function_and_status():
    model = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 2))
    instance = model.instantiate("cs")
    sim = instance.simulator
    sim.setup(0.0, 100.0)
    with pytest.raises(_core.FmuError, match="fmi2SetReal returned Error"):
        sim.set_real(_vr(model, "m"), [-5.0])  # a fixed-range parameter after initialization
    assert any("Cannot set 'm'" in line for line in instance.log)


def test_runs_release_the_gil():
    """Two simulations in two threads both finish, and a Python thread keeps running meanwhile
    (a run holding the GIL would starve it)."""
    path = fmitwin.models.path("heated_tank", 2)
    results, ticks, done = [], [], threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    def run():
        results.append(fmitwin.simulate(path, 2e5, 1.0, kind="cs"))

    tick = threading.Thread(target=ticker)
    tick.start()
    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    tick.join()
    assert len(results) == 2 and np.array_equal(results[0]["T"], results[1]["T"])
    assert len(ticks) > 1


def test_freed_instance_is_refused_not_crashed():
    import gc
    import weakref

    model = fmitwin.load_fmu(fmitwin.models.path("heated_tank", 3))
    instance = model.instantiate("cs")
    sim = instance.simulator
    sim.setup(0.0, 100.0)
    saved = sim.save_state()
    instance.free()
    with pytest.raises(_core.FmuError, match="has been freed"):
        sim.do_step(0.0, 1.0)
    del saved  # freeing a state of a freed instance does nothing
    # Without explicit free, dropping the simulator frees the instance (no reference cycle).
    other = model.instantiate("cs")
    alive = weakref.ref(other)
    access = other.simulator.fmu_access
    del other
    gc.collect()
    assert alive() is None and access.released
