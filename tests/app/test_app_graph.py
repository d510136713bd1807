"""Task-graph ordering against a plain reference, and cycles named with their members."""

from __future__ import annotations

import itertools
import random

import pytest

from jupiter.app.graph import CycleError, topological_order


def reference_order(parents: dict[str, list[str]]) -> list[str] | None:
    """Repeatedly take the first declared task whose parents are all placed; None on a cycle."""
    order: list[str] = []
    left = list(parents)
    while left:
        ready = [t for t in left if all(p in order for p in parents[t])]
        if not ready:
            return None
        order.append(ready[0])
        left.remove(ready[0])
    return order


def random_parents(seed: int, *, acyclic: bool) -> dict[str, list[str]]:
    rng = random.Random(seed)
    names = [f"t{i}" for i in range(rng.randint(1, 14))]
    parents = {
        name: [p for p in names if (not acyclic or p < name) and rng.random() < 0.2]
        for name in names
    }
    items = list(parents.items())
    rng.shuffle(items)  # declaration order is not the data-flow order
    return dict(items)


@pytest.mark.parametrize("seed", range(150))
def test_order_matches_the_reference_on_random_dags(seed: int) -> None:
    parents = random_parents(seed, acyclic=True)
    assert topological_order(parents) == reference_order(parents)


@pytest.mark.parametrize("seed", range(150))
def test_a_cycle_is_reported_exactly_when_there_is_one(seed: int) -> None:
    parents = random_parents(seed, acyclic=False)
    expected = reference_order(parents)
    if expected is not None:
        assert topological_order(parents) == expected
        return
    with pytest.raises(CycleError) as caught:
        topological_order(parents)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1] and len(set(cycle[:-1])) == len(cycle) - 1
    for parent, child in itertools.pairwise(cycle):
        assert parent in parents[child]
    declared = list(parents)
    assert cycle[0] == min(cycle, key=declared.index)  # named from its first declared task
    assert str(caught.value) == " -> ".join(cycle)


def test_a_self_parent_is_a_cycle_of_one() -> None:
    with pytest.raises(CycleError) as caught:
        topological_order({"a": [], "b": ["a", "b"]})
    assert caught.value.cycle == ["b", "b"]


def test_a_cycle_below_acyclic_tasks_names_only_its_members() -> None:
    parents = {"src": [], "b": ["src", "d"], "c": ["b"], "d": ["c"], "after": ["d"]}
    with pytest.raises(CycleError) as caught:
        topological_order(parents)
    assert caught.value.cycle == ["b", "c", "d", "b"]


def test_a_parent_named_twice_counts_once() -> None:
    assert topological_order({"b": ["a", "a"], "a": []}) == ["a", "b"]
