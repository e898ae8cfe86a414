"""Fleet TOML loading: many twins declared at once, each asset an instance of a twin template.

Every error is a :class:`~fmitwin.live.config.ConfigError` naming the file, the line and the
dotted key, of the fleet file or of the template's twin file, whichever holds the mistake.

Layout::

    [fleet]              name, registry (SQLite file, default "<fleet file stem>.registry.sqlite")
    [ingest]             url, prefix, store, ...: records forwarded by edge twins
                         (:mod:`fmitwin.fleet.ingest`)
    [templates.<name>]   twin (a twin file), asset_type, tags
    [templates.<name>.maintenance]  indicator, failure_threshold, time_unit, noise, max_sigma
    [[assets]]           template, id, site, asset_id, tags, count, vars, set

An ``[[assets]]`` entry with ``count = N`` declares N assets; ``{n}`` (1..N, with an optional
format such as ``{n:03d}``) numbers them in ``id`` and in any string. ``vars`` holds per-asset
values, a list of N values for a counted entry. ``set`` overrides keys of the template's twin
file by dotted name (``"model.parameters.UA" = 11.5``, ``"opcua.endpoint" = "opc.tcp://..."``).
Strings of the template and of ``set`` may use the placeholders ``{id}``, ``{asset_id}``,
``{site}``, ``{n}`` and every ``vars`` name; a string that is a single placeholder takes the
value's own type (``"{UA}"`` becomes the number). Each twin is named after its asset's ``id``
unless ``set`` gives ``"twin.name"``. Relative paths in a twin resolve against its template's
folder.
"""

from __future__ import annotations

import copy
import dataclasses
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmitwin.fleet.ingest import IngestConfig, parse_ingest
from fmitwin.fleet.registry import Registry, RegistryError, TwinEntry
from fmitwin.live.config import (
    ConfigError,
    TwinConfig,
    check_indicator,
    locate_keys,
    parse_config_data,
    parse_prognosis,
    parse_toml,
)
from fmitwin.live.config import _Section as Section

if TYPE_CHECKING:
    from fmitwin.maintenance.online import Prognosis

__all__ = [
    "FleetAsset",
    "FleetConfig",
    "RegistrationReport",
    "load_fleet",
    "parse_fleet",
    "register_fleet",
]

_BUILT_IN = ("id", "asset_id", "site", "n")


@dataclass(frozen=True)
class FleetAsset:
    """One asset of the fleet: its registry entry, its validated twin definition and, when
    its template has ``[templates.<name>.maintenance]`` (or its twin file ``[maintenance]``),
    how to estimate its remaining life."""

    entry: TwinEntry
    twin: TwinConfig
    prognosis: Prognosis | None = None


@dataclass(frozen=True)
class FleetConfig:
    name: str
    file: Path
    registry: Path
    assets: tuple[FleetAsset, ...]
    ingest: IngestConfig | None = None  # edge twins forward to this broker and store

    def asset(self, asset_id: str) -> FleetAsset:
        for a in self.assets:
            if a.entry.id == asset_id:
                return a
        raise KeyError(f"no asset {asset_id!r} in {self.file}")


@dataclass(frozen=True)
class _Template:
    name: str
    file: Path
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int]
    asset_type: str
    tags: tuple[str, ...]
    prognosis: Prognosis | None
    prognosis_section: Section | None


def load_fleet(path: str | Path) -> FleetConfig:
    """Read and validate a fleet file and every twin it declares."""
    path = Path(path)
    return parse_fleet(_read(path, "fleet file"), path)


