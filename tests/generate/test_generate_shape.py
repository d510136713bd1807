"""Generated apps have the asked shape and CCR, and load as valid apps."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from generate_helpers import levels_of

from jupiter.app.generator import (
    GenerateParams,
    generate_app,
    plan_generated_app,
    realised_ccr,
    reference_bandwidth,
)
from jupiter.app.spec import load_app
from jupiter.cluster.links import default_link_table
from jupiter.cluster.regions import DEFAULT_REGIONS

# (tasks, depth, min width, max width): chains, a single level, wide and narrow, and
# bounds that leave exactly one choice of widths.
SHAPES = [
    (1, 1, 1, 1),
    (5, 5, 1, 1),
    (6, 1, 1, 6),
    (12, 4, 3, 3),
    (20, 5, 2, 6),
    (30, 3, 5, 15),
    (40, 8, 1, 9),
    (100, 10, 5, 15),
]
CCRS = [0.05, 1.0, 7.5]
SEEDS = [0, 1, 2024]


def params(
    shape: tuple[int, int, int, int], ccr: float, seed: int, **extra: float
) -> GenerateParams:
    tasks, depth, low, high = shape
    return GenerateParams(
        tasks=tasks, depth=depth, min_width=low, max_width=high, ccr=ccr, seed=seed, **extra
    )


@pytest.mark.parametrize(
    ("shape", "ccr", "seed"), list(itertools.product(SHAPES, CCRS, SEEDS)), ids=str
)
def test_plans_have_the_asked_shape_and_ccr(
    shape: tuple[int, int, int, int], ccr: float, seed: int
) -> None:
    tasks, depth, low, high = shape
    plan = plan_generated_app(params(shape, ccr, seed, time_scale=0.05, sources=2))
    assert len(plan.tasks) == tasks
    parents = {t.name: t.parents for t in plan.tasks}
    level: dict[str, int] = {}
    for t in plan.tasks:  # topological order: parents come first
        level[t.name] = 1 + max(level[p] for p in t.parents) if t.parents else 0
    assert max(level.values()) + 1 == depth
    widths = [sum(1 for v in level.values() if v == n) for n in range(depth)]
    assert all(low <= w <= high for w in widths), widths
    for name, ps in parents.items():
        # every parent sits exactly one level up: no edge skips a level
        assert all(level[p] == level[name] - 1 for p in ps)
        assert len(set(ps)) == len(ps)
    # Every task above the last level has a child, so the exits are the last level.
    assert sorted(plan.exits()) == sorted(n for n, v in level.items() if v == depth - 1)
    fed = [task for source in plan.sources for task in source.feeds]
    assert sorted(set(fed)) == sorted(n for n, v in level.items() if v == 0)
    assert len(plan.sources) == 2
    if plan.edges():
        assert realised_ccr(plan) == pytest.approx(ccr, rel=0.01)
    # Costs spread around the time scale, as documented.
    assert all(0.025 <= t.seconds <= 0.075 for t in plan.tasks)


def test_written_apps_load_and_declare_every_estimate(tmp_path: Path) -> None:
    for i, shape in enumerate(SHAPES):
        plan = generate_app(tmp_path / f"app{i}", params(shape, 0.5, i, sources=3))
        app = load_app(tmp_path / f"app{i}")
        assert list(app.tasks) == [t.name for t in plan.tasks]
        assert app.has_estimates
        for t in plan.tasks:
            spec = app.tasks[t.name]
            assert (spec.estimate_seconds, spec.estimate_output_bytes) == (
                t.seconds,
                t.output_bytes,
            )
        level = levels_of(app)
        assert max(level.values()) + 1 == shape[1]
        assert sorted(app.exits) == sorted(n for n, v in level.items() if v == shape[1] - 1)
        exits = set(app.exits)
        for name in app.tasks:  # every task reaches an exit
            frontier, seen = [name], {name}
            while frontier and not seen & exits:
                frontier = [c for t in frontier for c in app.downstream(t) if c not in seen]
                seen.update(frontier)
            assert seen & exits, name
        assert len(app.sources) == 3
        for source in app.sources:
            assert len(app.sample_inputs(source)) == 3


def test_more_sources_than_entry_tasks_still_feed_everything() -> None:
    plan = plan_generated_app(params((6, 3, 2, 2), 1.0, 5, sources=5))
    feeds = [source.feeds for source in plan.sources]
    assert all(feeds)  # no source without an entry task
    assert {task for fed in feeds for task in fed} == {"t00", "t01"}


def test_the_reference_bandwidth_is_the_median_of_the_default_links() -> None:
    table = default_link_table(r.key for r in DEFAULT_REGIONS)
    below = [link.bandwidth for a, row in table.items() for b, link in row.items() if a != b]
    assert len(below) == 56
    bandwidth = reference_bandwidth()
    assert sum(b < bandwidth for b in below) == sum(b > bandwidth for b in below)
    assert 21.3e6 < bandwidth < 21.4e6  # the figure docs/generating-apps.md quotes


def test_output_sizes_follow_the_ccr_linearly() -> None:
    low = plan_generated_app(params((20, 5, 2, 6), 0.5, 9))
    high = plan_generated_app(params((20, 5, 2, 6), 5.0, 9))
    # Same seed: same graph and costs; ten times the CCR, ten times the data.
    assert [t.parents for t in low.tasks] == [t.parents for t in high.tasks]
    assert [t.seconds for t in low.tasks] == [t.seconds for t in high.tasks]
    for a, b in zip(low.tasks, high.tasks, strict=True):
        assert b.output_bytes == pytest.approx(10 * a.output_bytes, abs=10)
