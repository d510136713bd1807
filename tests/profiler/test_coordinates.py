"""Vivaldi coordinates (profiler/coordinates.py) on synthetic latencies: pure, no agents."""

from __future__ import annotations

import numpy as np
import pytest

from jupiter.profiler.coordinates import (
    Coordinates,
    held_out_error,
    kmeans,
    relative_errors,
)


def points_in_plane(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"n{i}" for i in range(n)], rng.uniform(0, 0.1, size=(n, 2))


def sparse_samples(
    names: list[str], truth: np.ndarray, peers: int, seed: int
) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """Each node measures `peers` random others; returns (measured, every other pair)."""
    rng = np.random.default_rng(seed)
    n = len(names)
    measured: set[tuple[int, int]] = set()
    for i in range(n):
        for j in rng.choice([k for k in range(n) if k != i], size=peers, replace=False):
            measured.add((i, int(j)))
    samples = [(names[i], names[j], float(truth[i, j])) for i, j in sorted(measured)]
    rest = [
        (names[i], names[j], float(truth[i, j]))
        for i in range(n)
        for j in range(n)
        if i != j and (i, j) not in measured and (j, i) not in measured
    ]
    return samples, rest


def test_converges_on_a_metric_embedding_and_predicts_unmeasured_pairs() -> None:
    """60 points in a plane, each measuring 8 others: every other pair predicted with a
    median error under 5% and a 90th percentile under 15%."""
    names, points = points_in_plane(60, seed=1)
    truth = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    samples, rest = sparse_samples(names, truth, peers=8, seed=2)
    coordinates = Coordinates(names, dimensions=2, seed=0)
    before = held_out_error(relative_errors(coordinates, rest))
    coordinates.fit(samples, ticks=600)
    after = held_out_error(relative_errors(coordinates, rest))
    assert before is not None and after is not None
    assert before.median > 0.9  # everything starts at the origin
    assert after.median < 0.05, after
    assert after.p90 < 0.15, after
    assert after.links == len(rest) > 1000


def test_height_vectors_absorb_access_link_latency() -> None:
    """Each node sits behind an access link of its own (2..20 ms) in front of a planar
    core: with heights the prediction error stays small, without them (a height pinned
    at zero is what plain Euclidean coordinates are) it is several times larger; the
    fitted heights follow the access links."""
    names, points = points_in_plane(50, seed=3)
    access = np.random.default_rng(4).uniform(0.002, 0.02, size=len(names))
    core = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    truth = core + access[:, None] + access[None, :]
    samples, rest = sparse_samples(names, truth, peers=10, seed=5)

    with_heights = Coordinates(names, dimensions=2, seed=0)
    with_heights.fit(samples, ticks=800)
    error = held_out_error(relative_errors(with_heights, rest))
    assert error is not None and error.median < 0.05, error
    correlation = np.corrcoef(with_heights.heights, access)[0, 1]
    assert correlation > 0.7, correlation

    # The same points without the access links: no height is needed, and one grows little.
    flat = Coordinates(names, dimensions=2, seed=0)
    flat_samples, _ = sparse_samples(names, core, peers=10, seed=5)
    flat.fit(flat_samples, ticks=800)
    assert float(np.median(flat.heights)) < 0.2 * float(np.median(with_heights.heights))


def test_without_heights_access_links_are_predicted_worse() -> None:
    """The same access-link latencies fitted by plain Euclidean coordinates (heights off):
    the median error is several times that with heights."""
    names, points = points_in_plane(50, seed=3)
    access = np.random.default_rng(4).uniform(0.002, 0.02, size=len(names))
    core = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    truth = core + access[:, None] + access[None, :]
    samples, rest = sparse_samples(names, truth, peers=10, seed=5)
    errors = {}
    for heights in (True, False):
        coordinates = Coordinates(names, dimensions=2, seed=0, heights=heights)
        coordinates.fit(samples, ticks=800)
        errors[heights] = held_out_error(relative_errors(coordinates, rest))
        assert heights or np.all(coordinates.heights == 0)
    assert errors[True] is not None and errors[False] is not None
    assert errors[False].median > 3 * errors[True].median, errors


def test_deterministic_given_a_seed() -> None:
    names, points = points_in_plane(20, seed=6)
    truth = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    samples, _ = sparse_samples(names, truth, peers=5, seed=7)
    runs = []
    for seed in (11, 11, 12):
        coordinates = Coordinates(names, dimensions=3, seed=seed)
        coordinates.fit(samples, ticks=100)
        runs.append(coordinates.matrix())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_error_estimates_fall_as_the_fit_improves_and_observe_refines() -> None:
    names, points = points_in_plane(30, seed=8)
    truth = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    samples, _ = sparse_samples(names, truth, peers=8, seed=9)
    coordinates = Coordinates(names, dimensions=2, seed=0)
    assert np.all(coordinates.errors == 1.0)
    coordinates.fit(samples, ticks=400)
    assert float(np.median(coordinates.errors)) < 0.2
    # A single new measurement moves the measuring node towards it, and only that node.
    before = coordinates.positions.copy()
    a, b = names[0], names[1]
    wrong = 3 * coordinates.distance(a, b)
    old_gap = abs(coordinates.distance(a, b) - wrong)
    coordinates.observe(a, b, wrong)
    assert abs(coordinates.distance(a, b) - wrong) < old_gap
    assert np.array_equal(before[1:], coordinates.positions[1:])


def test_bad_measurements_are_refused() -> None:
    coordinates = Coordinates(["a", "b"], dimensions=2)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive"):
            coordinates.observe("a", "b", bad)
    with pytest.raises(ValueError, match="itself"):
        coordinates.observe("a", "a", 0.01)
    with pytest.raises(ValueError, match="dimensions"):
        Coordinates(["a"], dimensions=0)


def test_held_out_error_figures() -> None:
    error = held_out_error([0.0, 0.1, 0.2, 0.3, 1.0])
    assert error is not None
    assert (error.links, error.median, error.worst) == (5, 0.2, 1.0)
    assert error.p90 == pytest.approx(0.72)
    assert held_out_error([]) is None


def test_kmeans_finds_separated_clusters() -> None:
    rng = np.random.default_rng(10)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    points = np.vstack([c + rng.normal(scale=0.02, size=(15, 2)) for c in centres])
    labels = kmeans(points, 3, seed=0)
    groups = [set(labels[i * 15 : (i + 1) * 15]) for i in range(3)]
    assert all(len(group) == 1 for group in groups)
    assert len(set.union(*groups)) == 3
    assert list(kmeans(points, 3, seed=0)) == list(labels)
