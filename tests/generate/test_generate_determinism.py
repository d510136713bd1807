"""Same seed, same bytes; outputs are functions of the inputs; expected.json is right."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from generate_helpers import expected, run_in_process, tree

from jupiter.app import synthetic_task
from jupiter.app.generator import GenerateParams, generate_app
from jupiter.app.spec import load_app

PARAMS = GenerateParams(
    tasks=14, depth=4, min_width=2, max_width=5, ccr=0.8, seed=11, time_scale=0.002, sources=2
)


def test_the_same_seed_writes_byte_identical_folders(tmp_path: Path) -> None:
    generate_app(tmp_path / "one", PARAMS)
    generate_app(tmp_path / "two" / "nested", PARAMS)
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two" / "nested")
    assert first == second
    assert {"app.yaml", "tasks/dag.py", "expected.json"} <= set(first)
    assert sum(name.startswith("samples/") for name in first) == 2 * 3


def test_another_seed_writes_another_app(tmp_path: Path) -> None:
    generate_app(tmp_path / "one", PARAMS)
    other = GenerateParams(**{**PARAMS.__dict__, "seed": 12})
    generate_app(tmp_path / "two", other)
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert first["app.yaml"] != second["app.yaml"]
    assert first["samples/input0/0.bin"] != second["samples/input0/0.bin"]


def test_expected_json_matches_running_the_task_code(tmp_path: Path) -> None:
    generate_app(tmp_path / "app", PARAMS)
    app = load_app(tmp_path / "app")
    results = [run_in_process(app, k) for k in range(4)]
    for k, result in enumerate(results):
        assert result == expected(tmp_path / "app", k)
    # Input ids share outputs only when they share samples (k mod 3).
    assert results[0] == results[3]
    assert results[0] != results[1] != results[2]


def test_a_task_burns_its_cpu_budget_and_writes_its_size(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"payload")
    run = synthetic_task.task("work", seconds=0.15, output_bytes=4096)
    began_cpu, began_wall = time.thread_time(), time.perf_counter()
    run({"input": source}, tmp_path / "out")
    cpu = time.thread_time() - began_cpu
    assert cpu >= 0.15  # real computation on this thread, not a sleep
    assert cpu < 0.15 + 0.05
    assert time.perf_counter() - began_wall >= cpu * 0.99
    assert (tmp_path / "out").stat().st_size == 4096


def test_outputs_depend_on_every_input_its_name_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"alpha")
    (tmp_path / "b").write_bytes(b"beta")
    (tmp_path / "c").write_bytes(b"gamma")

    def output(name: str, inputs: dict[str, Path], seconds: float = 0.0) -> bytes:
        target = tmp_path / f"out-{name}-{len(inputs)}-{seconds}"
        synthetic_task.task(name, seconds=seconds, output_bytes=100)(inputs, target)
        return target.read_bytes()

    base = output("join", {"x": tmp_path / "a", "y": tmp_path / "b"})
    # The CPU budget, hence how far the hash chain got, does not change the bytes.
    assert output("join", {"x": tmp_path / "a", "y": tmp_path / "b"}, seconds=0.02) == base
    assert output("join", {"y": tmp_path / "b", "x": tmp_path / "a"}) == base
    assert output("join", {"x": tmp_path / "a", "y": tmp_path / "c"}) != base
    assert output("join", {"x": tmp_path / "b", "y": tmp_path / "a"}) != base
    assert output("fork", {"x": tmp_path / "a", "y": tmp_path / "b"}) != base
    assert output("join", {"x": tmp_path / "a"}) != base


@pytest.mark.parametrize("size", [0, 1, 32, 1_000_003])
def test_output_content_has_the_exact_size(size: int) -> None:
    seed = hashlib.sha256(b"seed").digest()
    content = synthetic_task.output_content(seed, size)
    assert len(content) == size
    assert content == synthetic_task.output_content(seed, size)


def test_the_task_file_carries_the_runtime_verbatim(tmp_path: Path) -> None:
    generate_app(tmp_path / "app", PARAMS)
    code = (tmp_path / "app" / "tasks" / "dag.py").read_text()
    runtime = Path(synthetic_task.__file__).read_text()
    assert code.startswith(runtime.rstrip("\n"))
    assert 't00 = task("t00", seconds=' in code
    assert "import jupiter" not in code  # the app runs without Jupiter's own modules
