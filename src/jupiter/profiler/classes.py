"""Execution profiles per hardware class: which nodes to time, and every node's figure from them.

Nodes of one class run a task alike but for their speed, so a task need not be timed on every
node: the profiler times it on a few nodes of each class (`pick_timed`) and `spread` gives
every other node of the class the class's figure scaled by speed,

    work = median over the timed nodes m of (seconds_m * speed_m)     (seconds at speed 1)
    seconds_n = work / speed_n

that is, class time x class reference speed / node speed. A timed node keeps its own figure
(`measured`); the others' are `from-class`. M tasks then cost M x (classes x a few) runs
instead of M x N.

A node's class (`node_classes`): its `class:` in cluster.yaml (on Kubernetes, from the node's
labels: k8s/discover.py). Without one, an emulated node is this host slowed to its speed, so
all such nodes are one class, `host`; a real node (emulate: false), or one the user started
somewhere by hand (an `address:`, the hosts backend), of unknown hardware is a class of its
own, `own:NAME`, and is always timed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Literal

from jupiter.cluster.spec import Cluster

FigureSource = Literal["measured", "from-class", "learned"]
ExecutionNodes = Literal["per-class", "every-node"]

MEASURED: FigureSource = "measured"
FROM_CLASS: FigureSource = "from-class"
LEARNED: FigureSource = "learned"

# The class of every emulated node without `class:`: this host, scaled by speed.
HOST_CLASS = "host"
# Prefix of the class of its own that a real node without `class:` is (':' is in no class
# name, so this never merges with a declared class).
OWN_CLASS_PREFIX = "own:"
# Nodes timed per class by default: two give a spread, and a check on the speed scaling.
DEFAULT_PER_CLASS = 2


def node_classes(cluster: Cluster) -> dict[str, str]:
    """Node -> its class, in the cluster's node order."""
    classes: dict[str, str] = {}
    for node in cluster.nodes:
        if node.node_class is not None:
            classes[node.name] = node.node_class
        elif cluster.emulate and node.address is None:
            classes[node.name] = HOST_CLASS
        else:
            classes[node.name] = OWN_CLASS_PREFIX + node.name
    return classes


def members(classes: dict[str, str]) -> dict[str, list[str]]:
    """Class -> its nodes, classes in order of their first node."""
    grouped: dict[str, list[str]] = {}
    for node, name in classes.items():
        grouped.setdefault(name, []).append(node)
    return grouped


def pick_timed(
    cluster: Cluster, classes: dict[str, str], per_class: int, mode: ExecutionNodes
) -> dict[str, list[str]]:
    """Class -> the nodes to time tasks on: every node (`every-node`), or up to `per_class`
    of each class, spread over its speeds (the slowest and the fastest first, so that the
    speed scaling is checked across the widest gap), of equal speeds the first in the
    cluster's order."""
    if per_class < 1:
        raise ValueError(f"time at least one node per class, got {per_class}")
    grouped = members(classes)
    if mode == "every-node":
        return grouped
    timed: dict[str, list[str]] = {}
    for name, nodes in grouped.items():
        if len(nodes) <= per_class:
            timed[name] = list(nodes)
            continue
        speeds = sorted(cluster.node(n).speed for n in nodes)
        last = len(speeds) - 1
        if per_class == 1:
            wanted = [speeds[last // 2]]
        else:
            wanted = [speeds[round(i * last / (per_class - 1))] for i in range(per_class)]
        # Each wanted speed: the first node in the cluster's order of that speed not taken.
        chosen: list[str] = []
        for speed in wanted:
            chosen.append(
                next(n for n in nodes if cluster.node(n).speed == speed and n not in chosen)
            )
        timed[name] = [n for n in nodes if n in chosen]
    return timed


def class_work(seconds: dict[str, float], speeds: dict[str, float]) -> float:
    """A class's seconds at speed 1 from its timed nodes' figures: the median of each
    figure times its node's speed."""
    return statistics.median(seconds[node] * speeds[node] for node in seconds)


def spread(
    tasks: Iterable[str],
    cluster: Cluster,
    classes: dict[str, str],
    timed: dict[str, dict[str, float]],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, FigureSource]]]:
    """The full task x node matrix and each figure's source, from `timed[node][task]`
    (seconds measured on the timed nodes). Every class needs a timed node."""
    speeds = {node.name: node.speed for node in cluster.nodes}
    grouped = members(classes)
    compute: dict[str, dict[str, float]] = {}
    sources: dict[str, dict[str, FigureSource]] = {}
    for task in tasks:
        row: dict[str, float] = {}
        origin: dict[str, FigureSource] = {}
        for name, nodes in grouped.items():
            figures = {n: timed[n][task] for n in nodes if n in timed and task in timed[n]}
            if not figures:
                raise ValueError(f"no node of class {name!r} timed task {task!r}")
            work = class_work(figures, speeds)
            for node in nodes:
                if node in figures:
                    row[node], origin[node] = figures[node], MEASURED
                else:
                    row[node], origin[node] = work / speeds[node], FROM_CLASS
        order = cluster.node_names
        compute[task] = {node: row[node] for node in order}
        sources[task] = {node: origin[node] for node in order}
    return compute, sources
