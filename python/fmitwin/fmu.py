"""Load FMUs (FMI 2.0 / 3.0, co-simulation and model exchange) through FMPy and describe them.

``load_fmu(path)`` reads the model description and extracts the archive with FMPy, checks that this
platform can run it, and returns an :class:`FmuModel`: the variables, states, outputs, parameters,
default experiment and capabilities. ``FmuModel.instantiate()`` creates an FMPy instance and the
compiled simulator (``fmitwin._core.CoSimulation`` / ``ModelExchange``) that steps it from C++.
"""

from __future__ import annotations

import collections
import ctypes
import difflib
import logging as pylogging
import os
import shutil
import weakref
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

import fmpy
import numpy as np
from fmpy import fmi2, fmi3
from fmpy.fmi1 import FMICallException
from fmpy.model_description import ModelDescription

from fmitwin import _core
from fmitwin.archive import ArchiveError, ExtractionLimits, extract
from fmitwin.fmi_types import access_kind, check_value, core_type, scalar_type, value_kind

Kind = Literal["cs", "me"]

_KIND_NAMES = {"cs": "co-simulation", "me": "model exchange"}
_FMI2_LOG_STATUS = ("OK", "Warning", "Discard", "Error", "Fatal", "Pending")
_LOG_LEVELS = (
    pylogging.INFO,
    pylogging.WARNING,
    pylogging.WARNING,
    pylogging.ERROR,
    pylogging.CRITICAL,
    pylogging.INFO,
)
_LOGGER = pylogging.getLogger("fmitwin.fmu")
# The sink the compiled FMI 2 logger passes formatted messages to (see FmuInstance).
_FMI2_LOG_SINK = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p
)


# One exception for every FMU failure, whether Python (loading, checking) or the compiled core
# (stepping, estimation) finds it: catching fmitwin.FmuError catches both.
FmuError = _core.FmuError


@dataclass(frozen=True)
class Variable:
    """One model variable (a scalar, or an FMI 3.0 array) as declared in modelDescription.xml."""

    name: str
    value_reference: int
    type: str  # Real | Integer | Boolean | String | Enumeration (FMI 2); Float64 | Int32 ...
    causality: str
    variability: str
    initial: str | None
    unit: str | None
    start: Any = field(compare=False)  # an array start is a numpy array: not compared
    description: str | None
    # How the compiled core's category calls read and write it (fmi_types.access_kind): 'real'
    # (floating types), 'integer' (integer types, Enumeration), 'boolean', or 'other' (String,
    # Binary, Clock and arrays: not connected, recorded or driven through these calls).
    kind: str
    # The FMI type its value is read and written as ('float64', 'float32', 'int8' ... 'uint64',
    # 'boolean'; FMI 2 Integer/Enumeration and FMI 3 Enumeration are 'int32' and 'int64'), or
    # None for String, Binary and Clock variables (see scalar_type()).
    scalar_type: str | None = None
    # FMI 3.0 arrays: one entry per dimension, a fixed size or the name of the structural
    # parameter giving it; () for a scalar. ``shape`` is the array's shape with the structural
    # parameters at their start values (see FmuModel.shapes for other values).
    dimensions: tuple[int | str, ...] = ()
    shape: tuple[int, ...] = ()

    @property
    def is_array(self) -> bool:
        return bool(self.dimensions)


@dataclass(frozen=True)
class DefaultExperiment:
    start_time: float | None = None
    stop_time: float | None = None
    tolerance: float | None = None
    step_size: float | None = None


@dataclass(frozen=True)
class Capabilities:
    """What one interface of the FMU (co-simulation or model exchange) supports."""

    can_get_and_set_state: bool = False
    provides_directional_derivatives: bool = False
    can_handle_variable_step: bool = False


@dataclass(frozen=True)
class LoadOptions:
    """How ``load_fmu`` treated the file (kept for error messages and re-loading)."""

    compiled: bool = False
    platforms: tuple[str, ...] = field(default_factory=tuple)


def _dimensions(variable: Any) -> tuple[int | str, ...]:
    """An FMPy variable's dimensions: fixed sizes, or the names of structural parameters."""
    return tuple(
        int(d.start) if d.start is not None else d.variable.name
        for d in (getattr(variable, "dimensions", None) or ())
    )


