"""A model-exchange FMU as the Extended Kalman Filter's process and measurement models.

``fmu_models(fmu, measurements=[...], parameters=[...])`` instantiates the FMU for model exchange
and returns :class:`FmuModels`: an :class:`FmuProcessModel` and an :class:`FmuMeasurementModel`
(C++ models deriving from ``_core.ProcessModel`` / ``_core.MeasurementModel``) sharing that one
instance, with the names and initial values of the EKF state

    x = [continuous states of the FMU (model-description order); augmented parameters]  (n,)

Predict integrates the FMU natively over dt, with F = d x_next / d x from the variational
equation (directional derivatives when the FMU provides them, else central differences); the
measurement function is z = h(x, u) = the chosen FMU variables, with H = dz/dx. Augmented
parameters are tunable real parameters with dp/dt = 0, estimated jointly with the states.

Events inside dt (state events, time events) are located as :func:`fmitwin.simulate` locates
them: the FMU's reset is applied at the event and integration continues to t + dt. The EKF's F
then is the Jacobian of that whole map, events included (central differences of the flow along
each state and parameter, which carries the saltation matrix of the event), so a parameter that
acts only at events, e.g. a restitution coefficient, is observable and estimated. The EKF needs
the FMU to save its state (canGetAndSetFMUstate) for a step that meets an event, and the UKF
for every step; an FMU that cannot is refused with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fmitwin import _core
from fmitwin.fmi_types import with_article
from fmitwin.fmu import FmuError, FmuInstance, FmuModel, load_fmu

_JACOBIANS = ("auto", "directional", "finite_difference")


class FmuProcessModel(_core.FmuProcessModel):
    """x_next = f(x, u, dt) integrated by the FMU's native solver; keeps the FMU instance alive."""

    def __init__(self, core: Any, instance: FmuInstance):
        super().__init__(core)
        self.instance = instance


class FmuMeasurementModel(_core.FmuMeasurementModel):
    """z = h(x, u) = chosen FMU variables; keeps the FMU instance alive."""

    def __init__(self, core: Any, instance: FmuInstance):
        super().__init__(core)
        self.instance = instance


@dataclass(frozen=True)
class FmuModels:
    """The process and measurement models of one FMU instance, and the EKF state they define."""

    process: FmuProcessModel
    measurement: FmuMeasurementModel
    state_names: tuple[str, ...]
    input_names: tuple[str, ...]
    measurement_names: tuple[str, ...]
    x0: NDArray[np.float64]  # states after initialization, then the parameters' values
    jacobian: str  # "directional" or "finite_difference"

    def filter(self, *, unscented: bool = False, **kwargs: Any) -> Any:
        """An ``ExtendedKalmanFilter`` (or, with ``unscented=True``, an ``UnscentedKalmanFilter``)
        on these models, x0 and names filled in; pass P0, Q, R and the filter's other options."""
        from fmitwin.filters import ExtendedKalmanFilter, UnscentedKalmanFilter

        kwargs.setdefault("x0", self.x0)
        kind = UnscentedKalmanFilter if unscented else ExtendedKalmanFilter
        return kind(
            len(self.state_names),
            len(self.measurement_names),
            process_model=self.process,
            measurement_model=self.measurement,
            state_names=list(self.state_names),
            measurement_names=list(self.measurement_names),
            **kwargs,
        )


def _real_variables(model: FmuModel, names: Sequence[str], argument: str) -> list[Any]:
    if isinstance(names, str):
        raise TypeError(f"{argument}: give a list of variable names, not a single string")
    variables = [model.variable(name, argument=argument) for name in names]
    for v in variables:
        if v.is_array:
            raise TypeError(f"{argument}: {v.name} is an array; the filter takes scalar variables")
        if v.kind != "real":
            raise TypeError(
                f"{argument}: {v.name} is {v.type}; only floating-point variables (Float64, "
                "Float32, FMI 2 Real) can be used"
            )
    return variables


