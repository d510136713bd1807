"""WAVE's earliest-finish decision with load feedback: one node appoints one child's node.

The rule each deciding node runs (`wave`; the original's threshold rule is `wave-classic`,
wave_view.py). It is pure, like `greedy_choice`: it sees only what the deciding node knows.

- its own link fits to the other nodes (not anyone else's);
- the task's compute estimate on each node (from the execution profile);
- every node's announced ready time: when the tasks appointed to it so far are expected to
  finish. This is the load feedback: each appointment moves the chosen node's ready time to
  the appointed task's expected finish, and the announcement reaches every later decider;
- when its own task (the controlling parent) is expected to finish, and the bytes it sends;
- where the child's other parents were appointed and when they are expected to finish (also
  announced). Their links are not in this node's view, so their transfer to a candidate is
  guessed from this node's own links: like the slower of its links to the two ends (to a
  candidate that is this node: its link to that parent's node, taken as symmetric). A guess
  from local figures, never a global one; taking the slower end keeps a candidate far from
  the other parent from looking close just because it is close to the decider. With
  `peer_links` (an
  option of `wave`), each of those parents' nodes has announced its own link fits, and the
  decider uses that node's own figure instead of a guess.

Each candidate's expected finish is `max(data ready, ready time) + compute`; the earliest
wins, ties to the earlier node in `compute`'s order. Unlike the original, a node may appoint
itself: with its own ready time announced like everyone's, keeping a child local costs no
transfer and is often best. The home (no compute node, no links) decides entry tasks the
same way with zero transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jupiter.mapper.problem import ZERO_LINK, LinkModel


@dataclass(frozen=True)
class OtherParent:
    """A parent of the child other than the decider's task, as announced."""

    node: str
    finish: float
    data_bytes: float
    # The link fits that parent's node announced (peer_links); None: guess from our own.
    links: Mapping[str, LinkModel] | None = None


@dataclass(frozen=True)
class EftView:
    """What the deciding node knows when it appoints one child.

    `node` is the decider (None: the home). `links` are its own link fits to other nodes
    (the home has none). `compute` is the child's estimated seconds on each node, in the
    order that breaks ties. `ready` is each node's announced ready time (missing: 0).
    """

    node: str | None
    links: Mapping[str, LinkModel]
    compute: Mapping[str, float]
    ready: Mapping[str, float]
    parent_finish: float = 0.0
    data_bytes: float = 0.0
    others: tuple[OtherParent, ...] = ()
    excluded: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Appointment:
    node: str
    start: float
    finish: float


def _link(view: EftView, src: str, dst: str) -> LinkModel:
    """This node's estimate of the link `src` -> `dst`, from its own fits only."""
    if src == dst or view.node is None:
        return ZERO_LINK
    if src == view.node:
        return view.links.get(dst, ZERO_LINK)  # its own fit
    if dst == view.node:
        # To itself from another parent's node: its own link to that node, as symmetric.
        return view.links.get(src, ZERO_LINK)
    # Between two other nodes: like the slower of its own links to either end.
    a, b = view.links.get(dst, ZERO_LINK), view.links.get(src, ZERO_LINK)
    return LinkModel(max(a.p, b.p), max(a.q, b.q), max(a.r, b.r))


def expected(view: EftView, node: str) -> Appointment:
    """The child's expected start and finish on `node`, from this view."""
    arrival = view.parent_finish
    if view.node is not None and node != view.node:
        arrival += _link(view, view.node, node).seconds(view.data_bytes)
    for other in view.others:
        via = other.finish
        if other.node != node:
            if other.links is not None:
                link = other.links.get(node, ZERO_LINK)
            else:
                link = _link(view, other.node, node)
            via += link.seconds(other.data_bytes)
        arrival = max(arrival, via)
    start = max(arrival, view.ready.get(node, 0.0))
    return Appointment(node, start, start + view.compute[node])


def eft_choice(view: EftView) -> Appointment | None:
    """The node where the child is expected to finish first (None: every node excluded)."""
    best: Appointment | None = None
    for node in view.compute:
        if node in view.excluded:
            continue
        candidate = expected(view, node)
        if best is None or candidate.finish < best.finish:
            best = candidate
    return best
