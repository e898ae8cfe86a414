"""Locate the physics FMUs bundled with fmitwin (built from ``models/`` by CMake at install time).

Each model ships as two FMUs, both offering model exchange and co-simulation: ``<name>.fmu``
(FMI 2.0) and ``<name>_fmi3.fmu`` (FMI 3.0). They are installed in the package's ``models/``
folder::

    >>> import fmitwin.models
    >>> fmitwin.models.available()
    ['centrifugal_pump', 'dc_motor', 'heated_tank']
    >>> fmitwin.models.path("heated_tank", fmi_version=3).name
    'heated_tank_fmi3.fmu'
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import fmitwin

FMI_VERSIONS = (2, 3)
_FMI3_SUFFIX = "_fmi3"


def _model_directories() -> list[Path]:
    # An editable install spreads the package over the source tree and site-packages.
    return [Path(entry) / "models" for entry in fmitwin.__path__]


def _bundled_files() -> dict[str, Path]:
    """File name -> path of every bundled FMU (the first directory holding a name wins)."""
    files: dict[str, Path] = {}
    for directory in _model_directories():
        if directory.is_dir():
            for fmu in sorted(directory.glob("*.fmu")):
                files.setdefault(fmu.name, fmu)
    return files


def available() -> list[str]:
    """Names of the bundled models (sorted), each usable with :func:`path`."""
    names = {name.removesuffix(".fmu").removesuffix(_FMI3_SUFFIX) for name in _bundled_files()}
    return sorted(names)


def path(name: str, fmi_version: int = 2) -> Path:
    """Path of the bundled model ``name`` as an FMI 2.0 (``fmi_version=2``) or 3.0 FMU.

    Raises ``ValueError`` for an unknown name (listing the closest bundled names) or FMI version,
    and ``FileNotFoundError`` when no FMUs were installed with the package.
    """
    if fmi_version not in FMI_VERSIONS:
        raise ValueError(f"fmi_version={fmi_version!r} is not supported: use 2 or 3")
    files = _bundled_files()
    if not files:
        searched = ", ".join(str(d) for d in _model_directories())
        raise FileNotFoundError(
            f"No bundled FMUs found (searched {searched}): the package was installed without its "
            "models; reinstall fmitwin with 'pip install .' so that CMake builds them"
        )
    names = available()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"No bundled model named {name!r}: {hint}bundled models: {', '.join(names)}"
        )
    filename = f"{name}{_FMI3_SUFFIX if fmi_version == 3 else ''}.fmu"
    if filename not in files:
        raise FileNotFoundError(
            f"The bundled model {name!r} has no FMI {fmi_version} FMU ({filename}): "
            "reinstall fmitwin"
        )
    return files[filename]


def resolve(fmu: str | os.PathLike[str]) -> Path:
    """``fmu`` as a path when it names an existing file or directory, else the bundled model of
    that name (FMI 2.0), so that wherever an FMU path is asked for, ``"heated_tank"`` works too.

    Raises ``FileNotFoundError`` naming the path and the bundled models when it is neither.
    """
    given = Path(fmu)
    if given.exists():
        return given
    if str(fmu) in available():
        return path(str(fmu))
    bundled = ", ".join(available()) or "none installed"
    raise FileNotFoundError(
        f"{given}: no such FMU file or directory, nor a bundled model (bundled: {bundled})"
    )
