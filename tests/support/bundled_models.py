"""Shared helpers for the bundled-model tests: raw FMI instances through FMPy, FMI 2 and 3 alike."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from ctypes import POINTER, byref, c_double
from pathlib import Path

import fmitwin.models
import numpy as np
from fmpy import extract, read_model_description
from fmpy.fmi2 import (
    FMU2Model,
    FMU2Slave,
    defaultCallbacks,
    fmi2CallbackFunctions,
    fmi2CallbackLoggerTYPE,
)
from fmpy.fmi3 import FMU3Model, FMU3Slave
from fmpy.logging import addLoggerProxy

MODELS = ("centrifugal_pump", "dc_motor", "heated_tank")

# Inputs away from their start values, where each model does something non-trivial.
OPERATING_POINTS = {
    "heated_tank": {"P_heater": 1500.0},
    "dc_motor": {"V": 120.0, "tau_load": 2.0},
    "centrifugal_pump": {"speed": 280.0, "valve": 0.55},
}
VERSIONS = (2, 3)


@functools.cache
def unpacked(name: str, fmi_version: int) -> tuple[Path, object]:
    """(extracted directory, model description) of a bundled FMU, extracted once per session."""
    fmu = fmitwin.models.path(name, fmi_version)
    return Path(extract(str(fmu))), read_model_description(str(fmu))


class Instance:
    """One initialized FMU instance with version-independent accessors by variable name."""

    def __init__(self, fmu, description, fmi_version: int, interface: str, messages: list[str]):
        self.fmu = fmu
        self.messages = messages
        self.description = description
        self.fmi_version = fmi_version
        self.interface = interface
        self.vr = {v.name: v.valueReference for v in description.modelVariables}
        self.states = [d.variable.derivative.name for d in description.derivatives]
        self.derivatives = [d.variable.name for d in description.derivatives]
        self.outputs = [o.variable.name for o in description.outputs]
        self.inputs = [v.name for v in description.modelVariables if v.causality == "input"]

    def get(self, *names: str) -> np.ndarray:
        refs = [self.vr[n] for n in names]
        values = self.fmu.getReal(refs) if self.fmi_version == 2 else self.fmu.getFloat64(refs)
        return np.array(values)

    def set(self, **values: float) -> None:
        refs = [self.vr[n] for n in values]
        if self.fmi_version == 2:
            self.fmu.setReal(refs, list(values.values()))
        else:
            self.fmu.setFloat64(refs, list(values.values()))

    def directional(self, unknowns: list[str], knowns: list[str], seed: list[float]) -> np.ndarray:
        u = [self.vr[n] for n in unknowns]
        k = [self.vr[n] for n in knowns]
        return np.array(self.fmu.getDirectionalDerivative(u, k, seed))

    def get_state(self):
        return self.fmu.getFMUstate() if self.fmi_version == 2 else self.fmu.getFMUState()

    def set_state(self, state) -> None:
        if self.fmi_version == 2:
            self.fmu.setFMUstate(state)
        else:
            self.fmu.setFMUState(state)

    def free_state(self, state) -> None:
        if self.fmi_version == 2:
            self.fmu.freeFMUstate(state)
        else:
            self.fmu.freeFMUState(state)

    def serialize(self, state) -> bytes:
        if self.fmi_version == 2:
            return self.fmu.serializeFMUstate(state)
        return self.fmu.serializeFMUState(state)

    def deserialize(self, data: bytes):
        if self.fmi_version == 2:
            return self.fmu.deSerializeFMUstate(data)
        return self.fmu.deserializeFMUState(data)

    def set_continuous_states(self, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x, dtype=float)
        self.fmu.setContinuousStates(x.ctypes.data_as(POINTER(c_double)), len(x))

    def get_derivatives(self) -> np.ndarray:
        dx = np.zeros(len(self.states))
        getter = (
            self.fmu.getDerivatives
            if self.fmi_version == 2
            else self.fmu.getContinuousStateDerivatives
        )
        getter(dx.ctypes.data_as(POINTER(c_double)), len(dx))
        return dx


def instantiate(
    name: str, fmi_version: int, interface: str = "ModelExchange", guid: str | None = None
) -> tuple[object, list[str]]:
    """A raw FMPy FMU object of a bundled model, instantiated with a logger that collects the
    FMU's messages into the returned list (``guid`` overrides the model description's)."""
    directory, description = unpacked(name, fmi_version)
    classes = {
        (2, "ModelExchange"): FMU2Model,
        (2, "CoSimulation"): FMU2Slave,
        (3, "ModelExchange"): FMU3Model,
        (3, "CoSimulation"): FMU3Slave,
    }
    kind = description.modelExchange if interface == "ModelExchange" else description.coSimulation
    fmu = classes[fmi_version, interface](
        guid=guid or description.guid,
        unzipDirectory=str(directory),
        modelIdentifier=kind.modelIdentifier,
        instanceName=f"{name}_test",
    )
    messages: list[str] = []
    if fmi_version == 2:

        def logger(environment, instance_name, status, category, message):
            messages.append(message.decode())

        callbacks = fmi2CallbackFunctions()
        callbacks.logger = fmi2CallbackLoggerTYPE(logger)
        callbacks.allocateMemory = defaultCallbacks.allocateMemory
        callbacks.freeMemory = defaultCallbacks.freeMemory
        addLoggerProxy(byref(callbacks))  # FMPy's C shim that formats the printf-style message
        fmu.instantiate(callbacks=callbacks)
    else:

        def log_message(environment, status, category, message):
            messages.append(message.decode())

        fmu.instantiate(logMessage=log_message)
    return fmu, messages


@contextlib.contextmanager
def instance(
    name: str,
    fmi_version: int,
    interface: str = "ModelExchange",
    start_values: dict[str, float] | None = None,
    start_time: float = 0.0,
) -> Iterator[Instance]:
    """An instance of a bundled FMU, initialized (start values applied) and ready to run.

    Model exchange instances are left in event mode, co-simulation instances in step mode.
    """
    fmu, messages = instantiate(name, fmi_version, interface)
    inst = Instance(fmu, unpacked(name, fmi_version)[1], fmi_version, interface, messages)
    try:
        if fmi_version == 2:
            fmu.setupExperiment(startTime=start_time)
            fmu.enterInitializationMode()
        else:
            fmu.enterInitializationMode(startTime=start_time)
        if start_values:
            inst.set(**start_values)
        fmu.exitInitializationMode()
        if interface == "ModelExchange":
            fmu.newDiscreteStates() if fmi_version == 2 else fmu.updateDiscreteStates()
        yield inst
    finally:
        fmu.freeInstance()
