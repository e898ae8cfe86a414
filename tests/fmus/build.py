"""Builds the test-only FMUs of tests/fmus/ (C source + model description) with the system C
compiler, against the FMI headers FMPy ships."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import fmpy

SOURCES = Path(__file__).parent


def build_fmu(name: str, fmi_version: int, directory: Path) -> Path:
    """Compiles tests/fmus/<name>.c and zips it with <name>.xml into directory/<name>.fmu.

    Floating-point contraction is off so that the FMU's float32 arithmetic is exactly the
    IEEE operations the tests recompute with numpy.
    """
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise RuntimeError("a C compiler (cc) is needed to build the test FMUs")
    library = directory / f"{name}{fmpy.sharedLibraryExtension}"
    headers = Path(fmpy.__file__).parent / "c-code"
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O2",
            "-ffp-contract=off",
            f"-I{headers}",
            str(SOURCES / f"{name}.c"),
            "-o",
            str(library),
            "-lm",
        ],
        check=True,
    )
    platform = fmpy.platform if fmi_version == 2 else fmpy.platform_tuple
    fmu = directory / f"{name}.fmu"
    with zipfile.ZipFile(fmu, "w") as archive:
        archive.write(SOURCES / f"{name}.xml", "modelDescription.xml")
        archive.write(library, f"binaries/{platform}/{library.name}")
    return fmu


def description_only_fmu(name: str, directory: Path) -> Path:
    """directory/<name>.fmu holding tests/fmus/<name>.xml and nothing else (for describing an
    FMU, e.g. one whose interface fmitwin does not run)."""
    fmu = directory / f"{name}.fmu"
    with zipfile.ZipFile(fmu, "w") as archive:
        archive.write(SOURCES / f"{name}.xml", "modelDescription.xml")
    return fmu
