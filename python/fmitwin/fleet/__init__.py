"""Fleets of twins: the registry with lifecycle, and fleet files that declare many twins."""

from fmitwin.fleet.config import (
    FleetAsset,
    FleetConfig,
    RegistrationReport,
    load_fleet,
    parse_fleet,
    register_fleet,
)
from fmitwin.fleet.registry import (
    ALLOWED,
    Lifecycle,
    Registry,
    RegistryError,
    SqliteRegistry,
    Transition,
    TwinEntry,
    TwinRecord,
    TwinStatus,
    rank_by_urgency,
)

__all__ = [
    "ALLOWED",
    "FleetAsset",
    "FleetConfig",
    "Lifecycle",
    "RegistrationReport",
    "Registry",
    "RegistryError",
    "SqliteRegistry",
    "Transition",
    "TwinEntry",
    "TwinRecord",
    "TwinStatus",
    "load_fleet",
    "parse_fleet",
    "rank_by_urgency",
    "register_fleet",
]
