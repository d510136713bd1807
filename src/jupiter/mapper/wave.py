"""WAVE over a whole DAG in one process: the decentralized mapper of the original Jupiter.

Three decision rules share the controllers below:
- `wave`: earliest finish with load feedback (wave_eft.py, driven by wave_plan.py, which the
  agents' mapper role drives the same way for `wave-distributed`);
- `wave-classic`: the original's threshold rule (peers within 15x the best delay, least delay
  + cpu % + memory %), and, as the original did, a peer once appointed by a node has its
  latency set to 100,000 s in that node's view, so that node appoints it again only when
  every other peer is used too;
- `wave-greedy`: the threshold rule without that penalty (the earlier rendering here, where
  tasks bounced between the 2 or 3 nearest peers), kept for comparison.

For the two threshold rules: the home gives every non-entry task a controller: its only
parent or, with several parents, the first parent (edge order) that already controls a
task, else the first parent. Entry tasks are appointed by the home itself, which has no
link estimates and so judges nodes by load alone (as the original home did). Then, in
topological order, the node running each controller appoints the child's node with
`wave_view` from its own view: its links, the others' load, and the bytes the controller
sends that child.

Start and finish times come from `simulate` (one task at a time per node, first come first
served), so the schedule passes the same validity check as every other mapper.

Pinned tasks keep their nodes, and so do the tasks a partial schedule keeps; excluded nodes
are not in anyone's view (partial.py removes them). The cap is enforced here from the global
count of tasks per node, passed to each decision as `excluded`; an agent would learn it from
the home.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping

import numpy as np

from jupiter.mapper.arrays import ProblemArrays
from jupiter.mapper.capacity import Capacity
from jupiter.mapper.partial import compile_partial
from jupiter.mapper.problem import ZERO_LINK, LinkModel, SchedulingProblem
from jupiter.mapper.schedule import Schedule
from jupiter.mapper.simulate import simulate_indices
from jupiter.mapper.wave_plan import WavePlan, decide_in_process, link_rows, node_indices
from jupiter.mapper.wave_view import LocalView, NodeLoad, greedy_choice, random_choice

NAME = "wave"
DISTRIBUTED_NAME = "wave-distributed"
CLASSIC_NAME = "wave-classic"
GREEDY_NAME = "wave-greedy"
RANDOM_NAME = "wave-random"
# The original raised an appointed peer's latency to this many seconds in the decider's view.
CLASSIC_USED_LATENCY = 100_000.0

Decide = Callable[[LocalView], str | None]


def schedule(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    peer_links: bool = False,
) -> Schedule:
    """WAVE with load feedback: each decider appoints the child's earliest-finish node from
    its own links and the announced ready times (wave_eft.py, wave_plan.py). `peer_links`:
    a join's other parents' transfers from the link fits their nodes announced, instead of
    the decider's guess from its own."""
    return _eft(compile_partial(problem, existing, exclude), NAME, peer_links)


def schedule_distributed(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    peer_links: bool = False,
) -> Schedule:
    """`wave` under the name `wave-distributed`. In `jupiter run` the agents make these
    decisions themselves (controller/wave_home.py); this in-process form serves `jupiter
    schedule`, the dry run and re-mapping around a lost agent."""
    return _eft(compile_partial(problem, existing, exclude), DISTRIBUTED_NAME, peer_links)


def _eft(a: ProblemArrays, name: str, peer_links: bool) -> Schedule:
    decisions = decide_in_process(WavePlan.of(a), link_rows(a), peer_links=peer_links)
    return simulate_indices(a, node_indices(a, decisions), name)


def schedule_classic(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> Schedule:
    """The original Jupiter's greedy WAVE: threshold 15x the best delay, least delay + cpu %
    + memory %, and a peer once appointed priced out of its decider's view."""
    a = compile_partial(problem, existing, exclude)
    return _wave(a, greedy_choice, CLASSIC_NAME, used_latency=CLASSIC_USED_LATENCY)


def schedule_greedy(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
) -> Schedule:
    """The threshold rule without the original's used-peer penalty (static load)."""
    return _wave(compile_partial(problem, existing, exclude), greedy_choice, GREEDY_NAME)


def schedule_random(
    problem: SchedulingProblem,
    *,
    existing: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    seed: int = 0,
) -> Schedule:
    rng = random.Random(seed)
    a = compile_partial(problem, existing, exclude)
    return _wave(a, lambda view: random_choice(view, rng), RANDOM_NAME)


def controllers(a: ProblemArrays) -> list[int | None]:  # by index; wave_plan has it by name
    """The controlling parent of each task (None for entry tasks)."""
    controlling: set[int] = set()
    ctrl: list[int | None] = [None] * a.n_tasks
    for t in a.topo:
        parents = a.parents[t].tolist()
        if not parents:
            continue
        chosen = next((p for p in parents if p in controlling), parents[0])
        ctrl[t] = chosen
        controlling.add(chosen)
    return ctrl


def _wave(
    a: ProblemArrays, decide: Decide, name: str, used_latency: float | None = None
) -> Schedule:
    problem = a.problem
    capacity = Capacity(a)
    nodes = a.nodes
    load = {n: NodeLoad(*problem.node_load(n)) for n in nodes}
    own_links: dict[str, dict[str, LinkModel]] = {
        n: {m: problem.links[n][m] for m in nodes if m != n} for n in nodes
    }
    home_links = dict.fromkeys(nodes, ZERO_LINK)
    appointed: dict[str | None, dict[str, int]] = {}
    ctrl = controllers(a)
    node_of = [-1] * a.n_tasks

    for t in a.topo:
        pin = capacity.pin(t)
        if pin is not None:
            node = pin
        else:
            parent = ctrl[t]
            if parent is None:
                decider, links, nbytes = None, home_links, 0.0
            else:
                decider = nodes[node_of[parent]]
                links = own_links[decider]
                nbytes = a.child_bytes[parent][a.children[parent].index(t)]
            counts = appointed.setdefault(decider, {})
            view = LocalView(
                node=decider,
                links=links,
                load=load,
                data_bytes=nbytes,
                excluded=_full(capacity, t, nodes),
                appointed=counts,
            )
            chosen = decide(view)
            if chosen is None:
                # No peer can take it: keep it on the deciding node, else anywhere with room.
                room = np.flatnonzero(capacity.allowed(t)).tolist()
                home_index = a.node_index[decider] if decider is not None else -1
                node = home_index if home_index in room else room[0]
            else:
                node = a.node_index[chosen]
                if used_latency is not None and decider is not None:
                    # The original's penalty: this decider's view of the peer it just used.
                    used = links[chosen]
                    links[chosen] = LinkModel(used_latency, used.q, used.r)
            counts[nodes[node]] = counts.get(nodes[node], 0) + 1
        capacity.take(t, node)
        node_of[t] = node
    return simulate_indices(a, node_of, name)


def _full(capacity: Capacity, task: int, nodes: list[str]) -> frozenset[str]:
    if capacity.cap is None:
        return frozenset()
    room = capacity.allowed(task)
    return frozenset(nodes[i] for i in np.flatnonzero(~room).tolist())
