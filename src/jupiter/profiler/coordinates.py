"""Vivaldi network coordinates with height vectors (Dabek, Cox, Kaashoek, Morris, SIGCOMM 2004).

Each node has a point in a small Euclidean space plus a height: the distance between two
nodes is `||x_a - x_b|| + h_a + h_b`. The Euclidean part stands for the wide-area core,
where latency grows with distance; the height for what every path out of the node pays
whatever its destination (an access link, or here the host's own transfer path, about a
millisecond on every emulated link). A node that measured its latency to a few peers gets a
coordinate from which its latency to every other node is predicted.

The update is the paper's adaptive one (section 4 and figure 3): a node i that measures
`rtt` to node j, whose coordinate and error estimate it knows, weighs the sample by
`w = e_i / (e_i + e_j)` (a confident node moves little for an unsure peer), updates its own
error estimate as a moving average of the sample's relative error with gain `ce * w`, and
moves its coordinate by `cc * w * (rtt - distance)` along the unit vector from j to i.
Height vectors follow the paper's arithmetic: [x, h] - [y, g] = [x - y, h + g], the norm of
[x, h] is ||x|| + h, and a height is never negative.

`fit` runs the decentralised algorithm centrally over a fixed set of measurements, as if
every node kept sampling its measured peers: in each tick every node takes one of its
samples, and all nodes move at once (vectorised with numpy). The measurements are noisy and
real latencies are not exactly Euclidean, so with a constant timestep the coordinates keep
jittering around the best fit; the last ticks are therefore averaged. `observe` applies one
sample to one node, for refining the coordinates as new measurements arrive.

Pure: no I/O, no clock; the same measurements and seed give the same coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# The paper's constants: the timestep's and the error estimate's gains.
CC = 0.25
CE = 0.25
# A fresh node is unsure of its coordinate (relative error 1: it knows nothing).
INITIAL_ERROR = 1.0
# Smallest height, in the unit of the measurements: a height of zero could never grow back
# along a unit vector that has no height component.
MIN_HEIGHT = 1e-6


@dataclass(frozen=True)
class HeldOutError:
    """How well coordinates fitted without some measured links predict those links."""

    links: int
    median: float
    p90: float
    worst: float


class Coordinates:
    """Vivaldi coordinates of `nodes` (in `dimensions` plus a height), seeded."""

    def __init__(
        self, nodes: Sequence[str], dimensions: int = 3, seed: int = 0, heights: bool = True
    ) -> None:
        if dimensions < 1:
            raise ValueError(f"dimensions must be at least 1, got {dimensions}")
        self.nodes = list(nodes)
        self.index = {node: i for i, node in enumerate(self.nodes)}
        if len(self.index) != len(self.nodes):
            raise ValueError("node names must be unique")
        self.dimensions = dimensions
        # False: plain Euclidean coordinates (every height stays 0), for comparison.
        self.use_heights = heights
        self.rng = np.random.default_rng(seed)
        n = len(self.nodes)
        # Everything starts near the origin; a tiny random offset gives two coincident
        # nodes a direction to move apart in (the paper picks a random one at update time).
        self.positions = self.rng.normal(scale=1e-6, size=(n, dimensions))
        self.heights = np.full(n, MIN_HEIGHT if heights else 0.0)
        self.errors = np.full(n, INITIAL_ERROR)

    # -- prediction ------------------------------------------------------------------------

    def distance(self, a: str, b: str) -> float:
        """Predicted latency between a and b (0 for a node to itself)."""
        i, j = self.index[a], self.index[b]
        if i == j:
            return 0.0
        gap = float(np.linalg.norm(self.positions[i] - self.positions[j]))
        return gap + float(self.heights[i] + self.heights[j])

    def matrix(self) -> np.ndarray:
        """Predicted latency between every pair, rows and columns in `nodes` order."""
        diff = self.positions[:, None, :] - self.positions[None, :, :]
        predicted = np.linalg.norm(diff, axis=2) + self.heights[:, None] + self.heights[None, :]
        np.fill_diagonal(predicted, 0.0)
        return predicted

    # -- learning --------------------------------------------------------------------------

    def observe(self, a: str, b: str, rtt: float) -> None:
        """Node a measured `rtt` to node b: move a's coordinate (the paper's one update)."""
        if not rtt > 0 or not math.isfinite(rtt):
            raise ValueError(f"a latency is a positive number, got {rtt!r}")
        i, j = self.index[a], self.index[b]
        if i == j:
            raise ValueError(f"{a} cannot measure itself")
        self._update(np.array([i]), np.array([j]), np.array([rtt]), CC)

    def fit(
        self,
        samples: Iterable[tuple[str, str, float]],
        ticks: int = 400,
        average_last: int = 100,
    ) -> None:
        """Run Vivaldi over measured latencies (a, b, seconds), symmetric: both ends learn
        from a sample. Each tick every node that has samples takes one at random and moves;
        the coordinates are the mean over the last `average_last` ticks."""
        peers: list[list[tuple[int, float]]] = [[] for _ in self.nodes]
        for a, b, rtt in samples:
            if not rtt > 0 or not math.isfinite(rtt):
                raise ValueError(f"a latency is a positive number, got {rtt!r} ({a}, {b})")
            i, j = self.index[a], self.index[b]
            if i == j:
                continue
            peers[i].append((j, rtt))
            peers[j].append((i, rtt))
        learners = np.array([i for i, row in enumerate(peers) if row], dtype=int)
        if learners.size == 0:
            return
        counts = np.array([len(peers[i]) for i in learners])
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        flat_peer = np.array([j for i in learners for j, _ in peers[i]], dtype=int)
        flat_rtt = np.array([rtt for i in learners for _, rtt in peers[i]], dtype=float)
        average_last = max(1, min(average_last, ticks))
        sum_positions = np.zeros_like(self.positions)
        sum_heights = np.zeros_like(self.heights)
        for tick in range(ticks):
            pick = offsets + (self.rng.random(learners.size) * counts).astype(int)
            self._update(learners, flat_peer[pick], flat_rtt[pick], CC)
            if tick >= ticks - average_last:
                sum_positions += self.positions
                sum_heights += self.heights
        self.positions = sum_positions / average_last
        self.heights = sum_heights / average_last

    def _update(self, i: np.ndarray, j: np.ndarray, rtt: np.ndarray, cc: float) -> None:
        """One Vivaldi step for nodes i (distinct) against peers j, all at once."""
        xi, xj = self.positions[i], self.positions[j]
        hi, hj = self.heights[i], self.heights[j]
        diff = xi - xj
        gap = np.linalg.norm(diff, axis=1)
        # Coincident points: a random direction to move apart in.
        stuck = gap < 1e-12
        if np.any(stuck):
            diff[stuck] = self.rng.normal(size=(int(stuck.sum()), self.dimensions))
            gap[stuck] = np.linalg.norm(diff[stuck], axis=1)
            diff[stuck] *= 1e-9 / gap[stuck, None]
            gap[stuck] = 1e-9
        height = hi + hj
        distance = gap + height
        ei, ej = self.errors[i], self.errors[j]
        w = ei / np.maximum(ei + ej, 1e-12)
        sample_error = np.abs(distance - rtt) / rtt
        self.errors[i] = np.minimum(INITIAL_ERROR, sample_error * CE * w + ei * (1.0 - CE * w))
        step = cc * w * (rtt - distance)
        # The unit vector of [diff, height] under the height-vector norm ||x|| + h.
        norm = gap + height
        self.positions[i] = xi + (step / norm)[:, None] * diff
        if self.use_heights:
            self.heights[i] = np.maximum(MIN_HEIGHT, hi + step * height / norm)


def relative_errors(
    coordinates: Coordinates, measured: Iterable[tuple[str, str, float]]
) -> list[float]:
    """|predicted - measured| / measured for each (a, b, seconds)."""
    return [abs(coordinates.distance(a, b) - rtt) / rtt for a, b, rtt in measured if rtt > 0]


def held_out_error(errors: Sequence[float]) -> HeldOutError | None:
    """Median, 90th percentile and worst of relative errors; None without any."""
    if not errors:
        return None
    values = np.asarray(errors, dtype=float)
    return HeldOutError(
        links=len(values),
        median=float(np.median(values)),
        p90=float(np.quantile(values, 0.9)),
        worst=float(values.max()),
    )


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> np.ndarray:
    """Labels 0..k-1 for the rows of `points`: Lloyd's algorithm from k-means++ seeds."""
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=int)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centres = [points[int(rng.integers(n))]]
    for _ in range(1, k):
        nearest = np.min(
            np.linalg.norm(points[:, None, :] - np.array(centres)[None, :, :], axis=2) ** 2,
            axis=1,
        )
        total = float(nearest.sum())
        if total <= 0:
            break
        centres.append(points[int(rng.choice(n, p=nearest / total))])
    centre_array = np.array(centres)
    labels = np.zeros(n, dtype=int)
    for _ in range(iterations):
        distances = np.linalg.norm(points[:, None, :] - centre_array[None, :, :], axis=2)
        new_labels = np.argmin(distances, axis=1)
        if _ and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for c in range(len(centre_array)):
            members = points[labels == c]
            if len(members):
                centre_array[c] = members.mean(axis=0)
    # Renumber by first appearance, so that labels do not depend on the seeding order.
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=int)