def element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """The result columns of an array variable, row-major and 1-based: ``x[1]``, ``x[2]`` for
    shape (2,), ``A[1,1]``, ``A[1,2]`` ... for a matrix; ``[name]`` for a scalar."""
    if not shape:
        return [name]
    return [f"{name}[{','.join(str(i + 1) for i in index)}]" for index in np.ndindex(*shape)]


def _parse_start(variable: Any) -> Any:
    """The start value in its Python type (FMPy keeps it as the XML string); an array's start
    is a numpy array of its shape."""
    start = variable.start
    if start is None:
        return start
    kind = value_kind(variable.type)
    if variable.shape:
        if kind not in ("real", "integer", "boolean") or not isinstance(start, str):
            return start
        words = start.split()
        if kind == "boolean":
            values = np.array([w in ("true", "1") for w in words])
        else:
            values = np.array(words, dtype=float if kind == "real" else np.int64)
        return values.reshape(variable.shape) if values.size == np.prod(variable.shape) else values
    try:
        if kind == "real":
            return float(start)
        if kind == "integer":
            return int(start)
        if kind == "boolean":
            return start in ("true", "1", True)
    except ValueError:
        return start
    return start


def _compiler_available() -> bool:
    return shutil.which("cmake") is not None and any(
        shutil.which(cc) for cc in ("cc", "gcc", "clang")
    )


def _used_by_instances(name: str) -> bool:
    """Whether an FMU archive member is needed to instantiate the FMU: not its sources or docs,
    nor modelDescription.xml (read from the archive)."""
    return name != "modelDescription.xml" and not name.startswith(("sources/", "documentation/"))


def current_platform(fmi_major: int) -> str:
    """This machine's platform folder name under ``binaries/`` in the FMI version's spelling:
    FMI 2.0 e.g. ``linux64``, FMI 3.0 e.g. ``x86_64-linux``."""
    return fmpy.platform if fmi_major == 2 else fmpy.platform_tuple


def _archive_platforms(path: Path) -> tuple[str, ...]:
    """The platform folders under ``binaries/`` that hold files, as the FMU names them (FMPy's
    ``supported_platforms`` reports FMI 3.0 folders in FMI 2.0 spelling), and "c-code" when the
    FMU ships its sources."""
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
    else:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    found = []
    for name in names:
        parts = name.split("/")
        if len(parts) >= 3 and parts[0] == "binaries" and parts[1] not in found:
            found.append(parts[1])
    if any(n.startswith("sources/") and n.endswith(".c") for n in names):
        found.insert(0, "c-code")
    return tuple(found)


def _unreadable(path: Path, exc: Exception) -> FmuError:
    """Why FMPy could not read the model description of the FMU (zip file or directory)."""
    if path.is_dir():
        if not (path / "modelDescription.xml").is_file():
            return FmuError(
                f"{path}: the directory has no modelDescription.xml, so it is not an extracted FMU."
                " "
                "Pass the .fmu file or the directory it was extracted to."
            )
    else:
        with zipfile.ZipFile(path) as archive:
            if "modelDescription.xml" not in archive.namelist():
                return FmuError(
                    f"{path}: not an FMU (the zip archive has no modelDescription.xml at its root)."
                    " "
                    "Re-export the model as an FMU, or check that the archive was not re-zipped "
                    "inside a folder."
                )
            with archive.open("modelDescription.xml") as xml:
                head = xml.read(4096).decode("utf-8", errors="replace")
        if 'fmiVersion="1.0"' in head:
            return FmuError(
                f"{path}: FMI 1.0 FMUs are not supported. Re-export the model as FMI 2.0 or 3.0."
            )
    return FmuError(
        f"{path}: the modelDescription.xml could not be read ({exc}). Check the FMU with "
        "`fmpy validate` or re-export it."
    )


def _open_description(path: Path) -> ModelDescription:
    """Reads modelDescription.xml with FMPy; its failures become errors that say what to do."""
    if not path.is_dir() and not zipfile.is_zipfile(path):
        raise FmuError(
            f"{path}: not an FMU (the file is not a zip archive). An FMU is a zip file with "
            "modelDescription.xml at its root; check the path or re-export the model as an FMU."
        )
    try:
        description = fmpy.read_model_description(str(path), validate=False)
    except Exception as exc:  # FMPy raises plain Exceptions (and zipfile's, lxml's) on bad input
        raise _unreadable(path, exc) from exc
    if description.fmiVersion == "1.0":
        raise FmuError(
            f"{path}: FMI 1.0 FMUs are not supported. Re-export the model as FMI 2.0 or 3.0."
        )
    return description


