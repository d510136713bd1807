"""Random layered DAGs: `depth` levels of `min_width`..`max_width` tasks, `tasks` in all.

Every task below the first level draws 1..MAX_PARENTS parents from the level just above it;
then each task of that level still without a child is given to a random task below, which
may take it past MAX_PARENTS. So every task above the last level has a child in the next
level, every path from the first level runs to the last one, the depth is exactly `depth`,
and the exits are exactly the last level.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_PARENTS = 3


@dataclass(frozen=True)
class LayeredDag:
    levels: list[list[int]]  # task indices, level by level; indices count from 0 in order
    parents: dict[int, list[int]]  # sorted parent indices of every task

    @property
    def size(self) -> int:
        return sum(len(level) for level in self.levels)


def level_widths(rng: random.Random, tasks: int, depth: int, low: int, high: int) -> list[int]:
    """`depth` widths in [low, high] summing to `tasks` (the caller checked this is possible)."""
    widths = [low] * depth
    room = list(range(depth)) if high > low else []  # levels that can still grow
    for _ in range(tasks - low * depth):
        slot = rng.randrange(len(room))
        level = room[slot]
        widths[level] += 1
        if widths[level] == high:
            room[slot] = room[-1]
            room.pop()
    return widths


def layered_dag(rng: random.Random, widths: list[int]) -> LayeredDag:
    levels: list[list[int]] = []
    parents: dict[int, list[int]] = {}
    next_index = 0
    for width in widths:
        level = list(range(next_index, next_index + width))
        next_index += width
        above = levels[-1] if levels else []
        for index in level:
            count = rng.randint(1, min(MAX_PARENTS, len(above))) if above else 0
            parents[index] = sorted(rng.sample(above, count))
        # A task left without a child would end its path above the last level.
        adopted = {p for index in level for p in parents[index]}
        for orphan in above:
            if orphan not in adopted:
                child = rng.choice(level)
                parents[child] = sorted([*parents[child], orphan])
        levels.append(level)
    return LayeredDag(levels, parents)
