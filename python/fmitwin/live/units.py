"""Sensor units against the model's: each sensor's readings are mapped into the unit of the FMU
variable it measures, ``value_model = scale * value_sensor + offset`` (pint does the
conversion, so affine units such as degC work), or refused when the units cannot be converted.

A sensor's ``range`` and ``noise`` stay in the sensor's unit (the gateway checks the range
before converting; the filter's R uses ``|scale| * noise``). A sensor without a unit, or a
variable without one in the FMU, is taken as it comes.

Published units (OPC UA ``EngineeringUnits``) are UN/CEFACT EUInformation: :func:`cefact_code`
finds a unit's common code (UN/ECE Recommendation 20) in :data:`CEFACT_CODES`, keyed by the unit
as pint normalises it, so ``K``, ``kelvin`` and a Modelica ``W/(m.K)`` or ``m3/s`` all match;
a unit not in the table is published with UnitId -1 and its name.
"""

from __future__ import annotations

import math
import re
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


#: UN/CEFACT common codes of the units a twin commonly publishes, keyed by a unit pint parses.
CEFACT_CODES = {
    "1": "C62",  # one (dimensionless)
    "percent": "P1",
    "K": "KEL",
    "degC": "CEL",
    "degF": "FAH",
    "m": "MTR",
    "mm": "MMT",
    "cm": "CMT",
    "km": "KMT",
    "m**2": "MTK",
    "m**3": "MTQ",
    "l": "LTR",
    "s": "SEC",
    "ms": "C26",
    "min": "MIN",
    "h": "HUR",
    "Hz": "HTZ",
    "kg": "KGM",
    "g": "GRM",
    "mol": "C34",
    "Pa": "PAL",
    "kPa": "KPA",
    "MPa": "MPA",
    "bar": "BAR",
    "mbar": "MBR",
    "N": "NEW",
    "N*m": "NU",
    "J": "JOU",
    "kJ": "KJO",
    "W": "WTT",
    "kW": "KWT",
    "MW": "MAW",
    "kW*h": "KWH",
    "V": "VLT",
    "A": "AMP",
    "ohm": "OHM",
    "rad": "C81",
    "deg": "DD",
    "rad/s": "2A",
    "m/s": "MTS",
    "m/s**2": "MSK",
    "km/h": "KMH",
    "m**3/s": "MQS",
    "m**3/h": "MQH",
    "kg/s": "KGS",
    "kg/m**3": "KMQ",
    "W/(m*K)": "D53",
    "J/(kg*K)": "B11",
}

_EXPONENT = re.compile(r"(?<=[A-Za-z])(-?\d+)")  # Modelica m3, s-1 -> m**3, s**-1


def parse_unit(unit: str) -> pint.Unit:
    """A unit string as pint understands it, Modelica's notation (``m3/s``, ``W/(m.K)``,
    ``s-1``) included; pint.UndefinedUnitError when it names no unit."""
    text = _EXPONENT.sub(r"**\1", unit.replace(".", "*"))
    return _registry().Unit(text)


@cache
def _codes() -> dict[pint.Unit, str]:
    return {parse_unit(unit): code for unit, code in CEFACT_CODES.items()}


def cefact_code(unit: str) -> str:
    """The UN/CEFACT common code of ``unit`` ("" when unknown, or for no unit)."""
    if not unit:
        return ""
    try:
        return _codes().get(parse_unit(unit), "")
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, SyntaxError):
        return ""  # a unit pint cannot read is published by its name


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
        md = fmpy.read_model_description(str(_fmu(config)))
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
        metadata[state] = StateMetadata(unit, low, high, cefact_code(unit))
    return metadata


def residual_metadata(config: TwinConfig) -> dict[str, StateMetadata]:
    """The unit of each measurement sensor's residual (reading minus prediction, in the unit of
    the FMU variable it measures, else the sensor's unit), range unbounded; its sigma has the
    same unit (:meth:`StateMetadata.sigma`), its NIS is dimensionless
    (:data:`fmitwin.live.publish.DIMENSIONLESS`)."""
    units = fmu_units(_fmu(config)) if config.model.process == "fmu" else {}
    out = {}
    for s in config.measurement_sensors:
        unit = units.get(s.variable, "") or s.unit or ""
        out[s.name] = StateMetadata(unit, code=cefact_code(unit))
    return out


def _fmu(config: TwinConfig):
    from fmitwin.live.twin import resolve_fmu

    return resolve_fmu(config)


def unit_maps(config: TwinConfig) -> UnitMaps:
    """The conversion of every sensor whose unit differs from its FMU variable's; a ConfigError
    at the sensor's ``unit`` when the two cannot be converted."""
    if config.model.process != "fmu":
        return {}
    path = _fmu(config)
    units = fmu_units(path)
    ureg = _registry()
    maps: UnitMaps = {}
    for s in config.sensors.values():
        model_unit = units.get(s.variable, "")
        if not s.unit or not model_unit or s.unit == model_unit:
            continue
        key = f"sensors.{s.name}.unit"
        try:
            sensor_unit, target = parse_unit(s.unit), parse_unit(model_unit)
            low = ureg.Quantity(0.0, sensor_unit).to(target).magnitude
            high = ureg.Quantity(1.0, sensor_unit).to(target).magnitude
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
