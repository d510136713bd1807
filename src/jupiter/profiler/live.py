"""The gathered profile brought up to date from the agents (`GET /home/profile?refresh=1`).

After profiling, the agents keep probing their links in periodic rounds, refit them every
`refit_interval` seconds and sample their resources every 2 s; the profile the mapper used
is a snapshot of the moment profiling finished. `refreshed_profile` re-reads, from every
agent, its current link fits (`GET /profiler/network?samples=0`) and its latest resource
sample (`GET /profiler/resources`), and returns a copy of the profile with those two parts
replaced. The execution figures (`compute`, `output_bytes`) stay as gathered: the agents do
not re-time tasks. The profile passed in is never modified.

An agent that does not answer (or answers badly) keeps its gathered figures; the copy says
which nodes were read and which were not in `settings["refresh"]`, so that the document is
still a plain `Profile` and tells the truth about where each part came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
from pydantic import ValidationError

from jupiter.api.client import AgentClient, CallFailed
from jupiter.api.reading import first_error
from jupiter.profiler.model import LinkProfile, Profile, ResourceSample
from jupiter.profiler.sampled import merge_refreshed

# Longest the home waits for one agent's answer when refreshing.
REFRESH_TIMEOUT_S = 10.0


async def refreshed_profile(
    profile: Profile,
    urls: dict[str, str],
    session: aiohttp.ClientSession | None,
    auth: dict[str, str],
    timeout: float = REFRESH_TIMEOUT_S,
) -> Profile:
    """`profile` with every reachable agent's current link fits and latest resource sample.

    urls: node -> base URL of its agent (the home's registered agents). `session` is the
    home's client session; None (or closed, during teardown) opens a short-lived one.
    """
    began = time.perf_counter()
    nodes = list(profile.nodes)
    async with contextlib.AsyncExitStack() as stack:
        if session is None or session.closed:
            session = await stack.enter_async_context(aiohttp.ClientSession())
        answers = await asyncio.gather(
            *(_read(session, node, urls.get(node), set(nodes), auth, timeout) for node in nodes)
        )

    links = {node: dict(row) for node, row in profile.links.items()}
    resources = dict(profile.resources)
    read: list[str] = []
    failed: dict[str, str] = {}
    rounds: dict[str, int] = {}
    for node, answer in zip(nodes, answers, strict=True):
        if isinstance(answer, str):
            failed[node] = answer
            continue
        fits, sample, node_rounds = answer
        read.append(node)
        rounds[node] = node_rounds
        if fits:
            # A link the agent has no fit for yet keeps its gathered one; an inferred
            # bandwidth stays until the agent's probes resolve one.
            row = links.get(node, {})
            links[node] = {
                **row,
                **{peer: merge_refreshed(row.get(peer), fit) for peer, fit in fits.items()},
            }
        resources[node] = sample
    refresh = {
        "at": time.time(),
        "seconds": time.perf_counter() - began,
        "nodes": read,
        "failed": failed,
        "rounds": rounds,
        "kept": ["compute", "output_bytes"],
    }
    return profile.model_copy(
        update={
            "links": links,
            "resources": resources,
            "settings": {**profile.settings, "refresh": refresh},
        },
        deep=True,
    )


async def _read(
    session: aiohttp.ClientSession,
    node: str,
    url: str | None,
    nodes: set[str],
    auth: dict[str, str],
    timeout: float,
) -> tuple[dict[str, LinkProfile], ResourceSample, int] | str:
    """(fits to the profile's nodes, latest sample, probing rounds), or why not, in a line."""
    if url is None:
        return "no agent registered for this node"
    agent = AgentClient(session, {node: url}, auth)
    try:
        network = await agent.network(node, samples=False, timeout=timeout)
        resources = await agent.resources(node, timeout=timeout)
        fits = {
            peer: LinkProfile.model_validate(fit)
            for peer, fit in network.fits.items()
            if peer in nodes and peer != node
        }
        sample = ResourceSample.model_validate(resources.latest)
        return fits, sample, network.rounds
    except CallFailed as error:
        return f"profiling on {error}"
    except ValidationError as error:
        return f"unexpected answer: {first_error(error)}"
