"""Griffe extension: document the compiled core (``fmitwin._core``) next to the Python modules.

Griffe reads ``python/fmitwin`` from source, where the pybind11 extension module does not exist,
so what ``fmitwin.filters`` and ``fmitwin.estimation`` build on (the filters' ``predict`` and
``update``, the model classes) would be missing from the reference. This extension inspects the
installed ``fmitwin._core`` and attaches it to the package. pybind11 puts each function's
signature on the first line of its docstring; it becomes the function's parameters.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_SIGNATURE = re.compile(r"^(?P<name>\w+)(?P<arguments>\(.*\))(?: -> (?P<returns>.+))?$")
_KINDS = {
    "posonlyargs": griffe.ParameterKind.positional_only,
    "args": griffe.ParameterKind.positional_or_keyword,
    "kwonlyargs": griffe.ParameterKind.keyword_only,
}


def _parameters(arguments: ast.arguments) -> list[griffe.Parameter]:
    parameters = []
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    for field in ("posonlyargs", "args"):
        for argument in getattr(arguments, field):
            default = defaults[positional.index(argument)]
            parameters.append(_parameter(argument, _KINDS[field], default))
    if arguments.vararg:
        parameters.append(_parameter(arguments.vararg, griffe.ParameterKind.var_positional))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        parameters.append(_parameter(argument, griffe.ParameterKind.keyword_only, default))
    if arguments.kwarg:
        parameters.append(_parameter(arguments.kwarg, griffe.ParameterKind.var_keyword))
    return parameters


def _parameter(argument: ast.arg, kind: griffe.ParameterKind, default: Any = None) -> Any:
    annotation = ast.unparse(argument.annotation) if argument.annotation else None
    return griffe.Parameter(
        argument.arg,
        annotation=annotation,
        kind=kind,
        default=ast.unparse(default) if default is not None else None,
    )


def _apply_signature(function: griffe.Function) -> None:
    """Move a pybind11 signature line from the docstring into the function's parameters."""
    if function.docstring is None:
        return
    first, _, rest = function.docstring.value.partition("\n")
    match = _SIGNATURE.match(first.strip())
    if match is None:
        return
    try:
        tree = ast.parse(f"def f{match['arguments']}: pass")
    except SyntaxError:  # a default pybind11 prints as <object at 0x...>: keep the line as text
        return
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    function.parameters = griffe.Parameters(*_parameters(definition.args))
    function.returns = match["returns"]
    function.docstring.value = rest.strip()


def _walk(obj: griffe.Object) -> None:
    for member in obj.members.values():
        if member.is_alias:
            continue
        if isinstance(member, griffe.Function):
            _apply_signature(member)
        elif isinstance(member, griffe.Class):
            _walk(member)


class CompiledCore(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "fmitwin" or "_core" in pkg.members:
            return
        core = griffe.inspect(
            "_core",
            parent=pkg,
            docstring_parser=loader.docstring_parser,
            docstring_options=loader.docstring_options,
            modules_collection=loader.modules_collection,
            lines_collection=loader.lines_collection,
        )
        _walk(core)
        pkg.set_member("_core", core)