def parse_fleet(text: str, path: str | Path = "<fleet>") -> FleetConfig:
    path = Path(path)
    root = Section(str(path), locate_keys(text), (), parse_toml(text, path))

    fleet = root.table("fleet", required=True)
    name = fleet.get("name", str)
    registry = path.parent / fleet.get("registry", str, f"{path.stem}.registry.sqlite")
    fleet.finish()

    templates_section = root.table("templates", required=True)
    templates = {
        key: _template(key, section, path.parent) for key, section in templates_section.tables()
    }
    templates_section.finish()
    if not templates:
        raise templates_section.error(None, "declare at least one [templates.<name>] table")

    entries = root.get("assets", list, hint="add [[assets]] tables, one per asset or group")
    if not entries:
        raise root.error("assets", "declare at least one [[assets]] table")
    assets: list[FleetAsset] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise root.error("assets", "expected [[assets]] tables")
        group = Section(str(path), root._lines, ("assets", str(index)), raw)
        for asset in _assets(group, templates, path):
            file, line = group.where("id")
            if asset.entry.id in seen:
                raise group.error(
                    "id",
                    f"asset id {asset.entry.id!r} is declared twice (first at "
                    f"{seen[asset.entry.id]}); ids must be unique in the fleet",
                )
            seen[asset.entry.id] = f"{file}:{line}"
            assets.append(asset)
    ingest = parse_ingest(root.table("ingest"), name, path)
    root.finish()
    return FleetConfig(name=name, file=path, registry=registry, assets=tuple(assets), ingest=ingest)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read the {what}: {exc}") from exc


def _template(name: str, section: Section, base: Path) -> _Template:
    twin_path = base / section.get("twin", str, hint="the twin file this template instantiates")
    if not twin_path.is_file():
        raise section.error("twin", f"twin file not found: {twin_path}")
    text = _read(twin_path, "template's twin file")
    template = _Template(
        name=name,
        file=twin_path,
        data=parse_toml(text, twin_path),
        lines=locate_keys(text),
        asset_type=section.get("asset_type", str),
        tags=_tags(section),
        prognosis=None,
        prognosis_section=section.table("maintenance"),
    )
    if template.prognosis_section is not None:  # its indicator is checked per twin
        prognosis = parse_prognosis(template.prognosis_section, None)
        template = dataclasses.replace(template, prognosis=prognosis)
    section.finish()
    return template


def _tags(section: Section) -> tuple[str, ...]:
    tags = section.get("tags", list, [])
    if not all(isinstance(t, str) and t for t in tags):
        raise section.error("tags", f"expected a list of non-empty strings, got {tags!r}")
    return tuple(tags)


def _assets(group: Section, templates: dict[str, _Template], fleet_file: Path) -> list[FleetAsset]:
    """The asset(s) of one [[assets]] entry: one, or ``count`` numbered ones."""
    template_name = group.choice("template", templates)
    template = templates[template_name]
    count = group.get("count", int, None)
    if count is not None and count < 1:
        raise group.error("count", f"expected a positive number of assets, got {count}")
    id_pattern = group.get("id", str)
    if count is not None and "{n" not in id_pattern:
        example = f'"{id_pattern}-{{n:02d}}"'
        raise group.error("id", f"a counted entry needs {{n}} in its id, e.g. {example}")
    site_pattern = group.get("site", str)
    asset_id_pattern = group.get("asset_id", str, id_pattern)
    tags = template.tags + _tags(group)
    variables = group.get("vars", dict, {})
    overrides = group.get("set", dict, {})
    group.finish()

    for key, value in variables.items():
        if key in _BUILT_IN:
            message = f"{key!r} is a built-in placeholder; choose another name"
            raise group.error("vars", message, key)
        if count is not None and isinstance(value, list) and len(value) != count:
            raise group.error(
                "vars",
                f"expected {count} values (one per asset, count = {count}), got {len(value)}",
                key,
            )

    assets = []
    for n in range(1, (count or 1) + 1):
        values: dict[str, Any] = {"n": n}
        values.update(
            {
                k: (v[n - 1] if count is not None and isinstance(v, list) else v)
                for k, v in variables.items()
            }
        )
        for key, pattern in (
            ("id", id_pattern),
            ("site", site_pattern),
            ("asset_id", asset_id_pattern),
        ):
            values[key] = _expand(pattern, values, lambda msg, key=key: group.error(key, msg))
        data, lines = _instantiate(template, values, overrides, group)
        twin = parse_config_data(data, lines, template.file)
        entry = TwinEntry(
            id=values["id"],
            asset_id=values["asset_id"],
            asset_type=template.asset_type,
            site=values["site"],
            definition=f"{fleet_file}#{values['id']}",
            tags=tags,
        )
        prognosis = template.prognosis or twin.maintenance
        if template.prognosis is not None:
            estimated = twin.filter.estimated(twin.model)
            check_indicator(
                template.prognosis_section, prognosis.indicator, estimated, f"twin {twin.name}"
            )
        assets.append(FleetAsset(entry=entry, twin=twin, prognosis=prognosis))
    return assets


