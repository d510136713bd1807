"""Probe sizes follow the app's transfers: the size rule, and what an app says it moves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jupiter.api.profiler import DEFAULT_SIZES
from jupiter.app.spec import load_app
from jupiter.errors import SpecError
from jupiter.profiler.home import ProfileSettings
from jupiter.profiler.sizes import app_transfer_sizes, parse_sizes, probe_sizes

KIB = 1024
MIB = 1024 * KIB


def test_tiny_transfers_get_the_floor_and_one_size_spread_above_it() -> None:
    # The diamond's 64-96 byte outputs and a 4 KB newcomer's app alike.
    assert probe_sizes([64, 96, 30]) == [4 * KIB, 32 * KIB]
    assert probe_sizes([4096] * 5) == [4 * KIB, 32 * KIB]


def test_sizes_span_the_smallest_to_the_largest_transfer_geometrically() -> None:
    sizes = probe_sizes([10 * KIB, 300 * KIB, 2 * MIB])
    # 10 KiB .. 2 MiB is 8^2.56: four sizes, about 5.9x apart, in whole KiB.
    assert sizes == [10 * KIB, 59 * KIB, 347 * KIB, 2 * MIB]


def test_two_close_sizes_are_widened_to_a_slope_and_big_ones_capped() -> None:
    assert probe_sizes([100 * KIB, 120 * KIB]) == [100 * KIB, 800 * KIB]
    # Beyond the cap: the cap, and a size SPREAD below it.
    assert probe_sizes([100 * MIB, 300 * MIB]) == [512 * KIB, 4 * MIB]
    assert probe_sizes([3 * MIB]) == [512 * KIB, 4 * MIB]


def test_nothing_known_gives_the_default_sizes() -> None:
    assert probe_sizes([]) == list(DEFAULT_SIZES)
    assert ProfileSettings().probe_sizes == sorted(DEFAULT_SIZES)
    assert ProfileSettings(sizes=[64 * KIB, 4 * KIB]).probe_sizes == [4 * KIB, 64 * KIB]


def write_app(root: Path, estimates: dict[str, int | None], sample_bytes: int) -> Path:
    """A chain a -> b -> c fed by `input`, with the given output estimates."""
    root.mkdir(parents=True)
    (root / "t.py").write_text("def f(inputs, output):\n    output.write_bytes(b'')\n")
    (root / "samples").mkdir()
    (root / "samples" / "0.bin").write_bytes(b"x" * sample_bytes)
    (root / "samples" / "1.bin").write_bytes(b"x" * (sample_bytes // 2))
    parents = {"a": [], "b": ["a"], "c": ["b"]}
    tasks = {}
    for name, size in estimates.items():
        tasks[name] = {"python": "t.py:f", "parents": parents[name]}
        if size is not None:
            tasks[name]["estimate"] = {"seconds": 0.01, "output_bytes": size}
    spec = {
        "name": "sized",
        "sources": [{"name": "input", "feeds": ["a"], "inputs": ["samples/*.bin"]}],
        "tasks": tasks,
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def test_the_app_sizes_follow_its_estimates_and_samples(tmp_path: Path) -> None:
    app = load_app(write_app(tmp_path / "app", {"a": 64 * KIB, "b": MIB, "c": 7}, 16 * KIB))
    # Both samples, a's and b's outputs; c is the exit: its output goes home.
    assert sorted(app_transfer_sizes(app)) == [8 * KIB, 16 * KIB, 64 * KIB, MIB]
    assert probe_sizes(app_transfer_sizes(app)) == [8 * KIB, 40 * KIB, 203 * KIB, MIB]


def test_measured_outputs_replace_the_estimates(tmp_path: Path) -> None:
    app = load_app(write_app(tmp_path / "app", {"a": 64 * KIB, "b": None, "c": None}, 16 * KIB))
    # b has no estimate: left out until a profile measured it.
    assert sorted(app_transfer_sizes(app)) == [8 * KIB, 16 * KIB, 64 * KIB]
    measured = {"a": 2 * MIB, "b": 900 * KIB, "c": 1}
    assert sorted(app_transfer_sizes(app, measured)) == [8 * KIB, 16 * KIB, 900 * KIB, 2 * MIB]


def test_parse_sizes_reads_binary_units_and_wants_two_sizes() -> None:
    assert parse_sizes("64K, 4k,1M", "--sizes") == [4 * KIB, 64 * KIB, MIB]
    with pytest.raises(SpecError, match="at least two different sizes"):
        parse_sizes("4K,4096", "--sizes")
    with pytest.raises(SpecError, match="'4Q' is not a size"):
        parse_sizes("4Q,8K", "--sizes")
