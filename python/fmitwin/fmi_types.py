"""The FMI variable types: how each FMI 2.0 / 3.0 type is read and written, what value it takes.

One vocabulary for the whole library (``simulate``, ``System``, ``fmu_models``, the plant
simulator, the CLI's ``--set``):

* the *scalar type* a variable is read and written as: 'float64', 'float32', 'int8' ... 'uint64'
  or 'boolean' (FMI 2.0 Real is float64, Integer and Enumeration int32; FMI 3.0 Enumeration is
  int64), ``None`` for String, Binary and Clock variables, which no table drives or records;
* its compiled counterpart, ``fmitwin._core.ScalarType`` (``core_type``);
* the Python value a start value must be (``check_value``) and its range (``value_range_error``);
* how a value given as text (``--set k=0.5``) parses into that value (``parse_value``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from fmitwin import _core

if TYPE_CHECKING:
    from fmitwin.fmu import Variable

FLOATING = ("float64", "float32")

_FMI2_SCALAR_TYPES = {"Real": "float64", "Integer": "int32", "Enumeration": "int32"}
_FMI3_SCALAR_TYPES = {
    "Float64": "float64",
    "Float32": "float32",
    **{t: t.lower() for t in ("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32")},
    **{t: t.lower() for t in ("Int64", "UInt64")},
    "Enumeration": "int64",
}


def scalar_type(type_name: str, fmi_major: int) -> str | None:
    """The FMI type a variable of ``type_name`` is read and written as (numpy-style name, or
    'boolean'); None for String, Binary and Clock variables."""
    if type_name == "Boolean":
        return "boolean"
    return (_FMI2_SCALAR_TYPES if fmi_major == 2 else _FMI3_SCALAR_TYPES).get(type_name)


def value_kind(type_name: str) -> str:
    """The Python kind of an FMI type name: 'real', 'integer', 'boolean', 'string', 'binary' or
    'other' (Clock)."""
    if type_name in ("Real", "Float64", "Float32"):
        return "real"
    if type_name in ("Integer", "Enumeration") or type_name.startswith(("Int", "UInt")):
        return "integer"
    return {"Boolean": "boolean", "String": "string", "Binary": "binary"}.get(type_name, "other")


def access_kind(type_name: str, fmi_major: int) -> str:
    """How the compiled core's category calls reach a scalar variable of that type: 'real'
    (floating types: FMI 2 Real, FMI 3 Float64 and Float32), 'integer' (every integer type and
    Enumeration), 'boolean', or 'other' (String, Binary, Clock). The core's FMI 3 access layer
    calls each variable's own FMI function (FmuAccess::set_variable_types), so a System
    connection, a recorded column or an estimated quantity of any numeric type goes through
    the same three categories."""
    stype = scalar_type(type_name, fmi_major)
    return "other" if stype is None else record_buffer(stype)


def core_type(stype: str) -> Any:
    """The compiled core's ``ScalarType`` of that scalar type name."""
    return getattr(_core.ScalarType, stype)


def record_buffer(stype: str) -> str:
    """Where a run records a variable of that type: 'real' (float64 table), 'integer' (int64
    columns; UInt64 as its bit pattern) or 'boolean'."""
    if stype in FLOATING:
        return "real"
    return "boolean" if stype == "boolean" else "integer"


def column_dtype(stype: str) -> type:
    """A result column's dtype: Float32 widened to float64 (exact), integers as int64, UInt64
    as uint64 (every value exactly, none wraps), Booleans as bool."""
    if stype == "uint64":
        return np.uint64
    return {"real": np.float64, "integer": np.int64, "boolean": np.bool_}[record_buffer(stype)]


def is_continuous(variable: Variable) -> bool:
    """A floating-point variable that may change between events (interpolated when driven)."""
    return variable.scalar_type in FLOATING and variable.variability not in ("discrete", "tunable")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# kind -> (accepts(value), what it needs)
_VALUE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "real": (_is_number, "a number"),
    "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "boolean": (lambda v: isinstance(v, bool), "a bool"),
    "string": (lambda v: isinstance(v, str), "a str"),
}


def check_value(variable: Variable, value: Any, argument: str) -> Any:
    """``value`` as the plain Python scalar ``variable`` takes; raises TypeError naming the
    variable, its type and what it needs (Binary and Clock variables take no start values
    here), ValueError for a value outside the type's range."""
    if isinstance(value, np.generic):
        value = value.item()
    kind = value_kind(variable.type)
    where = f"{argument}[{variable.name!r}]"
    if kind not in _VALUE_CHECKS:
        raise TypeError(
            f"{where}: {variable.name} is {variable.type}; fmitwin sets numeric, Boolean and "
            f"String values only (leave {variable.name} at the FMU's own start value)"
        )
    accepts, needs = _VALUE_CHECKS[kind]
    if not accepts(value):
        raise TypeError(
            f"{where}: {variable.name} is {variable.type} and needs {needs}, got "
            f"{type(value).__name__} {value!r}"
        )
    problem = value_range_error(variable, value)
    if problem is not None:
        raise ValueError(f"{where}: {problem}")
    return value


def value_range_error(variable: Variable, value: Any) -> str | None:
    """Why ``value`` cannot be set exactly on ``variable`` (a whole number within an integer
    type's range; a Float32 value within its finite range), or None when it can."""
    stype = variable.scalar_type
    if stype == "float32":
        limit = float(np.finfo(np.float32).max)
        if abs(value) > limit and not (isinstance(value, float) and math.isinf(value)):
            return f"{variable.name} is Float32 (finite values up to +-{limit:.9g}); got {value!r}"
        return None
    if stype is None or stype in ("float64", "boolean"):
        return None
    info = np.iinfo(stype)
    kind = f"{variable.name} is {variable.type} ({stype}, range {info.min}..{info.max})"
    if isinstance(value, float):
        if not value.is_integer():
            return f"{kind} and takes whole numbers only; got {value!r}"
        value = int(value)  # compared exactly: float(2**64 - 1) would pass for a UInt64
    if not info.min <= value <= info.max:
        return f"{kind}; {value!r} is outside that range"
    return None


_TRUE, _FALSE = ("true", "1"), ("false", "0")


def parse_value(variable: Variable, text: str) -> Any:
    """The value ``text`` denotes for ``variable`` ("0.5" for a Real, "3" for an Integer,
    "true"/"false"/"1"/"0" for a Boolean, the text itself for a String); ValueError naming the
    variable, its type and the text otherwise."""
    kind = value_kind(variable.type)
    word = text.strip().lower()
    try:
        if kind == "boolean":
            if word not in _TRUE + _FALSE:
                raise ValueError(text)
            return word in _TRUE
        if kind == "integer":
            return int(text)
        if kind == "real":
            return float(text)
    except ValueError:
        raise ValueError(
            f"{variable.name} is {variable.type}; {text!r} is not {_VALUE_CHECKS[kind][1]}"
        ) from None
    return text


def parse_assignments(
    pairs: Iterable[str], variable: Callable[[str], Variable], argument: str = "--set"
) -> dict[str, Any]:
    """``{"name": value}`` from texts "name=value", each value parsed for the variable that
    ``variable(name)`` returns (e.g. ``FmuModel.variable`` or ``System.variable``)."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{argument}: expected NAME=VALUE, got {pair!r}")
        try:
            values[name] = parse_value(variable(name), text)
        except ValueError as exc:
            raise ValueError(f"{argument} {name}: {exc}") from None
    return values


def with_article(word: str) -> str:
    """``word`` with its indefinite article, for messages: "an input", "a parameter"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
