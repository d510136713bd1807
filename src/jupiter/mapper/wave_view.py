"""WAVE's decision step: one node appoints the node of one child task from its local view.

This is the piece each node's agent runs in the decentralized mapper (Sakulkar, Ghosh,
Krishnamachari et al., the WAVE scheduler of the original Jupiter), so it is pure: no I/O,
no global state, nothing but the view of the deciding node.

As in the original, a node never appoints itself (its network profile only covers its
peers); with no peer left it returns None and the caller decides what that means.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from jupiter.mapper.problem import LinkModel

# The original greedy WAVE kept candidates within 15x the best delay.
GREEDY_THRESHOLD = 15.0


@dataclass(frozen=True)
class NodeLoad:
    cpu: float = 0.0  # percent
    memory: float = 0.0  # percent


@dataclass(frozen=True)
class LocalView:
    """What one node knows when it appoints a child task.

    `node` is the deciding node (None for the home, which is not a compute node).
    `links` holds its own link estimates to other nodes; their order breaks final ties.
    `load` holds the other nodes' last reported load (missing: 0 %).
    `data_bytes` is what the child will receive from the deciding node.
    `excluded` lists nodes that must not be appointed (full, or known to be down).
    `appointed` counts the tasks this node has already appointed to each node.
    """

    node: str | None
    links: Mapping[str, LinkModel]
    load: Mapping[str, NodeLoad]
    data_bytes: float
    excluded: frozenset[str] = frozenset()
    appointed: Mapping[str, int] = field(default_factory=dict)


def candidates(view: LocalView) -> list[str]:
    return [n for n in view.links if n != view.node and n not in view.excluded]


def greedy_choice(
    view: LocalView,
    *,
    threshold: float = GREEDY_THRESHOLD,
    cpu_weight: float = 1.0,
    memory_weight: float = 1.0,
) -> str | None:
    """Greedy WAVE: among peers whose transfer delay is within `threshold` times the best,
    the one with the least delay (seconds) + cpu percent + memory percent, as the original
    summed them. Ties: fewer tasks already appointed there by this node, then link order."""
    peers = candidates(view)
    if not peers:
        return None
    delay = {n: view.links[n].seconds(view.data_bytes) for n in peers}
    # `<=` rather than the original `<`: with a zero best delay `<` would keep nobody.
    limit = threshold * min(delay.values())
    idle = NodeLoad()

    def cost(rank_and_node: tuple[int, str]) -> tuple[float, int, int]:
        rank, n = rank_and_node
        load = view.load.get(n, idle)
        score = delay[n] + cpu_weight * load.cpu + memory_weight * load.memory
        return score, view.appointed.get(n, 0), rank

    close = [(rank, n) for rank, n in enumerate(peers) if delay[n] <= limit]
    return min(close, key=cost)[1]


def random_choice(view: LocalView, rng: random.Random) -> str | None:
    """Random WAVE: any peer, uniformly."""
    peers = candidates(view)
    return rng.choice(peers) if peers else None
