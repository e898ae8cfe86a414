"""Sensor units against the model's: each sensor's readings are mapped into the unit of the FMU
variable it measures, ``value_model = scale * value_sensor + offset`` (pint does the
conversion, so affine units such as degC work), or refused when the units cannot be converted.

A sensor's ``range`` and ``noise`` stay in the sensor's unit (the gateway checks the range
before converting; the filter's R uses ``|scale| * noise``). A sensor without a unit, or a
variable without one in the FMU, is taken as it comes.
"""

from __future__ import annotations

import math
from functools import cache

import fmpy
import pint

from fmitwin.live.config import TwinConfig
from fmitwin.live.publish import StateMetadata

#: sensor -> (scale, offset) into the model variable's unit
UnitMaps = dict[str, tuple[float, float]]


@cache
def _registry() -> pint.UnitRegistry:
    return pint.UnitRegistry()


def _declared(v, attribute: str):
    return getattr(v, attribute, None) or getattr(getattr(v, "declaredType", None), attribute, None)


def fmu_units(path) -> dict[str, str]:
    """Variable name -> declared unit ("" when none) of an FMU."""
    md = fmpy.read_model_description(str(path))
    return {v.name: _declared(v, "unit") or "" for v in md.modelVariables}


def state_metadata(config: TwinConfig) -> dict[str, StateMetadata]:
    """The unit and engineering range each estimated state is published with: the FMU
    variable's unit and min/max when it declares both, else the unit and range of a sensor
    measuring it (converted into the model's unit)."""
    declared: dict[str, tuple[str, float, float]] = {}
    if config.model.process == "fmu":
        from fmitwin.live.twin import resolve_fmu

        md = fmpy.read_model_description(str(resolve_fmu(config)))
        for v in md.modelVariables:
            low, high = (_declared(v, a) for a in ("min", "max"))
            declared[v.name] = (
                _declared(v, "unit") or "",
                -math.inf if low is None else float(low),
                math.inf if high is None else float(high),
            )
    maps = unit_maps(config)
    metadata = {}
    for state in config.filter.estimated(config.model):
        unit, low, high = declared.get(state, ("", -math.inf, math.inf))
        for s in config.measurement_sensors:
            if s.variable != state:
                continue
            scale, offset = maps.get(s.name, (1.0, 0.0))
            ends = sorted(scale * r + offset for r in s.range)
            unit = unit or s.unit or ""
            if not (math.isfinite(low) and math.isfinite(high)):
                low, high = ends
            break
        metadata[state] = StateMetadata(unit, low, high)
    return metadata


def unit_maps(config: TwinConfig) -> UnitMaps:
    """The conversion of every sensor whose unit differs from its FMU variable's; a ConfigError
    at the sensor's ``unit`` when the two cannot be converted."""
    if config.model.process != "fmu":
        return {}
    from fmitwin.live.twin import resolve_fmu

    path = resolve_fmu(config)
    units = fmu_units(path)
    ureg = _registry()
    maps: UnitMaps = {}
    for s in config.sensors.values():
        model_unit = units.get(s.variable, "")
        if not s.unit or not model_unit or s.unit == model_unit:
            continue
        key = f"sensors.{s.name}.unit"
        try:
            low = ureg.Quantity(0.0, s.unit).to(model_unit).magnitude
            high = ureg.Quantity(1.0, s.unit).to(model_unit).magnitude
        except pint.UndefinedUnitError as exc:
            message = f"unknown unit: {exc}; use a unit such as K, degC, W, kW"
            raise config.error(key, message) from None
        except pint.DimensionalityError:
            raise config.error(
                key,
                f"{s.unit!r} cannot be converted to {model_unit!r}, the unit of {s.variable} in "
                f"{path.name}; give the sensor's unit of measure",
            ) from None
        maps[s.name] = (float(high - low), float(low))
    return maps
