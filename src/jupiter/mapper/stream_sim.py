"""A stream of inputs through a fixed mapping, as a discrete-event simulation.

`Schedule.makespan` is one input alone on an idle cluster. A run streams many: inputs enter
every `interval` seconds with at most `max_in_flight` in the DAG, and they meet each other at
busy nodes and links. This module predicts what the runtime then does, with the runtime's own
rules (circe/state.py):

- **Nodes** are servers with `slots` workers (1 by default, as agents run). A task whose
  inputs have all arrived is ready; ready tasks run first come first served by ready time.
- **Sources** (tasks without parents whose compute is zero everywhere, as planning/problem.py
  builds them) finish the moment their input is injected and take no worker.
- **Links** carry one transfer per producer output and destination node (several children of
  one producer on one node share it). A link is a FIFO serialiser followed by a pipe, the
  model of cluster/emulator.py: a transfer made at `t` starts serialising at
  `max(t, link free)`, holds the link for `q*bytes + r*bytes^2` and arrives `p` later.
  Latency is pipelined: it does not hold the link.
- **The home** hands each input to its sources' nodes and receives the exits' outputs, both
  outside the emulated WAN but not free: `HostCosts` says what one such request costs on
  this host (controller/host_costs.py measures it). A source's data is ready `inject` after
  its input was injected, and an input is complete `deliver` after its last exit finished.
- **Injection** follows controller/run.py: the home injects one input at a time, so input
  k+1 enters `inject + interval` after input k, or later, when fewer than `max_in_flight`
  inputs are in the DAG (counted until the home has their outputs).

- **NICs** (`nics`, bytes/s per node, as cluster/nic.py emulates them): everything leaving
  a node queues on its egress and everything arriving on its ingress, so transfers to
  several nodes at once share the sender's NIC and transfers from several nodes the
  receiver's. A transfer holds its link until its bytes are through both the link and the
  egress, then crosses the latency, then the receiver's ingress. Whole transfers queue one
  after another where the emulator interleaves their pieces: the last one ends at the same
  time, the first ones earlier.

Not modelled: the runtime's back-pressure on agent queues, and the CPU the agents' own
requests take from the tasks on a host whose cores are all busy (time dilation,
planning/cpu_demand.py, is what keeps that small).

Each input's makespan splits exactly along its critical path (from the exit that finished
last, back through the parent whose data arrived last) into compute, transfer (the link's
latency and serialising time), queueing (waiting for a busy node or link) and host overhead
(handing the input over and its outputs home).

Pure: no I/O, no clock. One heap-based event loop over plain lists: two events per task and
input (ready, finish); 1,000 inputs of 200 tasks take about half a second.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import statistics
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from itertools import pairwise

from jupiter.mapper.arrays import ProblemArrays, compile_problem
from jupiter.mapper.problem import SchedulingProblem


@dataclass(frozen=True)
class HostCosts:
    """Seconds the home's own requests take on this host (controller/host_costs.py)."""

    # From the home injecting an input to its sources' data being ready on their nodes.
    inject: float = 0.0
    # From an exit finishing to its output being at the home.
    deliver: float = 0.0

    def __post_init__(self) -> None:
        if self.inject < 0 or self.deliver < 0:
            raise ValueError(f"host costs cannot be negative: {self}")

    def divided(self, factor: float) -> HostCosts:
        return HostCosts(inject=self.inject / factor, deliver=self.deliver / factor)


@dataclass(frozen=True)
class StreamParameters:
    """The stream as controller/run.py injects it."""

    inputs: int
    # Seconds between injections; 0: as fast as `max_in_flight` allows.
    interval: float = 0.0
    # Inputs in the DAG at once; None: no limit.
    max_in_flight: int | None = None
    # Workers per node.
    slots: int = 1
    # What handing inputs over and outputs home costs (none: free).
    host: HostCosts = HostCosts()

    def __post_init__(self) -> None:
        if self.inputs < 1:
            raise ValueError(f"a stream needs at least one input, not {self.inputs}")
        if self.interval < 0:
            raise ValueError(f"the interval cannot be negative, got {self.interval}")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {self.max_in_flight}")
        if self.slots < 1:
            raise ValueError(f"a node needs at least one worker slot, not {self.slots}")


@dataclass(frozen=True)
class InputPrediction:
    """One input's predicted passage; times in seconds from the first injection."""

    input_id: int
    injected_at: float
    completed_at: float
    # compute + transfer + queueing + host_overhead == makespan, along the critical path.
    compute: float
    transfer: float
    queueing: float
    host_overhead: float
    # Where most of that queueing was: a node, or a link "a->b"; None without queueing.
    queued_at: str | None

    @property
    def makespan(self) -> float:
        return self.completed_at - self.injected_at


