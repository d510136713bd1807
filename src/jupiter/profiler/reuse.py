"""The profile a run maps from when it profiles: reused from the cache, or gathered with
probes sized to the app and then cached; and a reused profile's links refreshed meanwhile.

Refreshing. A reused profile's figures were measured by an earlier run. While this run
maps and streams, its agents probe their links once more (one first round, no later
rounds: `start_refresh`), with the sizes the cached profile probed; at the end of the run,
before teardown, `store_refresh` reads whatever fits the agents have by then (live.py) and
writes the entry back with those links and resources. The execution figures stay as they
were, and so does the entry's age (`created_at`): it dates the oldest figure in it. A run
that ends before an agent finishes its round keeps that agent's cached links. Above
`REFRESH_MAX_NODES` nodes no refresh is started: there the round takes this machine's cores
for tens of seconds, beside the stream it would then distort.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

import aiohttp

from jupiter.api.client import AgentClient, CallFailed
from jupiter.app.spec import App
from jupiter.cluster.spec import Cluster
from jupiter.profiler.cache import (
    MAX_AGE_S,
    CacheMode,
    ProfileCache,
    format_age,
    mark_from_cache,
)
from jupiter.profiler.home import ProfileSettings, gather_profile
from jupiter.profiler.live import refreshed_profile
from jupiter.profiler.model import Profile
from jupiter.profiler.sizes import app_transfer_sizes, probe_sizes
from jupiter.progress import Progress

log = logging.getLogger(__name__)

REFRESH_MAX_NODES = 32
# Seconds the end of a run waits for the agents' refreshed fits.
REFRESH_READ_TIMEOUT_S = 3.0


@dataclass
class ProfileReuse:
    """Where the run's profile came from, and what to do with the cache at the end."""

    profile: Profile
    cache: ProfileCache | None
    from_cache: bool
    refreshing: bool = False


async def obtain_profile(
    session: aiohttp.ClientSession,
    urls: dict[str, str],
    app: App,
    cluster: Cluster,
    auth: dict[str, str],
    settings: ProfileSettings,
    mode: CacheMode = "off",
    progress: Progress | None = None,
) -> ProfileReuse:
    """A cached profile if `mode` allows one that matches, else a fresh one (then cached).

    With `settings.sizes` None the probes are sized to the app: its sample inputs, and its
    tasks' outputs as an earlier profile of it measured them, or as app.yaml estimates them.
    """
    cache = None if mode == "off" else ProfileCache(app, cluster)
    if cache is not None and mode in ("auto", "cached"):
        found = cache.lookup(
            MAX_AGE_S if mode == "auto" else None,
            settings.sizes,
            every_node=settings.execution and settings.execution_nodes == "every-node",
        )
        if found is not None:
            log.info("profile reused from the cache: %s", found.describe())
            return ProfileReuse(mark_from_cache(found), cache, from_cache=True)
        if mode == "cached":
            log.warning("no cached profile of %s on this cluster: profiling", app.name)
    sized_from = "--sizes" if settings.sizes is not None else "default"
    if settings.sizes is None:
        measured = cache.measured_output_bytes() if cache is not None else {}
        transfers = app_transfer_sizes(app, measured)
        if transfers:
            settings = dataclasses.replace(settings, sizes=probe_sizes(transfers))
            estimated = any(
                task.estimate_output_bytes is not None and name not in measured
                for name, task in app.tasks.items()
            )
            parts = ["measured outputs of an earlier profile"] if measured else []
            parts += ["declared estimates"] if estimated else []
            sized_from = "the app: " + " and ".join([*parts, "sample inputs"])
    profile = await gather_profile(session, urls, app, cluster, auth, settings, progress)
    profile.settings["probe_sizes"] = {"sizes": settings.probe_sizes, "from": sized_from}
    if cache is not None:
        try:
            cache.store(profile)
        except OSError as error:
            # A read-only or full cache folder costs the next run its reuse, not this run.
            log.warning("profile not cached in %s: %s", cache.path, error)
    return ProfileReuse(profile, cache, from_cache=False)


def profile_origin(profile: Profile, source: str | None) -> str:
    """figure_sources["profile"]: where the figures the run mapped from came from."""
    cached = profile.settings.get("cache")
    if cached:
        return f"cache: {cached['path']}, taken {format_age(cached['age_seconds'])} ago"
    if source is not None:
        return f"file: {source}"
    sizes = profile.settings.get("probe_sizes", {})
    probed = ", ".join(_size(size) for size in sizes.get("sizes", []))
    return "fresh: profiled by this run" + (
        f" (probe sizes {probed}, from {sizes['from']})" if probed else ""
    )


async def start_refresh(
    reuse: ProfileReuse,
    session: aiohttp.ClientSession,
    urls: dict[str, str],
    cluster: Cluster,
    auth: dict[str, str],
    settings: ProfileSettings,
) -> None:
    """Have the agents probe their links once more, in the background of the run."""
    nodes = cluster.node_names
    if not reuse.from_cache or len(nodes) < 2 or len(nodes) > REFRESH_MAX_NODES:
        return
    probed = reuse.profile.settings.get("network", {}).get("sizes")
    settings = dataclasses.replace(settings, sizes=probed or settings.sizes, interval=0.0)
    agents = AgentClient(session, urls, auth)
    plans = {node: settings.plan_for(i, nodes, urls) for i, node in enumerate(nodes)}
    try:
        await asyncio.gather(*(agents.network_start(node, plan) for node, plan in plans.items()))
    except CallFailed as error:
        log.warning("the cached profile's links are not refreshed: %s", error)
        return
    reuse.refreshing = True


async def store_refresh(
    reuse: ProfileReuse,
    session: aiohttp.ClientSession,
    urls: dict[str, str],
    auth: dict[str, str],
) -> Profile | None:
    """Write the cache entry back with the links the agents refitted meanwhile (None: not
    refreshing, or no agent had a fit yet)."""
    if not reuse.refreshing or reuse.cache is None:
        return None
    refreshed = await refreshed_profile(
        reuse.profile, urls, session, auth, timeout=REFRESH_READ_TIMEOUT_S
    )
    rounds = refreshed.settings["refresh"]["rounds"]
    if not any(rounds.values()):
        log.info("no agent finished its refresh round before the run ended: cache kept")
        return None
    try:
        reuse.cache.store(refreshed)
    except OSError as error:
        log.warning("refreshed profile not cached in %s: %s", reuse.cache.path, error)
        return None
    return refreshed


def _size(size: int) -> str:
    if size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)}M"
    return f"{size // 1024}K" if size % 1024 == 0 else f"{size}B"