def _refuse_duplicate_names(path: Path, description: ModelDescription) -> None:
    """FMI requires unique variable names; with a repeated one, a name would silently mean
    another variable (FMPy does not check it)."""
    seen: set[str] = set()
    repeated = []
    for v in description.modelVariables:
        if v.name in seen and v.name not in repeated:
            repeated.append(v.name)
        seen.add(v.name)
    if repeated:
        raise FmuError(
            f"{path}: the modelDescription.xml declares the variable name(s) "
            f"{', '.join(repr(n) for n in repeated)} more than once, which FMI forbids; the FMU "
            "is broken: re-export it (or report it to the tool that generated it)"
        )


def _directional_derivative_flags(path: Path, description: ModelDescription) -> dict[str, bool]:
    """kind -> whether the interface provides directional derivatives.

    FMPy reads FMI 2.0's ``providesDirectionalDerivative`` but not FMI 3.0's plural
    ``providesDirectionalDerivatives``, so for FMI 3.0 that one attribute is read here.
    """
    interfaces = {"cs": description.coSimulation, "me": description.modelExchange}
    if description.fmiMajorVersion == 2:
        return {k: bool(i and i.providesDirectionalDerivative) for k, i in interfaces.items()}
    if path.is_dir():
        root = ElementTree.parse(path / "modelDescription.xml").getroot()
    else:
        with zipfile.ZipFile(path) as archive:
            root = ElementTree.fromstring(archive.read("modelDescription.xml"))
    flags = {}
    for kind, tag in (("cs", "CoSimulation"), ("me", "ModelExchange")):
        element = root.find(tag)
        value = None if element is None else element.get("providesDirectionalDerivatives")
        flags[kind] = value in ("true", "1")
    return flags


def load_fmu(
    path: str | os.PathLike[str],
    *,
    compile: bool = False,
    require_binary: bool = True,
    extraction_limits: ExtractionLimits | None = None,
) -> FmuModel:
    """Loads an FMU (FMI 2.0 or 3.0; a .fmu file, an extracted directory, or the name of a
    bundled model such as ``"heated_tank"``).

    ``compile=True`` builds a binary for this platform from the FMU's sources with FMPy's build
    tooling (``fmpy.build.build_platform_binary``; needs CMake and a C compiler) when the FMU has
    none. ``require_binary=False`` loads the description only (for ``fmitwin info``): such a model
    cannot be instantiated. ``extraction_limits`` bound what extracting the archive may write
    (:class:`fmitwin.archive.ExtractionLimits`: 4 GiB and a compression ratio of 200 by default);
    a model description declaring one variable name twice is refused.
    """
    from fmitwin.models import resolve

    path = resolve(path)  # a path, or a bundled model's name ("heated_tank")
    description = _open_description(path)
    _refuse_duplicate_names(path, description)
    platforms = _archive_platforms(path)
    model = FmuModel(path, description, platforms, extraction_limits)
    if not require_binary:
        return model
    if not model.kinds:
        raise model.no_runnable_interface()
    binaries = [p for p in platforms if p != "c-code"]
    here = current_platform(model.fmi_major)
    if here not in binaries:
        if "c-code" in platforms and compile:
            model._compile()
        elif "c-code" in platforms:
            model.close()
            how = (
                "a compiler is available here: load it with load_fmu(path, compile=True) "
                "(FMPy's build tooling compiles the sources)"
                if _compiler_available()
                else "install CMake and a C compiler, then load it with "
                "load_fmu(path, compile=True)"
            )
            raise FmuError(
                f"{path}: the FMU has no binary for this platform (binaries/{here}) but "
                f"ships its C sources; {how}."
            )
        else:
            model.close()
            listed = ", ".join(binaries) if binaries else "none"
            raise FmuError(
                f"{path}: the FMU has no binary for this platform (binaries/{here}); it "
                f"contains binaries for: {listed}. Re-export it for this platform or include the "
                "C sources."
            )
    return model