def fmu_models(
    fmu: FmuModel | str | os.PathLike[str],
    *,
    measurements: Sequence[str],
    inputs: Sequence[str] | None = None,
    parameters: Sequence[str] = (),
    jacobian: str = "auto",
    solver: str = "rk4",
    step: float = 0.0,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    start_values: Mapping[str, Any] | None = None,
    start_time: float = 0.0,
) -> FmuModels:
    """Builds the FMU-backed process and measurement models for one filter.

    measurements: FMU variables making up z (outputs or states).
    inputs: FMU inputs making up u, held constant over each predict (default: all inputs).
    parameters: tunable real parameters appended to the state for joint estimation.
    jacobian: "directional" (fmi*GetDirectionalDerivative), "finite_difference", or "auto"
        (directional when the FMU provides it).
    solver, step, rtol, atol: integration over each predict: "rk4" with substeps of at most
        ``step`` (0: one RK4 step per predict) or "dopri45" (adaptive; ``step`` the largest).
    start_values: set before/inside initialization, as in :func:`fmitwin.simulate`.
    """
    model = fmu if isinstance(fmu, FmuModel) else load_fmu(fmu)
    if "me" not in model.kinds:
        raise FmuError(
            f"{model.path}: the FMU-backed EKF needs model exchange (it integrates the FMU "
            "itself), but this FMU only offers co-simulation. Re-export it with model exchange."
        )
    if jacobian not in _JACOBIANS:
        raise ValueError(f"jacobian: expected one of {', '.join(_JACOBIANS)}, got {jacobian!r}")
    if not model.states:
        raise FmuError(f"{model.path}: the FMU has no continuous states to estimate")
    arrays = [s.name for s in model.states if s.is_array]
    if arrays:
        raise FmuError(
            f"{model.path}: the states {', '.join(arrays)} are arrays; the FMU-backed filters "
            "take scalar states only (simulate() handles array states)"
        )
    z_vars = _real_variables(model, measurements, "measurements")
    if not z_vars:
        raise ValueError("measurements: name at least one FMU variable to measure")
    u_vars = _real_variables(
        model, [v.name for v in model.inputs] if inputs is None else inputs, "inputs"
    )
    for v in u_vars:
        if v.causality != "input":
            raise ValueError(
                f"inputs: {v.name} is {with_article(v.causality)} variable, not an input"
            )
    p_vars = _real_variables(model, parameters, "parameters")
    for v in p_vars:
        if v.causality != "parameter" or v.variability != "tunable":
            raise ValueError(
                f"parameters: {v.name} is a {v.variability} {v.causality}; only tunable "
                "parameters can be estimated (FMI fixes the others at initialization)"
            )
    capable = model.capabilities["me"].provides_directional_derivatives
    if jacobian == "auto":
        jacobian = "directional" if capable else "finite_difference"
    elif jacobian == "directional" and not capable:
        raise FmuError(
            f"{model.path}: jacobian='directional' but the FMU does not provide directional "
            "derivatives; use jacobian='finite_difference' (or 'auto')"
        )

    instance = model.instantiate("me", start_values=start_values)
    try:
        instance.simulator.configure_solver(solver, rtol, atol, step)
        instance.initialize(start_time, float("inf"), start_values=start_values)
        core = _core.FmuEstimationCore(
            instance.simulator,
            [v.value_reference for v in model.states],
            [v.value_reference for v in model.derivatives],
            [v.value_reference for v in u_vars],
            [v.value_reference for v in p_vars],
            [v.value_reference for v in z_vars],
            jacobian,
        )
    except BaseException:
        instance.free()
        raise
    p0 = instance.simulator.get_real(np.array([v.value_reference for v in p_vars], np.uint32))
    x0 = np.concatenate([instance.simulator.states, p0])
    return FmuModels(
        process=FmuProcessModel(core, instance),
        measurement=FmuMeasurementModel(core, instance),
        state_names=tuple(v.name for v in [*model.states, *p_vars]),
        input_names=tuple(v.name for v in u_vars),
        measurement_names=tuple(v.name for v in z_vars),
        x0=x0,
        jacobian=jacobian,
    )
