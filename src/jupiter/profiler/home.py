"""The home profiler: starts and paces the agents' profilers, then gathers one `Profile`.

Network. Every agent probes every other node. The home hands each agent its peers in a
rotated order (agent i starts with node i+1), so that at each step every node is probed by
one sender, and spreads the probing in time: on the local backend every agent shares this
machine's cores, and a probe waiting for a CPU would read as a slow link. The first round
probes as many sizes as the cluster-wide budgets allow (all of them on a few nodes, one
small size per link on a hundred), so that a first full picture is ready in seconds; later
rounds, a phase apart per agent, add one size per link each, within each link's share.

Execution. One node runs the DAG once on sample input 0 and pushes the intermediate outputs
to the nodes that time the tasks: a few of each hardware class (`execution_nodes`
`per-class`, profiler/classes.py; the others' figures are their class's scaled by speed), or
every node (`every-node`); they time every task, at most `execution_parallel` nodes at once
(on the local backend they share the cores, and a contended core would read as a slow node).

Deadline. Profiling as a whole has one timeout (`--profile-timeout`; by default scaled to the
app and the cluster). While the agents work, the home polls the busy ones for the task they
are running, which drives the progress bar and, when the deadline passes, names the task and
node that hung. A task's own `timeout:` applies to every profiling run of it as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from jupiter.api.client import AgentClient, Answer, CallFailed
from jupiter.api.profiler import (
    DEFAULT_SIZES,
    ChainRequest,
    ExecutionFigures,
    NetworkAnswer,
    NetworkPlan,
    RunRequest,
    ShareRequest,
)
from jupiter.app.spec import App
from jupiter.background import background
from jupiter.cluster.spec import Cluster
from jupiter.errors import RunError
from jupiter.host_cpu import busy_cores, host_cores
from jupiter.profiler.classes import (
    DEFAULT_PER_CLASS,
    ExecutionNodes,
    FigureSource,
    node_classes,
    pick_timed,
    spread,
)
from jupiter.profiler.execution import DEFAULT_BUDGET_S, DEFAULT_REPEATS, SAMPLE_INPUT_ID
from jupiter.profiler.model import LinkProfile, NetworkInference, Profile, ResourceSample
from jupiter.profiler.sampled import (
    SampledPlan,
    coordinate_groups,
    hold_out,
    infer_links,
    plan_sampled,
    region_groups,
)
from jupiter.progress import Progress

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# CPU seconds one small probe costs its two agents together (client and server, digest and
# HTTP), measured with 106 and with 1,000 agents on this machine; and the share of the cores
# left that probing may take, so that a probe seldom waits for a CPU.
PROBE_CPU_S = 0.004
PROBE_CORE_SHARE = 0.6
# However busy the host, probing goes on at least this fast.
MIN_PROBE_RATE = 20.0
# Above this many nodes the sampled strategy's representatives take every size twice, in
# a budget of this many bytes (ProfileSettings.representative_bytes).
REPEAT_REPRESENTATIVES_ABOVE = 200
LARGE_REPRESENTATIVE_BYTES = 640 * MIB
# The sampled strategy's latency phase repeats its probes only while they fit in this long.
LATENCY_PHASE_S = 8.0
# How long `shared_host_cores` watches the CPUs.
SHARED_CORES_SAMPLE_S = 0.5
# Seconds between two looks at what the busy agents are running.
POLL_INTERVAL_S = 1.0
# Seconds to wait for one such look; a hung task does not stop its agent from answering.
POLL_TIMEOUT_S = 3.0


def default_profile_timeout(tasks: int, nodes: int) -> float:
    """Profiling's deadline when none is given: 2 minutes, plus 2 s a node (probing and
    resources) and 0.25 s per task per node (the timed runs). A bound, not a prediction."""
    return 120.0 + 2.0 * nodes + 0.25 * tasks * nodes


@dataclass
class ProfileSettings:
    """How to profile; the defaults suit both 8 and 100+ emulated nodes on one machine."""

    network: bool = True
    execution: bool = True
    # Probe sizes; None: sized to the app where a run knows it (profiler/sizes.py), else
    # DEFAULT_SIZES.
    sizes: list[int] | None = None
    # The first round's sizes and probes per size; None: the most that fits both budgets
    # (see first_round).
    first_sizes: list[int] | None = None
    first_repeats: int | None = None
    # A probe costs about 2 ms of CPU on each of its two agents, whatever its size, plus
    # hashing and copying per byte: on the local backend, where every agent shares this
    # machine, these two budgets are what keeps the first round of 100+ nodes in seconds.
    first_round_probes: int = 12_000
    first_round_bytes: int = 256 * MIB
    interval: float = 60.0
    refit_interval: float = 600.0
    window: int = 60
    max_link_share: float = 0.05
    # None: one interval's share of link time (at least a minute's).
    burst_seconds: float | None = None
    # Probes in flight across the cluster, at most per_node_concurrency from one node; at
    # least one per node, so a big cluster's first round is bounded by CPU, not latency.
    in_flight: int = 16
    per_node_concurrency: int = 4
    # Probes and probe bytes per second across the cluster (None: no limit). Each agent
    # spaces its probes to its 1/n share of both, from staggered offsets, so that probing
    # is spread evenly in time instead of queueing for this machine's CPU, where the wait
    # would read as latency, or a slow link. A probe costs ~2 ms of CPU plus ~3 ms a MiB.
    probe_rate: float | None = 500.0
    byte_rate: float | None = 100e6
    # Cores left for the agents' probes when every agent runs on this machine (the local
    # backend measures it once they are up: `shared_host_cores`); None: each agent has its
    # own. The probe rate is then also held to what those cores carry (`effective_probe_rate`).
    shared_cores: float | None = None
    execution_repeats: int = DEFAULT_REPEATS
    execution_budget: float = DEFAULT_BUDGET_S
    # None: this machine's core count.
    execution_parallel: int | None = None
    # Which nodes time the tasks: `per-class`, up to `execution_per_class` nodes of each
    # hardware class (the others' figures scaled from theirs by speed), or `every-node`.
    execution_nodes: ExecutionNodes = "per-class"
    execution_per_class: int = DEFAULT_PER_CLASS
    # Seconds profiling may take in all (None: default_profile_timeout).
    timeout: float | None = None
    # "full": every link probed; "sampled": a few links probed, the rest inferred
    # (profiler/sampled.py); "auto": sampled above `sampled_above` nodes.
    strategy: str = "auto"
    sampled_above: int = 24
    # The sampled strategy: peers each node probes for latency (landmarks included), links
    # probed for bandwidth per ordered group pair, the fraction of latency links held out
    # of the fit to measure its error, and the seed of every random choice.
    latency_peers: int = 8
    representatives: int = 3
    # The bandwidth phase's byte budget. None: `first_round_bytes` up to
    # REPEAT_REPRESENTATIVES_ABOVE nodes, else LARGE_REPRESENTATIVE_BYTES, which lets each
    # representative take every size twice (the lower of two probes is the link, the higher
    # what else the host was doing): above a few hundred agents on one machine the host's
    # noise outvotes one probe a size (inter-region bandwidth within 10% on 66% of 1,000
    # nodes' links with one, 87.5% with two; at 106 one was 98 to 99.9%, and quicker).
    representative_bytes: int | None = None
    held_out: float = 0.2
    seed: int = 0

    def sampled(self, nodes: int) -> bool:
        """Whether a cluster of `nodes` is profiled with the sampled strategy."""
        if self.strategy not in ("auto", "full", "sampled"):
            raise ValueError(f"profiler strategy is auto, full or sampled, got {self.strategy!r}")
        return self.strategy == "sampled" or (
            self.strategy == "auto" and nodes > self.sampled_above
        )

    @property
    def probe_sizes(self) -> list[int]:
        return sorted(set(self.sizes or DEFAULT_SIZES))

    def deadline(self, app: App, nodes: int) -> float:
        if self.timeout is not None:
            return self.timeout
        return default_profile_timeout(len(app.tasks), nodes)

    def sampled_repeats(self, links: int, sizes: list[int], max_bytes: int, bandwidth: bool) -> int:
        """Probes per size in a sampled phase's first round over `links` links: more when
        both budgets allow (the lowest of a few probes is what the link costs, the rest what
        else this machine was doing at that moment), up to 3 in the latency phase and 2 in
        the bandwidth phase; 1 when neither fits. The latency phase also keeps to
        LATENCY_PHASE_S at the probe rate: a third probe a link is worth less than the
        seconds it adds to the first picture."""
        rate = self.effective_probe_rate()
        for more in (2,) if bandwidth else (3, 2):
            if self._affordable(links, sizes, more, max_bytes) and (
                bandwidth or not rate or links * more <= rate * LATENCY_PHASE_S
            ):
                return more
        return 1

    def _affordable(self, links: int, sizes: list[int], repeats: int, max_bytes: int) -> bool:
        """Whether `repeats` probes of each of `sizes` on `links` links keep within
        `first_round_probes` and `max_bytes`."""
        return links * len(sizes) * repeats <= self.first_round_probes and (
            links * sum(sizes) * repeats <= max_bytes
        )

    def representative_budget(self, nodes: int) -> int:
        """The bandwidth phase's byte budget on a cluster of `nodes`."""
        if self.representative_bytes is not None:
            return self.representative_bytes
        if nodes > REPEAT_REPRESENTATIVES_ABOVE:
            return LARGE_REPRESENTATIVE_BYTES
        return self.first_round_bytes

    def effective_probe_rate(self) -> float | None:
        """Probes per second across the cluster: `probe_rate`, held to PROBE_CORE_SHARE of
        the shared cores at PROBE_CPU_S a probe when the agents share this machine. Past
        that the probes queue for the CPU, and the queueing reads as latency: 1,000 agents
        probing at 500 a second put the median latency 380% over the link model."""
        if self.shared_cores is None:
            return self.probe_rate
        affordable = PROBE_CORE_SHARE * max(self.shared_cores, 0.0) / PROBE_CPU_S
        affordable = max(affordable, MIN_PROBE_RATE)
        return affordable if self.probe_rate is None else min(self.probe_rate, affordable)

    def first_round(self, links: int, max_bytes: int | None = None) -> tuple[list[int], int]:
        """(sizes, probes per size) of the first round over `links` links, within
        `max_bytes` (default: `first_round_bytes`) and `first_round_probes`.

        In order of preference: every size twice (so that one unlucky probe is outvoted),
        every size once, then the smaller sizes (dropping the largest, at least two), and
        at worst the smallest size alone: latency only, bandwidth left to later rounds.
        """
        sizes = sorted(set(self.first_sizes or self.probe_sizes))
        if self.first_sizes is not None:
            return sizes, self.first_repeats or 1

        budget = self.first_round_bytes if max_bytes is None else max_bytes
        repeat_options = (2, 1) if self.first_repeats is None else (self.first_repeats,)
        for count in range(len(sizes), 1, -1):
            for repeats in repeat_options:
                if self._affordable(links, sizes[:count], repeats, budget):
                    return sizes[:count], repeats
        return sizes[:1], 1

    def plan_for(self, index: int, nodes: list[str], urls: dict[str, str]) -> NetworkPlan:
        n = len(nodes)
        order = nodes[index + 1 :] + nodes[:index]
        concurrency = max(1, min(self.per_node_concurrency, self.in_flight // n))
        first_sizes, first_repeats = self.first_round(n * (n - 1))
        rate = self.effective_probe_rate()
        spacing = n / rate if rate else 0.0
        byte_spacing = n / self.byte_rate if self.byte_rate else 0.0
        return NetworkPlan(
            peers=[(peer, urls[peer]) for peer in order],
            first_sizes=first_sizes,
            sizes=self.probe_sizes,
            first_repeats=first_repeats,
            interval=self.interval,
            phase=self.interval * index / n,
            refit_interval=self.refit_interval,
            window=self.window,
            concurrency=concurrency,
            spacing=spacing,
            byte_spacing=byte_spacing,
            # Staggered by the gap that follows the first (largest) probe, so that agents
            # take turns rather than all sending their largest probes at once.
            offset=(spacing + max(first_sizes) * byte_spacing) * index / n,
            max_link_share=self.max_link_share,
            burst_seconds=(
                self.max_link_share * max(self.interval, 60.0)
                if self.burst_seconds is None
                else self.burst_seconds
            ),
        )


class AgentCalls(AgentClient):
    """The profiler's calls to the agents: every failure a RunError naming the node, and a
    task that failed on the sample input reported in its own words."""

    async def profiling(self, node: str, work: Awaitable[Answer]) -> Answer:
        try:
            return await work
        except CallFailed as failure:
            if failure.status == 422:
                # A task failed on the sample input: its own message says what and why.
                detail = failure.detail[:4000]
                raise RunError(f"profiling on node {node} (sample input 0): {detail}") from None
            raise RunError(f"profiling on {failure}") from None


def shared_host_cores(sample_s: float = SHARED_CORES_SAMPLE_S) -> float:
    """Cores of this machine not busy now (over `sample_s`): what agents that all run here,
    idle, leave to their probes. Their own upkeep (heartbeats, resource samples) counts as
    busy: 1,000 idle agents keep more than half a core of two."""
    return max(0.0, host_cores() - busy_cores(sample_s))


async def gather_profile(
    session: aiohttp.ClientSession,
    urls: dict[str, str],
    app: App,
    cluster: Cluster,
    auth: dict[str, str],
    settings: ProfileSettings | None = None,
    progress: Progress | None = None,
) -> Profile:
    """Profile links, nodes and tasks through the agents at `urls` (node -> base URL)."""
    settings = settings or ProfileSettings()
    nodes = cluster.node_names
    missing = [node for node in nodes if node not in urls]
    if missing:
        raise RunError(f"profiling: no agent for nodes {missing}")
    agents = AgentCalls(session, urls, auth)
    began = time.perf_counter()
    timings: dict[str, float] = {}
    limit = settings.deadline(app, len(nodes))
    watch = _Watch(agents, app, progress)

    links: dict[str, dict[str, LinkProfile]] = {}
    plan_used: dict[str, Any] = {}
    inference: NetworkInference | None = None
    compute: dict[str, dict[str, float]] = {}
    compute_source: dict[str, dict[str, FigureSource]] = {}
    classes = node_classes(cluster)
    timed = pick_timed(cluster, classes, settings.execution_per_class, settings.execution_nodes)
    runs = 0
    output_bytes: dict[str, int] = {}
    async with _deadline(limit, watch) as remaining:
        if settings.network and len(nodes) > 1:
            started = time.perf_counter()
            if settings.sampled(len(nodes)):
                links, plan_used, inference = await sampled_network(
                    agents, cluster, settings, watch, remaining()
                )
            else:
                links, plan_used = await _network(agents, nodes, settings, watch, remaining())
            timings["network"] = time.perf_counter() - started

        if settings.execution:
            started = time.perf_counter()
            on = [node for node in nodes if any(node in group for group in timed.values())]
            measured, output_bytes, runs = await _execution(agents, app, on, settings, watch)
            compute, compute_source = spread(app.tasks, cluster, classes, measured)
            timings["execution"] = time.perf_counter() - started

        started = time.perf_counter()
        watch.busy = {node: "resources" for node in nodes}
        answers = await asyncio.gather(
            *(agents.profiling(node, agents.resources(node)) for node in nodes)
        )
    resources = {
        node: ResourceSample.model_validate(answer.latest)
        for node, answer in zip(nodes, answers, strict=True)
    }
    timings["resources"] = time.perf_counter() - started
    timings["total"] = time.perf_counter() - began

    return Profile(
        app=app.name,
        tasks=list(app.tasks),
        nodes=nodes,
        emulated=cluster.emulate,
        dilation=cluster.dilation,
        created_at=time.time(),
        links=links,
        resources=resources,
        compute=compute,
        compute_source=compute_source,
        classes=classes if settings.execution else {},
        output_bytes=output_bytes,
        timings=timings,
        settings={
            "network": plan_used,
            "execution": {
                "repeats": settings.execution_repeats,
                "budget_seconds": settings.execution_budget,
                "sample_input": 0,
                "nodes": settings.execution_nodes,
                "per_class": settings.execution_per_class,
                "timed": timed,
                "runs": runs,
            }
            if settings.execution
            else {},
        },
        network_inference=inference,
    )


async def _network(
    agents: AgentCalls,
    nodes: list[str],
    settings: ProfileSettings,
    watch: _Watch,
    wait: float,
) -> tuple[dict[str, dict[str, LinkProfile]], dict[str, Any]]:
    plans = {node: settings.plan_for(i, nodes, agents.urls) for i, node in enumerate(nodes)}
    await asyncio.gather(
        *(agents.profiling(node, agents.network_start(node, plan)) for node, plan in plans.items())
    )
    watch.start("profile network", len(nodes))
    watch.busy = {node: "first round of network probes" for node in nodes}

    async def first_round(node: str) -> NetworkAnswer:
        answer = await agents.profiling(
            node,
            agents.network(node, samples=False, wait_first=wait, timeout=wait + 30),
        )
        del watch.busy[node]
        watch.finished(node, 1)
        return answer

    answers = await asyncio.gather(*(first_round(node) for node in nodes))
    links = {
        node: {peer: LinkProfile.model_validate(fit) for peer, fit in answer.fits.items()}
        for node, answer in zip(nodes, answers, strict=True)
    }
    first = plans[nodes[0]]
    used = first.model_dump(exclude={"peers", "phase"})
    used["first_round_seconds"] = {
        node: answer.first_round_seconds for node, answer in zip(nodes, answers, strict=True)
    }
    # Probes that did not arrive: their links may lack a fit (the problem builder says so).
    used["failed_probes"] = sum(answer.failures for answer in answers)
    return links, used


async def sampled_network(
    agents: AgentCalls,
    cluster: Cluster,
    settings: ProfileSettings,
    watch: _Watch,
    wait: float,
) -> tuple[dict[str, dict[str, LinkProfile]], dict[str, Any], NetworkInference]:
    """The sampled strategy (profiler/sampled.py), in two phases: every node probes its
    latency peers with the smallest size; then the representative links are probed with
    every size. Apart, because a large probe queued at a node's NIC would delay a small one
    crossing it and read as latency. Groups are the regions; a cluster in one region is
    grouped by the coordinates of the first phase."""
    nodes = cluster.node_names
    seed = settings.seed
    regions = region_groups({node.name: node.region for node in cluster.nodes})
    latency_plan = plan_sampled(
        nodes, regions or {"all": nodes}, "region", settings.latency_peers, 0, seed
    )
    fits, latency_used = await _sampled_round(
        agents, nodes, latency_plan, settings, watch, wait, bandwidth=False
    )
    if regions is None:
        groups, groups_by = coordinate_groups(nodes, fits, seed), "coordinates"
    else:
        groups, groups_by = regions, "region"
    representatives = plan_sampled(
        nodes, groups, groups_by, settings.latency_peers, settings.representatives, seed
    ).representatives
    plan = SampledPlan(groups, groups_by, latency_plan.latency_peers, representatives)
    more, bandwidth_used = await _sampled_round(
        agents, nodes, plan, settings, watch, wait, bandwidth=True
    )
    for node, row in more.items():
        fits.setdefault(node, {}).update(row)
    held = hold_out(plan.latency_peers, plan.representative_links, settings.held_out, seed)
    links, inference = infer_links(nodes, plan, fits, held, seed)
    used: dict[str, Any] = {
        "strategy": "sampled",
        "sizes": settings.probe_sizes,
        "interval": settings.interval,
        "latency_phase": latency_used,
        "bandwidth_phase": bandwidth_used,
        "failed_probes": latency_used.pop("failed_probes") + bandwidth_used.pop("failed_probes"),
    }
    return links, used, inference


async def _sampled_round(
    agents: AgentCalls,
    nodes: list[str],
    plan: SampledPlan,
    settings: ProfileSettings,
    watch: _Watch,
    wait: float,
    bandwidth: bool,
) -> tuple[dict[str, dict[str, LinkProfile]], dict[str, Any]]:
    """Start the agents on one phase of `plan` and gather the fits of its first round.

    The latency phase goes to every node: its latency peers, the smallest size. The
    bandwidth phase goes to the nodes with representative links: their first round probes
    those with the sizes the budgets allow; the plan keeps the latency peers (left out of
    its first round) so that later rounds go on probing them."""
    n = len(nodes)
    sizes = settings.probe_sizes
    probes: dict[str, tuple[list[str], list[str]]] = {}
    for node in nodes:
        peers, only = plan.probes(node)
        if bandwidth and len(peers) > len(only):
            probes[node] = (peers, only)
        elif not bandwidth:
            probes[node] = (plan.latency_peers[node], plan.latency_peers[node])
    measured = sum(len(peers) - (len(only) if bandwidth else 0) for peers, only in probes.values())
    if bandwidth:
        budget = settings.representative_budget(n)
        first_sizes, repeats = settings.first_round(max(1, measured), budget)
    else:
        budget = settings.first_round_bytes
        first_sizes, repeats = sizes[:1], 1
    rate = settings.effective_probe_rate()
    repeats = max(repeats, settings.sampled_repeats(measured, first_sizes, budget, bandwidth))
    spacing = len(probes) / rate if rate else 0.0
    byte_spacing = len(probes) / settings.byte_rate if settings.byte_rate else 0.0
    plans: dict[str, NetworkPlan] = {}
    for index, node in enumerate(probes):
        peers, only = probes[node]
        plans[node] = NetworkPlan(
            peers=[(peer, agents.urls[peer]) for peer in peers],
            latency_only=only,
            first_skip=only if bandwidth else [],
            first_sizes=first_sizes,
            first_repeats=repeats,
            sizes=sizes,
            interval=settings.interval,
            phase=settings.interval * index / n,
            refit_interval=settings.refit_interval,
            window=settings.window,
            concurrency=max(1, min(settings.per_node_concurrency, settings.in_flight // n)),
            spacing=spacing,
            byte_spacing=byte_spacing,
            offset=(spacing + max(first_sizes) * byte_spacing) * index / len(probes),
            max_link_share=settings.max_link_share,
            burst_seconds=(
                settings.max_link_share * max(settings.interval, 60.0)
                if settings.burst_seconds is None
                else settings.burst_seconds
            ),
        )
    await asyncio.gather(
        *(agents.profiling(node, agents.network_start(node, plan)) for node, plan in plans.items())
    )
    watch.start("profile network" + (" bandwidth" if bandwidth else ""), len(plans))
    watch.busy = {node: "first round of network probes" for node in plans}

    async def first_round(node: str) -> NetworkAnswer:
        answer = await agents.profiling(
            node, agents.network(node, samples=False, wait_first=wait, timeout=wait + 30)
        )
        del watch.busy[node]
        watch.finished(node, 1)
        return answer

    answers = dict(
        zip(plans, await asyncio.gather(*(first_round(node) for node in plans)), strict=True)
    )
    fits = {
        node: {
            peer: LinkProfile.model_validate(fit)
            for peer, fit in answer.fits.items()
            if peer in probes[node][0] and (not bandwidth or peer not in probes[node][1])
        }
        for node, answer in answers.items()
    }
    used: dict[str, Any] = {
        "first_sizes": first_sizes,
        "first_repeats": repeats,
        "probe_rate": rate,
        "links": measured,
        "nodes": len(plans),
        "first_round_seconds": max(
            (answer.first_round_seconds or 0.0 for answer in answers.values()), default=0.0
        ),
        "failed_probes": sum(answer.failures for answer in answers.values()),
    }
    return fits, used


async def _execution(
    agents: AgentCalls,
    app: App,
    nodes: list[str],
    settings: ProfileSettings,
    watch: _Watch,
) -> tuple[dict[str, dict[str, float]], dict[str, int], int]:
    """Time every task on `nodes`: node -> task -> seconds, the output bytes, and the timed
    runs the agents made in all."""
    # The chain runs on the first timed node; any node would do, the outputs are the same.
    producer = nodes[0]
    poller = background(watch.poll(), "profiling progress poller")
    try:
        watch.start("profile execution chain", len(app.tasks))
        watch.busy = {producer: "chain"}
        chain = await agents.profiling(
            producer, agents.execution_chain(producer, ChainRequest(input_id=SAMPLE_INPUT_ID))
        )
        output_bytes = dict(chain.output_bytes)
        others = {node: agents.urls[node] for node in nodes if node != producer}
        watch.busy = {}
        if others:
            share = ShareRequest(peers=others, concurrency=8)
            await agents.profiling(producer, agents.execution_share(producer, share))
        watch.start("profile execution", len(nodes) * len(app.tasks))
        gate = asyncio.Semaphore(settings.execution_parallel or os.cpu_count() or 1)
        body = RunRequest(
            repeats=settings.execution_repeats, budget_seconds=settings.execution_budget
        )

        async def one(node: str) -> ExecutionFigures:
            async with gate:
                watch.busy[node] = "runs"
                try:
                    answer = await agents.profiling(node, agents.execution_run(node, body))
                finally:
                    del watch.busy[node]
            watch.finished(node, len(app.tasks))
            return answer

        answers = await asyncio.gather(*(one(node) for node in nodes))
    finally:
        poller.cancel()
    measured = {
        node: {task: float(figures["seconds"]) for task, figures in answer.profiled.items()}
        for node, answer in zip(nodes, answers, strict=True)
    }
    runs = sum(int(figures["runs"]) for answer in answers for figures in answer.profiled.values())
    return measured, output_bytes, runs


class _Watch:
    """What each busy agent is profiling: the progress bar's steps, and the names of the task
    and node to blame when profiling runs out of time."""

    def __init__(self, agents: AgentCalls, app: App, progress: Progress | None) -> None:
        self.agents = agents
        self.order = app.topological_order()
        self.progress = progress
        # node -> what the home waits for it to do: "chain", "runs", "resources"...
        self.busy: dict[str, str] = {}
        # node -> the task it ran at the last look (None: between tasks).
        self.running: dict[str, str | None] = {}
        self._done: dict[str, int] = {}
        self._phase = ""

    def start(self, phase: str, steps: int) -> None:
        self._phase = phase
        self._done = {}
        if self.progress is not None:
            self.progress.phase(phase, steps)

    def finished(self, node: str, tasks: int) -> None:
        self._done[node] = tasks
        self._advance()

    async def look(self, node: str) -> str | None:
        """The task `node` is running now (None if none, or if it does not answer)."""
        try:
            async with asyncio.timeout(POLL_TIMEOUT_S):
                figures = await self.agents.execution(node)
        except (CallFailed, TimeoutError) as error:
            log.debug("no answer from %s while profiling: %s", node, error)
            return self.running.get(node)
        self.running[node] = figures.running
        if self.busy.get(node) == "runs":
            self._done[node] = len(figures.profiled)
        elif self.busy.get(node) == "chain" and figures.running in self.order:
            self._done[node] = self.order.index(figures.running)
        return figures.running

    async def poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            busy = [node for node, what in self.busy.items() if what in ("chain", "runs")]
            await asyncio.gather(*(self.look(node) for node in busy))
            self._advance()

    def _advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(sum(self._done.values()))

    async def hang(self, limit: float) -> str:
        """One line: profiling ran out of time, and what was still outstanding."""
        stuck: list[str] = []
        for node, what in list(self.busy.items())[:3]:
            if what in ("chain", "runs"):
                task = await self.look(node)
                if task is not None:
                    stuck.append(f"task {task} on node {node} (sample input {SAMPLE_INPUT_ID})")
                else:
                    stuck.append(f"node {node}'s execution profiling")
            else:
                stuck.append(f"node {node}'s {what}")
        more = len(self.busy) - len(stuck)
        if more > 0:
            stuck.append(f"{more} more node(s)")
        waiting = ", ".join(stuck) if stuck else "the agents"
        return f"profiling timed out after {limit:g} s (--profile-timeout) waiting for {waiting}"


@contextlib.asynccontextmanager
async def _deadline(limit: float, watch: _Watch) -> AsyncIterator[Callable[[], float]]:
    """Profiling within `limit` seconds; yields the seconds left. Running out is a RunError
    naming what was still outstanding."""
    timeout = asyncio.timeout(limit)
    ends = time.monotonic() + limit
    try:
        async with timeout:
            yield lambda: max(1.0, ends - time.monotonic())
    except TimeoutError:
        if not timeout.expired():
            raise
        raise RunError(await watch.hang(limit)) from None