class FmuModel:
    """An FMU read by FMPy: its description and the extracted files, ready to instantiate.

    Attributes: ``path``, ``description`` (FMPy's ``ModelDescription``), ``fmi_version``
    ("2.0"/"3.0"), ``name``, ``kinds`` (the interfaces offered, "cs" and/or "me"), ``variables``
    (name -> :class:`Variable`, in declaration order), ``states`` / ``derivatives`` (continuous
    states and their derivatives, paired), ``inputs``, ``outputs``, ``parameters``,
    ``default_experiment``, ``capabilities`` (kind -> :class:`Capabilities`), ``platforms``.
    """

    def __init__(
        self,
        path: Path,
        description: ModelDescription,
        platforms: tuple[str, ...],
        extraction_limits: ExtractionLimits | None = None,
    ):
        self.path = path
        self.extraction_limits = extraction_limits
        self.description = description
        self.platforms = platforms
        self.fmi_version: str = description.fmiVersion
        self.fmi_major: int = description.fmiMajorVersion
        self.name: str = description.modelName
        self.kinds: tuple[Kind, ...] = tuple(
            k
            for k, iface in (("cs", description.coSimulation), ("me", description.modelExchange))
            if iface is not None
        )
        self.variables: dict[str, Variable] = {
            v.name: Variable(
                name=v.name,
                value_reference=v.valueReference,
                type=v.type,
                causality=v.causality,
                variability=v.variability,
                initial=v.initial,
                unit=v.unit or (v.declaredType.unit if v.declaredType is not None else None),
                start=_parse_start(v),
                description=v.description,
                kind="other" if v.shape else access_kind(v.type, description.fmiMajorVersion),
                scalar_type=scalar_type(v.type, description.fmiMajorVersion),
                dimensions=_dimensions(v),
                shape=tuple(v.shape or ()),
            )
            for v in description.modelVariables
        }
        self.derivatives: list[Variable] = [
            self.variables[d.variable.name] for d in description.derivatives
        ]
        self.states: list[Variable] = [
            self.variables[d.variable.derivative.name] for d in description.derivatives
        ]
        self.outputs = [v for v in self.variables.values() if v.causality == "output"]
        self.inputs = [v for v in self.variables.values() if v.causality == "input"]
        self.parameters = [
            v
            for v in self.variables.values()
            if v.causality in ("parameter", "structuralParameter")
        ]
        exp = description.defaultExperiment
        self.default_experiment = DefaultExperiment(
            *(
                None if exp is None or getattr(exp, a) is None else float(getattr(exp, a))
                for a in ("startTime", "stopTime", "tolerance", "stepSize")
            )
        )
        self.capabilities: dict[Kind, Capabilities] = {}
        directional = _directional_derivative_flags(path, description)
        for kind in self.kinds:
            iface = self._interface(kind)
            self.capabilities[kind] = Capabilities(
                can_get_and_set_state=bool(iface.canGetAndSetFMUstate),
                provides_directional_derivatives=directional[kind],
                can_handle_variable_step=kind == "me"
                or bool(iface.canHandleVariableCommunicationStepSize),
            )
        self._unzip_dir: str | None = None
        self._cleanup: weakref.finalize | None = None

    # -- variables -------------------------------------------------------------------------------

    def variable(self, name: str, *, argument: str = "name") -> Variable:
        """The variable called ``name``; an unknown name raises KeyError naming the closest ones."""
        try:
            return self.variables[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.variables), n=5, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(
                f"{argument}: {self.path.name} has no variable {name!r}.{hint} "
                f"`fmitwin info {self.path}` lists all variables."
            ) from None

    def check_start_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validates ``values`` (name -> value) against the variables' types and variability.

        Raises KeyError for an unknown name (with the closest names), TypeError for a value of the
        wrong type, ValueError for a value outside its type's range (e.g. 300 for a UInt8, which
        FMPy would wrap) and for a constant; returns the values as plain Python scalars.
        """
        checked = {}
        variables = {name: self.variable(name, argument="start_values") for name in values}
        scalars = {n: v for n, v in values.items() if not variables[n].is_array}
        shapes = None
        for name, value in values.items():
            variable = variables[name]
            if variable.is_array:
                if shapes is None:  # structural parameters among the values fix the shapes
                    shapes = self.shapes(scalars)
                value = _check_array(variable, value, shapes[name])
            else:
                value = check_value(variable, value, "start_values")
            if variable.variability == "constant":
                raise ValueError(f"start_values[{name!r}]: {name} is a constant and cannot be set")
            checked[name] = value
        return checked

    def shapes(self, start_values: Mapping[str, Any] | None = None) -> dict[str, tuple[int, ...]]:
        """name -> shape of every array variable, its structural parameters taken from
        ``start_values`` where given there, else at their start values."""
        given = start_values or {}
        shapes = {}
        for v in self.variables.values():
            if v.is_array:
                shapes[v.name] = tuple(
                    d if isinstance(d, int) else int(given.get(d, self.variables[d].start))
                    for d in v.dimensions
                )
        return shapes

    def experiment_defaults(self) -> dict[str, float | None]:
        """The default experiment as :func:`fmitwin.run_checks.experiment_times` takes it."""
        exp = self.default_experiment
        return {
            "default_start": exp.start_time,
            "default_stop": exp.stop_time,
            "default_step": exp.step_size,
        }

    def _interface(self, kind: Kind) -> Any:
        return self.description.coSimulation if kind == "cs" else self.description.modelExchange

    def no_runnable_interface(self) -> FmuError:
        """The error for an FMU offering only scheduled execution."""
        return FmuError(
            f"{self.path}: the FMU offers neither co-simulation nor model exchange (only "
            "scheduled execution), which fmitwin does not run. Re-export it with co-simulation "
            "or model exchange enabled."
        )

    def default_kind(self) -> Kind:
        """Co-simulation when offered (the FMU's own solver), else model exchange."""
        if not self.kinds:
            raise self.no_runnable_interface()
        return self.kinds[0]

    def check_kind(self, kind: str | None) -> Kind:
        """Validates ``kind`` ('cs', 'me' or None for the default) against what the FMU offers."""
        if kind is None:
            return self.default_kind()
        if kind not in _KIND_NAMES:
            raise ValueError(f"kind: expected 'cs' or 'me', got {kind!r}")
        if not self.kinds:
            raise self.no_runnable_interface()
        if kind not in self.kinds:
            offered = " and ".join(_KIND_NAMES[k] for k in self.kinds)
            raise FmuError(
                f"{self.path}: the FMU does not support {_KIND_NAMES[kind]}; it offers {offered}. "
                f"Use kind={self.kinds[0]!r}."
            )
        return kind  # type: ignore[return-value]

    # -- files -----------------------------------------------------------------------------------

    @property
    def unzip_dir(self) -> str:
        """The extracted FMU (extracted on first use, removed when the model is closed).

        Only what an instance uses is extracted: the C sources and the documentation stay in
        the archive (compiling extracts the sources).
        """
        if self._unzip_dir is None:
            if self.path.is_dir():
                self._unzip_dir = str(self.path)
            else:
                self._unzip_dir = str(self._extract(None, _used_by_instances))
                self._cleanup = weakref.finalize(
                    self, shutil.rmtree, self._unzip_dir, ignore_errors=True
                )
        return self._unzip_dir

    def _extract(self, destination: str | None, include: Callable[[str], bool]) -> Path:
        try:
            return extract(self.path, destination, include=include, limits=self.extraction_limits)
        except ArchiveError as exc:
            raise FmuError(str(exc)) from exc

    def _compile(self) -> None:
        from fmpy.build import build_platform_binary

        if not _compiler_available():
            raise FmuError(
                f"{self.path}: compiling the FMU's sources needs CMake and a C compiler; install "
                "them or use an FMU with a binary for this platform."
            )
        if self.path.is_dir():
            raise FmuError(
                f"{self.path}: compile=True needs the .fmu file (fmitwin does not write into an "
                "extracted directory it was given)."
            )
        try:
            self._extract(self.unzip_dir, lambda name: not _used_by_instances(name))
            build_platform_binary(self.unzip_dir)
        except Exception as exc:
            raise FmuError(f"{self.path}: compiling the FMU's C sources failed: {exc}") from exc

    def close(self) -> None:
        """Removes the extracted files (instances must have been freed)."""
        if self._cleanup is not None:
            self._cleanup()
        self._unzip_dir = None

    # -- instances -------------------------------------------------------------------------------

    def instantiate(
        self,
        kind: str | None = None,
        *,
        instance_name: str | None = None,
        logging: bool = False,
        start_values: Mapping[str, Any] | None = None,
    ) -> FmuInstance:
        """Creates one FMU instance through FMPy (not yet initialised) and its C++ simulator.

        ``start_values``: the values :meth:`FmuInstance.initialize` will set; the structural
        parameters among them fix the sizes of the arrays (and the number of states).
        """
        shapes = self.shapes(start_values)
        return FmuInstance(self, self.check_kind(kind), instance_name, logging, shapes)

    def summary(self) -> str:
        """A readable description: interfaces, capabilities, experiment and variables."""
        from fmitwin.fmu_summary import format_summary

        return format_summary(self)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled as its file (for an isolated worker, which loads the FMU again).
        return (_load_again, (str(self.path), self.extraction_limits))

    def __repr__(self) -> str:
        return f"FmuModel({str(self.path)!r}, fmi={self.fmi_version}, kinds={self.kinds})"


def _load_again(path: str, limits: ExtractionLimits | None) -> FmuModel:
    return load_fmu(path, extraction_limits=limits)


class FmuInstance:
    """One FMPy instance of an FMU and the compiled simulator that steps it.

    ``simulator`` is a ``fmitwin._core.CoSimulation`` (kind "cs") or ``ModelExchange`` ("me");
    it keeps this instance alive (``simulator._fmu_owner``). ``log`` holds the FMU's recent log
    messages, which error messages quote.
    """

    def __init__(
        self,
        model: FmuModel,
        kind: Kind,
        instance_name: str | None,
        logging: bool,
        shapes: Mapping[str, tuple[int, ...]],
    ):
        self.model = model
        self.kind = kind
        self.shapes = dict(shapes)  # name -> shape of every array variable
        # The FMU's log callbacks capture only this deque, not the instance: FMPy keeps the
        # callbacks, and a reference back to the instance would keep it alive forever.
        self.log: collections.deque[str] = collections.deque(maxlen=50)
        log = self.log
        description = model.description
        iface = model._interface(kind)
        classes = {
            (2, "cs"): fmi2.FMU2Slave,
            (2, "me"): fmi2.FMU2Model,
            (3, "cs"): fmi3.FMU3Slave,
            (3, "me"): fmi3.FMU3Model,
        }
        cls = classes[(model.fmi_major, kind)]
        try:
            self.fmu = cls(
                guid=description.guid,
                unzipDirectory=model.unzip_dir,
                modelIdentifier=iface.modelIdentifier,
                instanceName=instance_name or iface.modelIdentifier,
            )
        except Exception as exc:
            raise FmuError(
                f"{model.path}: the FMU's shared library could not be loaded ({exc}). Check that "
                f"the binary matches this platform (binaries/{current_platform(model.fmi_major)})."
            ) from exc
        forward = (instance_name or iface.modelIdentifier) if logging else None
        try:
            if model.fmi_major == 2:
                # FMI 2 log messages are printf formats with arguments: the compiled core's
                # logger formats them and passes the text to this sink (kept by the FMPy object,
                # which lives as long as the FMU instance).
                sink = _FMI2_LOG_SINK(
                    lambda name, status, category, text: _remember(
                        log, status, category, text, forward
                    )
                )
                self.fmu._fmitwin_log_sink = sink
                self._callbacks = fmi2.fmi2CallbackFunctions()
                self._callbacks.logger = fmi2.fmi2CallbackLoggerTYPE(_core.fmi2_formatting_logger())
                self._callbacks.componentEnvironment = ctypes.cast(sink, ctypes.c_void_p)
                self._callbacks.allocateMemory = fmi2.fmi2CallbackAllocateMemoryTYPE(fmpy.calloc)
                self._callbacks.freeMemory = fmi2.fmi2CallbackFreeMemoryTYPE(fmpy.free)
                self.fmu.instantiate(callbacks=self._callbacks, loggingOn=logging)
            else:
                self.fmu.instantiate(
                    loggingOn=logging,
                    logMessage=lambda env, status, category, message: _remember(
                        log, status, category, message, forward
                    ),
                )
        except Exception as exc:
            self.fmu.freeLibrary()
            raise self.error(f"instantiating the FMU failed ({exc})") from exc
        self._freed = False
        caps = model.capabilities[kind]
        handle = self.fmu.dll._handle
        component = ctypes.cast(self.fmu.component, ctypes.c_void_p).value
        if kind == "cs":
            self.simulator = _core.CoSimulation(
                model.fmi_major,
                handle,
                component,
                caps.can_get_and_set_state,
                caps.provides_directional_derivatives,
                0.0,
            )
        else:
            self.simulator = _core.ModelExchange(
                model.fmi_major,
                handle,
                component,
                sum(int(np.prod(self.shapes.get(v.name, ()))) for v in model.states),
                description.numberOfEventIndicators,
                caps.can_get_and_set_state,
                caps.provides_directional_derivatives,
            )
        self.simulator._fmu_owner = self
        sizes = {
            model.variables[name].value_reference: int(np.prod(shape))
            for name, shape in self.shapes.items()
        }
        if sizes:
            self.simulator.fmu_access.set_array_sizes(sizes)
        # FMI 3: the category calls (get_real, get_integer ...) reach each variable through its
        # own FMI type (e.g. fmi3GetFloat32 for a Float32 variable read as 'real').
        typed = {
            v.value_reference: core_type(v.scalar_type)
            for v in model.variables.values()
            if v.scalar_type not in (None, "float64", "int32", "boolean")
        }
        if typed:
            self.simulator.fmu_access.set_variable_types(typed)
        # The finalizer holds the FMPy object and the function table, not the simulator (which
        # holds this instance): no reference cycle keeps the instance alive.
        self._finalizer = weakref.finalize(
            self, _free_fmpy_instance, self.fmu, self.simulator.fmu_access
        )
        # Not at interpreter exit: saved states and models still referring to the instance may be
        # destroyed after the exit hooks run, and would then call into a freed instance.
        self._finalizer.atexit = False

    # -- logging ---------------------------------------------------------------------------------

    def error(self, what: str) -> FmuError:
        """An FmuError naming the FMU file and quoting its recent log messages."""
        message = f"{self.model.path}: {what}."
        if self.log:
            message += " The FMU logged:\n  " + "\n  ".join(self.log)
        else:
            message += (
                " The FMU logged nothing; run it with logging=True (simulate, System.add) or "
                "`fmitwin simulate --log` for its debug log."
            )
        return FmuError(message)

    # -- initialisation --------------------------------------------------------------------------

    def initialize(
        self,
        start_time: float,
        stop_time: float,
        *,
        start_values: Mapping[str, Any] | None = None,
        during_initialization: Callable[[], None] | None = None,
    ) -> None:
        """Sets start values and enters/leaves initialization mode in FMI's required order.

        ``start_values`` (name -> value, checked by :meth:`FmuModel.check_start_values`) go in
        before initialization mode where the FMU allows (FMPy's ``settable_in_instantiated``) and
        inside it otherwise; ``during_initialization()`` runs inside initialization mode (e.g. to
        set the inputs at ``start_time``). Model exchange: configure the solver before this.
        """
        from fmpy.simulation import (
            apply_start_values,
            settable_in_initialization_mode,
            settable_in_instantiated,
        )

        values = self.model.check_start_values(start_values or {})
        description = self.model.description
        declared = {v.name: v for v in description.modelVariables}
        fixed = [
            name
            for name in values
            if declared[name].causality in ("calculatedParameter", "independent")
            or declared[name].initial == "calculated"
            or not (
                settable_in_instantiated(declared[name])
                or settable_in_initialization_mode(declared[name])
            )
        ]
        if fixed:
            raise ValueError(
                f"start_values: {', '.join(fixed)} cannot be set in {self.model.path.name} "
                "(calculated variables and constants have no settable start value)"
            )
        structural = {
            n: v for n, v in values.items() if declared[n].causality == "structuralParameter"
        }
        arrays = {n: v for n, v in values.items() if n not in structural and declared[n].shape}
        scalars = {n: v for n, v in values.items() if n not in structural and n not in arrays}
        try:
            if structural and self.model.fmi_major == 3:
                # FMI 3.0 sets structural parameters in configuration mode.
                self.fmu.enterConfigurationMode()
                apply_start_values(self.fmu, description, structural)
                self.fmu.exitConfigurationMode()
            else:
                scalars.update(structural)
            arrays = self._set_arrays(arrays, settable_in_instantiated)
            scalars = apply_start_values(self.fmu, description, scalars, settable_in_instantiated)
            self.simulator.enter_initialization(start_time, stop_time)
            self._set_arrays(arrays, settable_in_initialization_mode)
            apply_start_values(self.fmu, description, scalars, settable_in_initialization_mode)
            if during_initialization is not None:
                during_initialization()
            self.simulator.exit_initialization()
        except (FMICallException, FmuError) as exc:
            raise self.error(f"initializing the FMU failed ({exc})") from exc

    def _set_arrays(
        self, arrays: dict[str, Any], settable: Callable[[Any], bool]
    ) -> dict[str, Any]:
        """Sets the array start values ``settable`` accepts (whole, row-major; FMPy would check
        them against the default shapes); returns the others."""
        left = {}
        for v in self.model.description.modelVariables:
            if v.name not in arrays:
                continue
            if not settable(v):
                left[v.name] = arrays[v.name]
                continue
            setter = getattr(self.fmu, "setInt64" if v.type == "Enumeration" else "set" + v.type)
            setter([v.valueReference], np.asarray(arrays[v.name]).ravel().tolist())
        return left

    def free(self) -> None:
        """Terminates nothing; frees the FMPy instance and unloads the library (idempotent)."""
        self._finalizer()


# Functions every FMU log message is also passed to (see add_log_tap).
_LOG_TAPS: list[Callable[[str], None]] = []


def add_log_tap(tap: Callable[[str], None]) -> None:
    """Passes every FMU log message of this process, as quoted in errors, to ``tap(line)`` as
    it is logged (the isolated worker sends them to its caller, so they outlive a crash)."""
    _LOG_TAPS.append(tap)


def _remember(
    log: collections.deque[str], status: int, category: Any, message: Any, forward: str | None
) -> None:
    """Keeps one FMU log message for error messages; with logging on (``forward``: the instance
    name), also emits it on the ``fmitwin.fmu`` logger at the level of its status."""
    known = 0 <= status < len(_FMI2_LOG_STATUS)
    name = _FMI2_LOG_STATUS[status] if known else str(status)
    text = (message or b"").decode("utf-8", errors="replace")
    cat = (category or b"").decode("utf-8", errors="replace")
    line = f"[{name}] {cat}: {text}" if cat else f"[{name}] {text}"
    log.append(line)
    for tap in _LOG_TAPS:
        tap(line)
    if forward is not None:
        _LOGGER.log(_LOG_LEVELS[status] if known else pylogging.INFO, "%s %s", forward, line)


def _check_array(variable: Variable, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An array start value as a numpy array of the variable's ``shape`` (a flat sequence of
    the right length is reshaped, row-major); TypeError or ValueError naming the variable, its
    shape and what was given otherwise."""
    where = f"start_values[{variable.name!r}]"
    kind = value_kind(variable.type)
    needs = {"real": "numbers", "integer": "integers", "boolean": "bools"}.get(kind)
    if needs is None:
        raise TypeError(
            f"{where}: {variable.name} is a {variable.type} array, which fmitwin does not set"
        )
    try:
        array = np.asarray(value)
    except ValueError as exc:  # ragged nesting
        raise ValueError(
            f"{where}: {variable.name} is a {variable.type} array of shape {shape}; {exc}"
        ) from None
    good = {"real": "iuf", "integer": "iu", "boolean": "b"}[kind]
    if array.dtype.kind not in good or array.ndim == 0:
        raise TypeError(
            f"{where}: {variable.name} is a {variable.type} array of shape {shape} and needs "
            f"{needs} of that shape, got {type(value).__name__} {value!r}"
        )
    if array.shape != shape:
        if array.ndim != 1 or array.size != int(np.prod(shape)):
            raise ValueError(
                f"{where}: {variable.name} is a {variable.type} array of shape {shape} "
                f"({int(np.prod(shape))} values), got shape {array.shape}"
            )
        array = array.reshape(shape)
    for element in array.flat[:1].tolist() + [array.min().item(), array.max().item()]:
        check_value(variable, element, "start_values")
    return array


def _free_fmpy_instance(fmu: Any, access: Any) -> None:
    access.release()  # the compiled side refuses further calls instead of crashing
    try:
        fmu.freeInstance()
    except Exception:  # a crashed FMU may fail to free; nothing more can be done
        pass
