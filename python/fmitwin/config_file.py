"""TOML files checked key by key: every error is ``file:line: [key] message`` and the fix.

The twin file (``fmitwin.live.config``), the fleet file (``fmitwin.fleet.config``) and the study
file (``fmitwin.study``) are read through :class:`Section`, which types each value, names the
line of the key, and refuses keys nobody asked for (a typo must not fall back to a default).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A problem in a checked TOML file (twin, fleet, study): ``file:line: [key] message``."""

    def __init__(self, file: str, line: int | None, key: str, message: str) -> None:
        self.file, self.line, self.key, self.message = file, line, key, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: [{key}] {message}")


# ---------------------------------------------------------------------------------------------
# Line numbers: tomllib gives none for values, so keys are located in the text.

_KEY_PART = r'(?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_KEY_RE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_TABLE_RE = re.compile(rf"^\s*(\[\[?)\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\]?")
_INLINE_KEY_RE = re.compile(rf"[{{,]\s*({_KEY_PART})\s*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _strip_strings(line: str) -> str:
    """The line with string contents and comments removed (for bracket counting)."""
    line = re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', '""', line)
    return line.split("#", 1)[0]


def locate_keys(text: str) -> dict[tuple[str, ...], int]:
    """Map every key path (array-of-tables elements indexed) to its 1-based line number."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    array_counts: dict[tuple[str, ...], int] = {}
    depth = 0  # open brackets of a multi-line value
    for number, raw in enumerate(text.splitlines(), start=1):
        code = _strip_strings(raw)
        if depth > 0:
            depth += code.count("[") + code.count("{") - code.count("]") - code.count("}")
            continue
        if match := _TABLE_RE.match(raw):
            path = _split_key(match.group(2))
            if match.group(1) == "[[":
                index = array_counts.get(path, 0)
                array_counts[path] = index + 1
                path = (*path, str(index))
            table = path
            for i in range(1, len(path) + 1):
                lines.setdefault(path[:i], number)
            continue
        if match := _KEY_RE.match(raw):
            path = (*table, *_split_key(match.group(1)))
            lines.setdefault(path, number)
            value = raw[match.end() :]
            for inner in _INLINE_KEY_RE.finditer(_strip_strings(value)):
                lines.setdefault((*path, *_split_key(inner.group(1))), number)
            depth = code.count("[") + code.count("{") - code.count("]") - code.count("}")
    return lines


class Section:
    """Typed access to one table of the file, raising ConfigError with the line of the key."""

    def __init__(self, file: str, lines: dict, path: tuple[str, ...], data: dict) -> None:
        self.file, self._lines, self.path, self.data = file, lines, path, data
        self._used: set[str] = set()

    def where(self, *keys: str) -> tuple[str, int | None]:
        """(file, line) of the key; a line map entry may name its own file as ``(file, line)``
        (a fleet file's per-asset override of a template's key)."""
        path = (*self.path, *keys)
        while path:
            if path in self._lines:
                found = self._lines[path]
                return found if isinstance(found, tuple) else (self.file, found)
            path = path[:-1]
        return self.file, None

    def line(self, *keys: str) -> int | None:
        return self.where(*keys)[1]

    def error(self, key: str | None, message: str, *subkeys: str) -> ConfigError:
        """The error for ``key`` (and nested ``subkeys``, e.g. an inline table's entry)."""
        keys = ((key,) if key else ()) + subkeys
        file, line = self.where(*keys)
        return ConfigError(file, line, ".".join((*self.path, *keys)), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, hint: str = ""):
        self._used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.error(key, f"required key is missing{hint and '; ' + hint}")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.error(key, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def number(self, key: str, default: Any = ..., *, positive=False, nonneg=False) -> float:
        value = self.get(key, float, default)
        if value is None:
            return value
        if not math.isfinite(value) or (positive and value <= 0) or (nonneg and value < 0):
            need = "a positive" if positive else "a non-negative" if nonneg else "a finite"
            raise self.error(key, f"expected {need} number, got {value!r}")
        return value

    def choice(self, key: str, options: Iterable[str], default: Any = ...) -> str:
        value = self.get(key, str, default)
        options = tuple(options)
        if value not in options:
            raise self.error(key, f"expected one of {', '.join(options)}; got {value!r}")
        return value

    def table(self, key: str, required: bool = False) -> Section | None:
        if key not in self.data:
            if required:
                raise self.error(key, "required table is missing")
            return None
        self.get(key, dict)
        return Section(self.file, self._lines, (*self.path, key), self.data[key])

    def tables(self) -> list[tuple[str, Section]]:
        """Every sub-table, in file order (scalar keys are left to get())."""
        return [(k, self.table(k)) for k, v in self.data.items() if isinstance(v, dict)]

    def finish(self) -> None:
        """Reject keys nobody asked for (typos)."""
        unknown = [k for k in self.data if k not in self._used]
        if unknown:
            known = ", ".join(sorted(self._used)) or "none"
            raise self.error(unknown[0], f"unknown key; this table accepts: {known}")

    def numbers_by_name(
        self, key: str, names: list[str], default: Any = ..., *, what: str = "a state of the model"
    ) -> dict[str, float]:
        """A ``{name = number}`` inline table whose keys must be in ``names`` (``what`` they are,
        for the error)."""
        table = self.get(key, dict, default)
        if table is None:
            return {}
        out = {}
        for name, value in table.items():
            if name not in names:
                raise self.error(key, f"not {what}; expected one of {', '.join(names)}", name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.error(key, f"expected a number, got {value!r}", name)
            if not math.isfinite(value):
                raise self.error(key, f"expected a finite number, got {value!r}", name)
            out[name] = float(value)
        return out


def parse_toml(text: str, path: str | Path) -> dict[str, Any]:
    """``tomllib.loads``, its syntax errors as ConfigError with the file and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise ConfigError(str(path), line, "", f"not valid TOML: {exc}") from exc


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