def _instantiate(
    template: _Template, values: dict[str, Any], overrides: dict[str, Any], group: Section
) -> tuple[dict[str, Any], dict[tuple[str, ...], Any]]:
    """The asset's twin-file data (placeholders expanded, overrides applied) and, for every
    key, where it came from: a line of the template, or ``(fleet file, line)``."""
    lines: dict[tuple[str, ...], Any] = dict(template.lines)

    def expand_tree(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {k: expand_tree(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [expand_tree(v, path) for v in node]
        if isinstance(node, str):
            return _expand(node, values, lambda message: _template_error(template, path, message))
        return node

    data = expand_tree(copy.deepcopy(template.data), ())
    data.setdefault("twin", {})
    if not isinstance(data["twin"], dict):
        raise _template_error(template, ("twin",), "expected a [twin] table")
    data["twin"]["name"] = values["id"]
    origin = group.where("set")
    for dotted, value in overrides.items():
        keys = tuple(dotted.split("."))
        if not all(keys):
            raise group.error("set", f"{dotted!r} is not a dotted twin-file key", dotted)
        if isinstance(value, str):
            value = _expand(value, values, lambda message, d=dotted: group.error("set", message, d))
        node = data
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise group.error("set", f"{where} is not a table in {template.file.name}", dotted)
            node = child
        node[keys[-1]] = value
        for known in [k for k in lines if k[: len(keys)] == keys]:
            del lines[known]
        lines[keys] = origin
    return data, lines


def _template_error(template: _Template, path: tuple[str, ...], message: str) -> ConfigError:
    line = None
    for cut in range(len(path), 0, -1):
        if path[:cut] in template.lines:
            line = template.lines[path[:cut]]
            break
    return ConfigError(str(template.file), line, ".".join(path), message)


def _expand(text: str, values: dict[str, Any], error: Any) -> Any:
    """``text`` with ``{name}`` / ``{name:format}`` placeholders filled from ``values``; a text
    that is one placeholder without format returns the value itself (its type kept)."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise error(f"{text!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
    names = [f for _, f, _, _ in fields if f is not None]
    if not names:
        return text.replace("{{", "{").replace("}}", "}")
    for name in names:
        if name not in values:
            known = ", ".join(sorted(values))
            raise error(f"unknown placeholder {{{name}}} in {text!r}; known: {known}")
    if len(fields) == 1 and fields[0][0] == "" and fields[0][2] == "" and not fields[0][3]:
        return values[names[0]]
    try:
        return text.format_map(values)
    except (ValueError, TypeError) as exc:
        raise error(f"{text!r}: {exc}") from None


@dataclass(frozen=True)
class RegistrationReport:
    """What ``register_fleet`` did: ids added, ids whose entry changed, ids left as they were,
    and registered ids the fleet file no longer declares (left alone: retire them explicitly)."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    undeclared: tuple[str, ...]


def register_fleet(registry: Registry, fleet: FleetConfig) -> RegistrationReport:
    """Bring the registry in line with the fleet file: register new assets, update changed
    entries. Lifecycle states are never changed here."""
    added, updated, unchanged = [], [], []
    declared = set()
    for asset in fleet.assets:
        declared.add(asset.entry.id)
        try:
            current = registry.get(asset.entry.id).entry
        except RegistryError:
            registry.register(asset.entry, reason=f"declared in {fleet.file.name}")
            added.append(asset.entry.id)
            continue
        wanted = TwinEntry(**{**asset.entry.__dict__, "tags": tuple(sorted(set(asset.entry.tags)))})
        if current == wanted:
            unchanged.append(asset.entry.id)
        else:
            registry.update_entry(asset.entry)
            updated.append(asset.entry.id)
    prefix = f"{fleet.file}#"
    undeclared = [
        r.id
        for r in registry.query()
        if r.entry.definition.startswith(prefix) and r.id not in declared
    ]
    return RegistrationReport(tuple(added), tuple(updated), tuple(unchanged), tuple(undeclared))
