"""Placement of central analytics on a Dask cluster: tasks declare what they need, a policy maps
that to Dask worker resources, and Dask places them.

A task declares its :class:`Requirements` (latency class, memory, cores, GPUs, optionally a
site); a :class:`PlacementPolicy` turns them into the ``resources=`` of ``client.submit``
(Dask's own resource restrictions: nothing here schedules anything). The default policy puts
real-time work at the edge, GPU or large-memory work in the cloud and the rest in between, on
the fog tier.

Workers offer resources when they start (``dask worker ADDRESS --resources "fog=2 MEMORY=8e9"``;
:func:`worker_resources` builds them and :func:`resources_argument` writes that argument):

* a tier tag, ``edge``, ``fog`` or ``cloud``, counting cores: a task takes as many as it
  declares ``cores``, so give a worker as many as it has threads;
* ``site:<name>`` (counting cores too) where the worker stands, for work that must run there;
* ``GPU`` (a count) and ``MEMORY`` (bytes), taken by the tasks that declare them.

:func:`submit_placed` checks the requirements against the workers the scheduler knows before
submitting: work that no worker can take raises :class:`PlacementError` naming the requirement
nothing meets and what the workers offer (Dask itself would leave it waiting forever). A task
whose worker is lost is rerun by Dask on another worker that offers its resources (or on the
same one once its nanny restarts it); when no such worker comes back within the policy's
``lost_worker_grace``, :func:`as_completed_placed` (which studies wait with) reports it with
:class:`PlacementError` too. ``retries`` reruns a task that raised.

Dask workers must not span a flaky WAN: Dask does not reconnect a worker that lost its link to
the scheduler. The edge twin (``fmitwin run``) is a process of its own, not a Dask worker, and the
cluster stands where the central service is; "edge" workers are the central site's machines
closest to the plant (or an edge site's own cluster), not the twin's host across the WAN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

LATENCIES = ("realtime", "interactive", "batch")
TIERS = ("edge", "fog", "cloud")
GPU = "GPU"
MEMORY = "MEMORY"
SITE = "site:"  # a worker's site tag is the resource "site:<name>"

GiB = 2**30
_CHECK_EVERY_S = 1.0  # how often as_completed_placed checks the workers while nothing finishes


class PlacementError(ValueError):
    """No worker of the cluster offers what a task requires (the message names the requirement
    and what the workers offer)."""


def _bytes(value: int | float | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        from dask.utils import parse_bytes

        try:
            return parse_bytes(value)
        except ValueError:
            raise ValueError(
                f"requirements: memory {value!r} is not a size; give bytes or a string such as "
                "'8 GiB'"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"requirements: memory must be a non-negative size, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Requirements:
    """What a task needs. ``latency``: "realtime", "interactive" or "batch" (default);
    ``memory``: bytes (or a string such as ``"8 GiB"``), None for no claim; ``cores``: threads
    it occupies; ``gpus``: GPUs it needs; ``site``: the site it must run at, or None;
    ``tier``: force a tier ("edge", "fog", "cloud") instead of the policy's choice."""

    latency: str = "batch"
    memory: int | str | None = None
    cores: int = 1
    gpus: int = 0
    site: str | None = None
    tier: str | None = None

    def __post_init__(self) -> None:
        if self.latency not in LATENCIES:
            raise ValueError(
                f"requirements: latency must be one of {', '.join(LATENCIES)}, got {self.latency!r}"
            )
        object.__setattr__(self, "memory", _bytes(self.memory))
        for name, least in (("cores", 1), ("gpus", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(
                    f"requirements: {name} must be a whole number >= {least}, got {value!r}"
                )
        if self.site is not None and (
            not isinstance(self.site, str) or not self.site or any(c in self.site for c in " =,")
        ):
            raise ValueError(
                f"requirements: site must be a name without spaces, '=' or ',', got {self.site!r}"
            )
        if self.tier is not None and self.tier not in TIERS:
            raise ValueError(
                f"requirements: tier must be one of {', '.join(TIERS)}, got {self.tier!r}"
            )


@dataclass(frozen=True)
class PlacementPolicy:
    """Maps :class:`Requirements` to Dask worker resources.

    ``tiers``: the tier of each latency class (default: realtime at the edge, interactive and
    batch on the fog); ``heavy``: the tier of non-real-time work that needs a GPU or at least
    ``large_memory`` bytes (default: the cloud; real-time work stays at its tier and needs a
    GPU there). A task's own ``tier`` overrides both. ``lost_worker_grace``: seconds that
    :func:`as_completed_placed` waits for a worker able to run pending tasks to come back (a
    nanny restarting it) before it reports them unplaceable."""

    tiers: Mapping[str, str] = field(
        default_factory=lambda: {"realtime": "edge", "interactive": "fog", "batch": "fog"}
    )
    heavy: str = "cloud"
    large_memory: int = 16 * GiB
    lost_worker_grace: float = 30.0

    def __post_init__(self) -> None:
        missing = [latency for latency in LATENCIES if latency not in self.tiers]
        unknown = {t for t in (*self.tiers.values(), self.heavy) if t not in TIERS}
        if missing or unknown:
            raise ValueError(
                f"policy: give a tier ({', '.join(TIERS)}) for every latency class "
                f"({', '.join(LATENCIES)}); missing {missing}, unknown tiers {sorted(unknown)}"
            )
        if not self.lost_worker_grace >= 0:
            raise ValueError(
                f"policy: lost_worker_grace must be seconds >= 0, got {self.lost_worker_grace!r}"
            )

    def tier(self, requirements: Requirements) -> str:
        """The tier the task runs on."""
        if requirements.tier is not None:
            return requirements.tier
        heavy = requirements.gpus > 0 or (requirements.memory or 0) >= self.large_memory
        if heavy and requirements.latency != "realtime":
            return self.heavy
        return self.tiers[requirements.latency]

    def resources(self, requirements: Requirements) -> dict[str, float]:
        """The ``resources=`` of the task in Dask."""
        cores = float(requirements.cores)
        resources = {self.tier(requirements): cores}
        if requirements.site is not None:
            resources[SITE + requirements.site] = cores
        if requirements.gpus:
            resources[GPU] = float(requirements.gpus)
        if requirements.memory:
            resources[MEMORY] = float(requirements.memory)
        return resources


def worker_resources(
    tier: str, cores: int, *, site: str | None = None, gpus: int = 0, memory: Any = None
) -> dict[str, float]:
    """The resources a worker of ``tier`` with ``cores`` threads offers (pass them as
    ``resources=`` to a Dask ``Worker``/``Nanny``, or :func:`resources_argument` of them to
    ``dask worker --resources``)."""
    offer = Requirements(cores=cores, gpus=gpus, memory=memory, site=site, tier=tier)
    return PlacementPolicy().resources(offer)


def resources_argument(resources: Mapping[str, float]) -> str:
    """``{"fog": 2, "MEMORY": 8e9}`` as ``dask worker --resources`` takes it: ``"fog=2
    MEMORY=8000000000"``."""
    return " ".join(f"{name}={_number(amount)}" for name, amount in resources.items())


def _number(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else repr(float(amount))


def _describe(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{name}={_number(amount)}" for name, amount in resources.items()) or "none"


def _what(name: str, requirements: Requirements, policy: PlacementPolicy) -> str:
    """The requirement behind resource ``name``, in the task's own words."""
    if name == GPU:
        return f"gpus={requirements.gpus}"
    if name == MEMORY:
        return f"memory={requirements.memory} bytes"
    if name.startswith(SITE):
        return f"site={requirements.site!r} with cores={requirements.cores}"
    if requirements.tier is not None:
        why = f"tier={requirements.tier!r}"
    elif name == policy.heavy and policy.tiers[requirements.latency] != name:
        why = "a GPU or large memory"
    else:
        why = f"latency={requirements.latency!r}"
    return f"{why} (the {name} tier) with cores={requirements.cores}"


def check_placeable(
    client: Any, requirements: Requirements, policy: PlacementPolicy | None = None
) -> dict[str, float]:
    """The Dask resources of ``requirements`` once some worker of ``client``'s cluster offers
    them all; raises :class:`PlacementError` naming the requirement no worker meets otherwise."""
    policy = policy or PlacementPolicy()
    needed = policy.resources(requirements)
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    offers = "; ".join(
        f"{w.get('name', '?')}: {_describe(w.get('resources') or {})}" for w in workers
    )
    if not workers:
        raise PlacementError(
            f"requirements: the cluster has no workers to run {_describe(needed)}; start "
            "workers with resources (dask worker ADDRESS --resources ...)"
        )

    def offered(worker: Mapping[str, Any], name: str) -> float:
        return (worker.get("resources") or {}).get(name, 0.0)

    for name, amount in needed.items():
        if not any(offered(w, name) >= amount for w in workers):
            raise PlacementError(
                f"requirements: no worker offers {name}={_number(amount)}, needed for "
                f"{_what(name, requirements, policy)}; the workers offer: {offers}"
            )
    if not any(all(offered(w, n) >= a for n, a in needed.items()) for w in workers):
        raise PlacementError(
            f"requirements: no single worker offers all of {_describe(needed)}; the workers "
            f"offer: {offers}"
        )
    return needed


def submit_placed(
    client: Any,
    fn: Callable[..., Any],
    *args: Any,
    requirements: Requirements | None = None,
    retries: int = 0,
    policy: PlacementPolicy | None = None,
    **kwargs: Any,
) -> Any:
    """``client.submit(fn, *args, **kwargs)`` on a worker that meets ``requirements`` (checked
    first, see :func:`check_placeable`; None: any worker), rerun up to ``retries`` times when it
    raises. Returns the Dask Future."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries: expected a whole number >= 0, got {retries!r}")
    resources = None
    if requirements is not None:
        resources = check_placeable(client, requirements, policy)
    kwargs.setdefault("pure", False)
    return client.submit(fn, *args, resources=resources, retries=retries or None, **kwargs)


def as_completed_placed(
    client: Any,
    futures: Iterable[Any],
    requirements: Requirements | None = None,
    policy: PlacementPolicy | None = None,
) -> Iterator[Any]:
    """The ``futures`` as they finish, like ``distributed.as_completed``; while none finishes,
    the workers are checked against ``requirements``: when the workers able to run them are
    lost for longer than the policy's ``lost_worker_grace`` (Dask would wait forever), the
    pending futures are cancelled and :class:`PlacementError` names what no worker offers."""
    from distributed import wait

    policy = policy or PlacementPolicy()
    pending = set(futures)
    lost_since = None
    while pending:
        try:
            done, pending = wait(pending, timeout=_CHECK_EVERY_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        yield from done
        if done or requirements is None:
            lost_since = None
            continue
        try:
            check_placeable(client, requirements, policy)
            lost_since = None
        except PlacementError as lost:
            now = time.monotonic()
            lost_since = now if lost_since is None else lost_since
            if now - lost_since >= policy.lost_worker_grace:
                client.cancel(list(pending))
                raise PlacementError(
                    f"requirements: {len(pending)} task(s) lost the workers that could run "
                    f"them and none came back within {policy.lost_worker_grace:g} s: "
                    f"{str(lost).removeprefix('requirements: ')}"
                ) from None