@dataclass(frozen=True)
class StreamPrediction:
    parameters: StreamParameters
    inputs: list[InputPrediction]
    # Seconds each node computes and each link ("a->b") serialises, over the whole stream.
    node_busy: dict[str, float]
    link_busy: dict[str, float]

    @property
    def mean_makespan(self) -> float:
        return statistics.fmean(i.makespan for i in self.inputs)

    @property
    def span(self) -> float:
        """From the first injection to the last completion (as report.py's throughput)."""
        return max(i.completed_at for i in self.inputs)

    @property
    def throughput(self) -> float | None:
        """Inputs completed per second over `span`; None if the stream takes no time."""
        return len(self.inputs) / self.span if self.span > 0 else None

    @property
    def median_completion_gap(self) -> float | None:
        done = sorted(i.completed_at for i in self.inputs)
        gaps = [b - a for a, b in pairwise(done)]
        return statistics.median(gaps) if gaps else None

    def divided(self, factor: float) -> StreamPrediction:
        """The same stream with every duration divided by `factor`: a time-dilated run's
        prediction (host seconds) on the emulated clock."""
        return StreamPrediction(
            parameters=dataclasses.replace(
                self.parameters,
                interval=self.parameters.interval / factor,
                host=self.parameters.host.divided(factor),
            ),
            inputs=[
                dataclasses.replace(
                    i,
                    injected_at=i.injected_at / factor,
                    completed_at=i.completed_at / factor,
                    compute=i.compute / factor,
                    transfer=i.transfer / factor,
                    queueing=i.queueing / factor,
                    host_overhead=i.host_overhead / factor,
                )
                for i in self.inputs
            ],
            node_busy={name: busy / factor for name, busy in self.node_busy.items()},
            link_busy={name: busy / factor for name, busy in self.link_busy.items()},
        )

    def bottleneck(self) -> tuple[str, float] | None:
        """The busiest node or link and its busy seconds per input: the period the stream
        cannot beat; None when nothing takes any time."""
        busiest = max(
            [*self.node_busy.items(), *self.link_busy.items()],
            key=lambda item: item[1],
            default=None,
        )
        if busiest is None or busiest[1] <= 0:
            return None
        return busiest[0], busiest[1] / len(self.inputs)


def default_sources(a: ProblemArrays) -> list[int]:
    """Tasks without parents that cost nothing anywhere: where inputs enter."""
    return [t for t in range(a.n_tasks) if a.parents[t].size == 0 and not a.compute[t].any()]


def predict_stream(
    problem: SchedulingProblem,
    mapping: Mapping[str, str],
    parameters: StreamParameters,
    *,
    sources: Collection[str] | None = None,
    exits: Collection[str] | None = None,
    arrays: ProblemArrays | None = None,
    nics: Mapping[str, float] | None = None,
) -> StreamPrediction:
    """Simulate `parameters.inputs` inputs through `mapping` (task -> node).

    `sources`: where inputs enter (default: `default_sources`); `exits`: whose outputs go
    home and complete an input (default: tasks without children); `nics`: each node's NIC
    rate in bytes/s (default, or a node left out: no NIC limit)."""
    a = arrays if arrays is not None else compile_problem(problem)
    node_of = [a.node_index[mapping[t]] for t in a.tasks]
    source_ids = default_sources(a) if sources is None else [a.task_index[s] for s in sources]
    exit_ids = (
        [t for t in range(a.n_tasks) if not a.children[t]]
        if exits is None
        else [a.task_index[e] for e in exits]
    )
    nic = [math.inf] * a.n_nodes
    for node, rate in (nics or {}).items():
        if node in a.node_index and rate > 0:
            nic[a.node_index[node]] = rate
    return _Simulation(a, node_of, source_ids, exit_ids, parameters, nic).run()


# Event kinds; at one instant, the heap's sequence number keeps them in the order made.
_READY, _FINISH, _INJECT, _DONE = 0, 1, 2, 3


