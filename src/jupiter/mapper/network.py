"""Synthetic networks: nodes with speed factors and links built from latency and bandwidth.

A link of latency L seconds and bandwidth B bytes/s is the model p=L, q=1/B, r=0. Speeds
divide compute times: a task of 10 s on a speed-2 node takes 5 s there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jupiter.mapper.problem import LinkModel


@dataclass(frozen=True)
class Network:
    nodes: list[str]
    speeds: dict[str, float]
    links: dict[str, dict[str, LinkModel]]


def link_from_latency_bandwidth(latency: float, bandwidth: float) -> LinkModel:
    """Link model for `latency` seconds and `bandwidth` bytes per second."""
    if latency < 0 or bandwidth <= 0:
        raise ValueError(f"need latency >= 0 and bandwidth > 0, got {latency}, {bandwidth}")
    return LinkModel(latency, 1.0 / bandwidth, 0.0)


def random_network(
    n: int,
    *,
    seed: int = 0,
    speeds: tuple[float, float] = (0.5, 2.0),
    latency: tuple[float, float] = (0.001, 0.1),
    bandwidth: tuple[float, float] = (1e6, 1e8),
    symmetric: bool = True,
    prefix: str = "node",
) -> Network:
    """`n` nodes; speeds uniform in `speeds`, latency uniform in `latency` seconds,
    bandwidth log-uniform in `bandwidth` bytes/s (real links span orders of magnitude).
    With `symmetric`, a->b and b->a share one draw."""
    if n < 1:
        raise ValueError("a network needs at least one node")
    rng = np.random.default_rng(seed)
    width = len(str(n - 1))
    nodes = [f"{prefix}{i:0{width}d}" for i in range(n)]
    speed = rng.uniform(*speeds, size=n)
    lat = rng.uniform(*latency, size=(n, n))
    low, high = math.log(bandwidth[0]), math.log(bandwidth[1])
    bw = np.exp(rng.uniform(low, high, size=(n, n)))
    if symmetric:
        upper = np.triu_indices(n, 1)
        lat.T[upper] = lat[upper]
        bw.T[upper] = bw[upper]
    links = {
        a: {
            b: link_from_latency_bandwidth(float(lat[i, j]), float(bw[i, j]))
            for j, b in enumerate(nodes)
            if j != i
        }
        for i, a in enumerate(nodes)
    }
    return Network(nodes, {name: float(s) for name, s in zip(nodes, speed, strict=True)}, links)
