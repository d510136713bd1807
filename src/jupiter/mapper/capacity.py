"""Pins and the per-node task cap, as one bookkeeping object every algorithm shares.

A node keeps room for the pinned tasks that have not been placed yet, so a greedy choice for
an unpinned task can never make a later pin impossible. With the problem validated
(cap * nodes >= tasks, no node pinned beyond the cap) some node always has room: the tasks
placed plus the seats still reserved are fewer than the tasks, hence fewer than cap * nodes.
"""

from __future__ import annotations

import numpy as np

from jupiter.mapper.arrays import ProblemArrays


class Capacity:
    def __init__(self, arrays: ProblemArrays) -> None:
        self.cap = arrays.cap
        self.pinned = arrays.pinned
        n = arrays.n_nodes
        self.placed = np.zeros(n, dtype=np.int64)
        self.reserved = np.zeros(n, dtype=np.int64)
        for node in self.pinned[self.pinned >= 0]:
            self.reserved[node] += 1
        self._all = np.ones(n, dtype=bool)
        self.constrained = self.cap is not None or bool((self.pinned >= 0).any())

    def pin(self, task: int) -> int | None:
        node = int(self.pinned[task])
        return node if node >= 0 else None

    def allowed(self, task: int) -> np.ndarray:
        """Boolean mask of the nodes that may take `task` now."""
        node = self.pinned[task]
        if node >= 0:
            mask = np.zeros_like(self._all)
            mask[node] = True
            return mask
        if self.cap is None:
            return self._all
        return (self.placed + self.reserved) < self.cap

    def has_room(self, task: int, node: int) -> bool:
        pin = self.pinned[task]
        if pin >= 0:
            return node == pin
        return self.cap is None or self.placed[node] + self.reserved[node] < self.cap

    def take(self, task: int, node: int) -> None:
        self.placed[node] += 1
        if self.pinned[task] >= 0:
            self.reserved[node] -= 1
