"""WAVE with load feedback, as a sequence of decisions any set of deciders can carry out.

`WavePlan` is what every decider is told before it starts: the DAG (each task's parents and
the bytes they send), the compute estimates, each task's controller (the parent whose node
decides it) and the turn order. `Ledger` is the announced state: every appointment so far,
hence each node's ready time and which nodes are full. `view_for` builds the one view a
decider uses for one child from the plan, the ledger and the decider's own link fits; the
in-process mapper (`decide_in_process`) and the agents' mapper role (agent/wave_role.py) both
call it, so they make the same decision from the same announcements and fits.

Turn order: decreasing upward rank (HEFT's priority; a topological order). The home, which
holds the ledger, serialises the decisions in that order, so the outcome does not depend on
which agent answers first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from jupiter.mapper.arrays import ProblemArrays
from jupiter.mapper.problem import LinkModel
from jupiter.mapper.ranks import by_decreasing, upward_ranks
from jupiter.mapper.wave_eft import Appointment, EftView, OtherParent, eft_choice, expected


@dataclass(frozen=True)
class Decision:
    """One appointment: who decided (None: the home), where the task goes, and when it is
    expected to start and finish there."""

    task: str
    decider: str | None
    node: str
    start: float
    finish: float


@dataclass(frozen=True)
class Child:
    """What a decider is told about one child it appoints (the agents get it from the home
    with the child's turn): its controller, compute estimates (node order breaks ties),
    parents with the bytes each sends (edge order), and its pin."""

    task: str
    controller: str | None
    compute: Mapping[str, float]
    parents: tuple[tuple[str, float], ...]
    pin: str | None = None


@dataclass
class WavePlan:
    nodes: list[str]
    compute: dict[str, dict[str, float]]  # task -> node -> seconds, nodes in `nodes` order
    parents: dict[str, list[tuple[str, float]]]  # task -> [(parent, bytes)] in edge order
    controller: dict[str, str | None]  # task -> controlling parent (None: the home decides)
    order: list[str]  # the turn order
    pinned: dict[str, str] = field(default_factory=dict)
    cap: int | None = None
    position: dict[str, int] = field(init=False)
    controls: dict[str, list[str]] = field(init=False)  # the children each task controls

    def __post_init__(self) -> None:
        self.position = {t: i for i, t in enumerate(self.order)}
        self.controls = {t: [] for t in self.order}
        for t in self.order:
            parent = self.controller[t]
            if parent is not None:
                self.controls[parent].append(t)

    @classmethod
    def of(cls, a: ProblemArrays) -> WavePlan:
        tasks, nodes = a.tasks, a.nodes
        compute = {
            t: dict(zip(nodes, a.compute[i].tolist(), strict=True)) for i, t in enumerate(tasks)
        }
        parents = {
            t: [
                (tasks[p], float(b))
                for p, b in zip(a.parents[i].tolist(), a.parent_bytes[i].tolist(), strict=True)
            ]
            for i, t in enumerate(tasks)
        }
        pinned = {tasks[i]: nodes[n] for i, n in enumerate(a.pinned.tolist()) if n >= 0}
        order = [tasks[i] for i in by_decreasing(upward_ranks(a), a)]
        return cls(nodes, compute, parents, controllers(a), order, pinned, a.cap)

    def child(self, task: str) -> Child:
        return Child(
            task,
            self.controller[task],
            self.compute[task],
            tuple(self.parents[task]),
            self.pinned.get(task),
        )

    def entries(self) -> list[str]:
        return [t for t in self.order if self.controller[t] is None]


def controllers(a: ProblemArrays) -> dict[str, str | None]:
    """The controlling parent of each task, the original's rule: its only parent or, with
    several, the first (edge order) that already controls a task, else the first."""
    controlling: set[int] = set()
    ctrl: dict[str, str | None] = dict.fromkeys(a.tasks)
    for t in a.topo:
        parents = a.parents[t].tolist()
        if not parents:
            continue
        chosen = next((p for p in parents if p in controlling), parents[0])
        ctrl[a.tasks[t]] = a.tasks[chosen]
        controlling.add(chosen)
    return ctrl


@dataclass
class Ledger:
    """The announcements so far: what every decider may know of the others' load."""

    plan: WavePlan
    placed: dict[str, Decision] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def full(self) -> frozenset[str]:
        """Nodes at the cap, counting seats kept for pinned tasks not yet placed."""
        cap = self.plan.cap
        if cap is None:
            return frozenset()
        held = dict(self.counts)
        for task, node in self.plan.pinned.items():
            if task not in self.placed:
                held[node] = held.get(node, 0) + 1
        return frozenset(n for n, count in held.items() if count >= cap)

    def where(self, tasks: Iterable[str]) -> dict[str, tuple[str, float]]:
        """(node, expected finish) of each of `tasks` that was announced."""
        return {t: (self.placed[t].node, self.placed[t].finish) for t in tasks if t in self.placed}

    def done_before(self, task: str) -> bool:
        """Whether every task before `task` in the turn order was announced: its turn."""
        return len(self.placed) >= self.plan.position[task]

    def announce(self, decision: Decision) -> None:
        if decision.task in self.placed:
            raise ValueError(f"task {decision.task!r} was appointed already")
        due = self.plan.order[len(self.placed)]
        if decision.task != due:
            raise ValueError(f"task {decision.task!r} announced before its turn ({due!r} is due)")
        self.placed[decision.task] = decision
        node = decision.node
        self.ready[node] = max(self.ready.get(node, 0.0), decision.finish)
        self.counts[node] = self.counts.get(node, 0) + 1


def view_for(
    child: Child,
    decider: str | None,
    links: Mapping[str, LinkModel],
    placed: Mapping[str, tuple[str, float]],
    ready: Mapping[str, float],
    full: Collection[str],
    announced: Mapping[str, Mapping[str, LinkModel]] | None = None,
) -> EftView:
    """The view `decider` has when it appoints `child`: its own `links`, the announced
    (node, finish) of the child's parents, every node's announced ready time, the full
    nodes, and (peer_links) the link fits the other parents' nodes announced."""
    finish, nbytes, others, mine = 0.0, 0.0, [], False
    for p, b in child.parents:
        node, done = placed[p]
        if p == child.controller and not mine:
            finish, nbytes, mine = done, b, True
        else:
            row = None if announced is None else announced.get(node)
            others.append(OtherParent(node, done, b, row))
    return EftView(
        node=decider,
        links=links if decider is not None else {},
        compute=child.compute,
        ready=ready,
        parent_finish=finish,
        data_bytes=nbytes,
        others=tuple(others),
        excluded=frozenset(full),
    )


def decide(child: Child, view: EftView) -> Appointment:
    """The appointment for `child` from `view`: its pin if it has one, else the earliest
    finish among the nodes with room."""
    if child.pin is not None:
        return expected(view, child.pin)
    choice = eft_choice(view)
    if choice is None:
        raise ValueError(f"no node has room for task {child.task!r}")
    return choice


def decide_in_process(
    plan: WavePlan, links: Mapping[str, Mapping[str, LinkModel]], *, peer_links: bool = False
) -> list[Decision]:
    """Every decision in turn order, each from its decider's own `links[decider]` row (and,
    with `peer_links`, the rows of the other parents' nodes, as they announced them)."""
    announced = links if peer_links else None
    ledger = Ledger(plan)
    decisions = []
    for task in plan.order:
        child = plan.child(task)
        decider = None if child.controller is None else ledger.placed[child.controller].node
        row = links[decider] if decider is not None else {}
        placed = ledger.where(p for p, _ in child.parents)
        view = view_for(child, decider, row, placed, ledger.ready, ledger.full(), announced)
        chosen = decide(child, view)
        decision = Decision(task, decider, chosen.node, chosen.start, chosen.finish)
        ledger.announce(decision)
        decisions.append(decision)
    return decisions


def link_rows(a: ProblemArrays) -> dict[str, dict[str, LinkModel]]:
    """Each node's own row of link fits, as the problem states them."""
    p, q, r = a.p.tolist(), a.q.tolist(), a.r.tolist()
    return {
        n: {m: LinkModel(p[i][j], q[i][j], r[i][j]) for j, m in enumerate(a.nodes) if j != i}
        for i, n in enumerate(a.nodes)
    }


def node_indices(a: ProblemArrays, decisions: list[Decision]) -> list[int]:
    where = {d.task: a.node_index[d.node] for d in decisions}
    return np.array([where[t] for t in a.tasks], dtype=np.int64).tolist()
