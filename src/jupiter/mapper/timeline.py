"""Busy intervals of every node, with the insertion search of HEFT and CPOP.

Each node keeps its tasks sorted by start. Alongside, two numpy vectors summarise every node
for the vectorised step: `end` (finish of its last task) and `max_gap` (its longest idle
gap before `end`). A node whose data-ready time is past its end, or whose longest gap is
shorter than the task, can only append, so the Python gap scan runs only for the few nodes
where insertion could win.
"""

from __future__ import annotations

from bisect import bisect_left

import numpy as np


class Timelines:
    def __init__(self, n_nodes: int) -> None:
        self.starts: list[list[float]] = [[] for _ in range(n_nodes)]
        self.finishes: list[list[float]] = [[] for _ in range(n_nodes)]
        self.end = np.zeros(n_nodes)
        self.max_gap = np.zeros(n_nodes)

    def earliest_start(self, node: int, ready: float, duration: float) -> tuple[float, int]:
        """Earliest start >= ready with `duration` free on `node`, and the slot index."""
        starts, finishes = self.starts[node], self.finishes[node]
        # Gaps that close at or before `ready` cannot hold anything starting at `ready`.
        i = bisect_left(starts, ready)
        for k in range(i, len(starts)):
            begin = finishes[k - 1] if k > 0 else 0.0
            begin = max(begin, ready)
            if begin + duration <= starts[k]:
                return begin, k
        last = finishes[-1] if finishes else 0.0
        return max(ready, last), len(starts)

    def insert(self, node: int, slot: int, start: float, finish: float) -> None:
        starts, finishes = self.starts[node], self.finishes[node]
        appended = slot == len(starts)
        if appended:
            previous = finishes[-1] if finishes else 0.0
            starts.append(start)
            finishes.append(finish)
            self.end[node] = finish
            gap = start - previous
            if gap > self.max_gap[node]:
                self.max_gap[node] = gap
            return
        # Splitting a gap only shrinks it; the maximum moves only if that gap was the maximum.
        before = finishes[slot - 1] if slot > 0 else 0.0
        split = starts[slot] - before
        starts.insert(slot, start)
        finishes.insert(slot, finish)
        if split >= self.max_gap[node]:
            self.max_gap[node] = self._longest_gap(node)

    def _longest_gap(self, node: int) -> float:
        starts, finishes = self.starts[node], self.finishes[node]
        longest = starts[0] if starts else 0.0
        for k in range(1, len(starts)):
            gap = starts[k] - finishes[k - 1]
            if gap > longest:
                longest = gap
        return longest