class _Simulation:
    def __init__(
        self,
        a: ProblemArrays,
        node_of: list[int],
        sources: list[int],
        exits: list[int],
        parameters: StreamParameters,
        nic: list[float],
    ) -> None:
        self.a = a
        self.node_of = node_of
        self.parameters = parameters
        self.nic = nic
        n_tasks = a.n_tasks
        self.sources = sorted(set(sources))
        with_parents = [a.tasks[s] for s in self.sources if a.parents[s].size]
        if with_parents:
            raise ValueError(f"sources cannot have parents: {', '.join(with_parents)}")
        self.is_exit = [False] * n_tasks
        for e in exits:
            self.is_exit[e] = True
        self.n_exits = len(set(exits))
        if not self.n_exits:
            raise ValueError("a stream needs at least one exit to complete its inputs")
        # Entry tasks that do run: ready the moment their input enters.
        self.entries = [
            t for t in range(n_tasks) if a.parents[t].size == 0 and t not in self.sources
        ]
        self.cost = [float(a.compute[t, node_of[t]]) for t in range(n_tasks)]
        self.n_parents = [int(ps.size) for ps in a.parents]
        self._plan_shipping()

    def _plan_shipping(self) -> None:
        """Per task: its children on its own node, and one transfer per other node."""
        a, node_of = self.a, self.node_of
        self.links: list[tuple[int, int]] = []
        link_id: dict[tuple[int, int], int] = {}
        self.local: list[list[int]] = []
        # (link, latency, serialising seconds, bytes, children there)
        self.remote: list[list[tuple[int, float, float, float, list[int]]]] = []
        for t in range(a.n_tasks):
            here = node_of[t]
            local: list[int] = []
            per_node: dict[int, tuple[float, list[int]]] = {}
            for c, nbytes in zip(a.children[t], a.child_bytes[t], strict=True):
                there = node_of[c]
                if there == here:
                    local.append(c)
                    continue
                size, kids = per_node.get(there, (0.0, []))
                kids.append(c)
                per_node[there] = (max(size, nbytes), kids)
            sends = []
            for there, (size, kids) in sorted(per_node.items()):
                key = (here, there)
                if key not in link_id:
                    link_id[key] = len(self.links)
                    self.links.append(key)
                serialise = float(a.q[here, there] * size + a.r[here, there] * size * size)
                sends.append((link_id[key], float(a.p[here, there]), serialise, size, kids))
            self.local.append(local)
            self.remote.append(sends)

    def run(self) -> StreamPrediction:
        a, parameters = self.a, self.parameters
        n_tasks, n_inputs = a.n_tasks, parameters.inputs
        size = n_tasks * n_inputs
        cost, node_of, local, remote = self.cost, self.node_of, self.local, self.remote
        is_exit, sources = self.is_exit, self.sources
        limit = parameters.max_in_flight
        interval = parameters.interval
        inject, deliver = parameters.host.inject, parameters.host.deliver

        waiting = self.n_parents * n_inputs
        ready = [0.0] * size
        start = [0.0] * size
        finish = [0.0] * size
        # The critical (last-arriving) parent of each (input, task): its data came at `ready`.
        crit_parent = [-1] * size

        link_free = [0.0] * len(self.links)
        link_busy = [0.0] * len(self.links)
        nic = self.nic
        egress_free = [0.0] * a.n_nodes
        ingress_free = [0.0] * a.n_nodes
        links = self.links
        node_busy = [0.0] * a.n_nodes
        free_slots = [parameters.slots] * a.n_nodes
        queues: list[deque[int]] = [deque() for _ in range(a.n_nodes)]
        exits_left = [self.n_exits] * n_inputs
        injected_at = [0.0] * n_inputs
        completed_at = [0.0] * n_inputs
        last_exit = [-1] * n_inputs
        in_flight = 0
        injected = 0
        # An injection due but held back by the in-flight limit.
        held = False

        heap: list[tuple[float, int, int, int]] = [(0.0, 0, _INJECT, 0)]
        seq = 1
        push, pop = heapq.heappush, heapq.heappop

        def ship(t: int, k: int, now: float) -> None:
            """Task t of input k finished at `now`: its data leaves."""
            nonlocal seq
            base = k * n_tasks
            for c in local[t]:
                j = base + c
                if now >= ready[j]:
                    ready[j] = now
                    crit_parent[j] = t
                waiting[j] -= 1
                if waiting[j] == 0:
                    push(heap, (ready[j], seq, _READY, j))
                    seq += 1
            for link, latency, serialise, size, kids in remote[t]:
                begin = link_free[link]
                if begin < now:
                    begin = now
                through = begin + serialise
                src, dst = links[link]
                if size > 0 and nic[src] < math.inf:
                    out = max(begin, egress_free[src]) + size / nic[src]
                    egress_free[src] = out
                    through = max(through, out)
                link_free[link] = through
                link_busy[link] += serialise
                arrival = through + latency
                if size > 0 and nic[dst] < math.inf:
                    taken = max(arrival - size / nic[dst], ingress_free[dst]) + size / nic[dst]
                    ingress_free[dst] = taken
                    arrival = max(arrival, taken)
                for c in kids:
                    j = base + c
                    if arrival >= ready[j]:
                        ready[j] = arrival
                        crit_parent[j] = t
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        push(heap, (ready[j], seq, _READY, j))
                        seq += 1
            if is_exit[t]:
                exits_left[k] -= 1
                if exits_left[k] == 0:
                    # Done once its outputs are home: only then does it leave the in-flight.
                    completed_at[k] = now + deliver
                    last_exit[k] = t
                    push(heap, (now + deliver, seq, _DONE, k))
                    seq += 1

        while heap:
            now, _, kind, i = pop(heap)
            if kind == _READY:
                node = node_of[i % n_tasks]
                if free_slots[node]:
                    free_slots[node] -= 1
                    start[i] = now
                    push(heap, (now + cost[i % n_tasks], seq, _FINISH, i))
                    seq += 1
                else:
                    queues[node].append(i)
            elif kind == _FINISH:
                t = i % n_tasks
                finish[i] = now
                node = node_of[t]
                node_busy[node] += cost[t]
                queue = queues[node]
                if queue:
                    j = queue.popleft()
                    start[j] = now
                    push(heap, (now + cost[j % n_tasks], seq, _FINISH, j))
                    seq += 1
                else:
                    free_slots[node] += 1
                ship(t, i // n_tasks, now)
            elif kind == _DONE:
                in_flight -= 1
                if held:
                    held = False
                    push(heap, (now, seq, _INJECT, injected))
                    seq += 1
            else:  # _INJECT: input i is due
                if limit is not None and in_flight >= limit:
                    held = True
                    continue
                k = i
                injected_at[k] = now
                in_flight += 1
                injected += 1
                base = k * n_tasks
                # The data is on the sources' nodes once the home's request is through.
                handed = now + inject
                for s in sources:
                    ready[base + s] = start[base + s] = finish[base + s] = handed
                    ship(s, k, handed)
                for t in self.entries:
                    ready[base + t] = handed
                    push(heap, (handed, seq, _READY, base + t))
                    seq += 1
                if injected < n_inputs:
                    # The home injects one input at a time, then waits out the interval.
                    push(heap, (handed + interval, seq, _INJECT, injected))
                    seq += 1

        names = a.nodes
        link_names = [f"{names[x]}->{names[y]}" for x, y in self.links]
        timeline = _Timeline(
            n_tasks=n_tasks,
            ready=ready,
            start=start,
            finish=finish,
            crit_parent=crit_parent,
            node_of=node_of,
            sends={
                t: {
                    self.links[link][1]: (link, latency + serialise)
                    for link, latency, serialise, _, _ in sends
                }
                for t, sends in enumerate(remote)
            },
            node_names=names,
            link_names=link_names,
        )
        inputs = [
            timeline.breakdown(k, injected_at[k], completed_at[k], last_exit[k])
            for k in range(n_inputs)
        ]
        return StreamPrediction(
            parameters=parameters,
            inputs=inputs,
            node_busy={names[n]: node_busy[n] for n in range(a.n_nodes)},
            link_busy={name: busy for name, busy in zip(link_names, link_busy, strict=True)},
        )


@dataclass
class _Timeline:
    """The simulation's per (input, task) record, index `k * n_tasks + t`."""

    n_tasks: int
    ready: list[float]
    start: list[float]
    finish: list[float]
    crit_parent: list[int]
    node_of: list[int]
    # Per task, per other node it sends to: (link, latency + serialising seconds).
    sends: dict[int, dict[int, tuple[int, float]]]
    node_names: list[str]
    link_names: list[str]

    def breakdown(
        self, k: int, injected_at: float, completed_at: float, last_exit: int
    ) -> InputPrediction:
        """Walk back from the exit that finished last, through each critical parent."""
        compute = transfer = queueing = 0.0
        waits: dict[str, float] = {}
        base = k * self.n_tasks
        t = last_exit
        while t >= 0:
            i = base + t
            compute += self.finish[i] - self.start[i]
            node_wait = self.start[i] - self.ready[i]
            if node_wait > 0:
                node = self.node_names[self.node_of[t]]
                waits[node] = waits.get(node, 0.0) + node_wait
            queueing += node_wait
            parent = self.crit_parent[i]
            if parent >= 0 and self.node_of[parent] != self.node_of[t]:
                link, wire = self.sends[parent][self.node_of[t]]
                # The parent's data arrived at `ready`: what the wire does not explain, the
                # transfer spent waiting for its link.
                link_wait = self.ready[i] - wire - self.finish[base + parent]
                if link_wait > 0:
                    name = self.link_names[link]
                    waits[name] = waits.get(name, 0.0) + link_wait
                transfer += wire
                queueing += link_wait
            t = parent
        queued_at = max(waits, key=waits.__getitem__) if waits else None
        return InputPrediction(
            input_id=k,
            injected_at=injected_at,
            completed_at=completed_at,
            compute=compute,
            transfer=transfer,
            queueing=queueing,
            # Handing the input over (before its path's first ready) and its output home.
            host_overhead=max(0.0, completed_at - injected_at - compute - transfer - queueing),
            queued_at=queued_at,
        )
