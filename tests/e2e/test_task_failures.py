"""Task failures and timeouts on streams that survive, with real agents: --on-error skip,
retries, per-task timeouts, the profiling deadline and the report of a failed run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from jupiter.backends.local import LocalBackend
from jupiter.cli import main
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions, partial_result, run
from jupiter.errors import RunError
from jupiter.profiler.home import ProfileSettings

from .apps import diamond, expected_outputs

# Input id k uses sample k mod 3; sample k holds "input sample k" k+1 times.
FAIL_ON_SAMPLE_1 = """

import sys


def a(inputs, output):
    (path,) = inputs.values()
    if "sample 1" in path.read_text():
        print("a: refusing sample 1", file=sys.stderr)
        raise ValueError("sample 1 is bad")
    mix("a", inputs, output)
"""

FAIL_FIRST_TIME = """

import hashlib


def a(inputs, output):
    # Fails on its first attempt at each input, then succeeds: a marker per input content.
    (path,) = inputs.values()
    marker = Path("markers") / hashlib.sha256(path.read_bytes()).hexdigest()
    if not marker.exists():
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
        raise RuntimeError("first attempt fails")
    mix("a", inputs, output)
"""

B_HANGS_ON_SAMPLE_2 = """

import time


def b(inputs, output):
    marker = inputs["a"].read_text()
    if marker == SAMPLE_2_A:
        time.sleep(1000)
    mix("b", inputs, output)
"""


def with_code(app: Path, code: str) -> Path:
    with (app / "tasks.py").open("a") as tasks:
        tasks.write(code)
    return app


def set_task(app: Path, task: str, **fields: object) -> None:
    spec = yaml.safe_load((app / "app.yaml").read_text())
    spec["tasks"][task].update(fields)
    (app / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def outputs_of(entries: list[dict[str, object]]) -> dict[int, dict[str, str]]:
    return {
        int(entry["id"]): {t: Path(p).read_text() for t, p in entry["outputs"].items()}  # type: ignore[union-attr]
        for entry in entries
    }


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--quiet", "--no-profile"])
        raise SystemExit(0)
    return int(stopped.value.code or 0)


def test_skip_fails_one_input_and_the_others_complete(tmp_path: Path, capsys) -> None:
    app = with_code(diamond(tmp_path / "skip"), FAIL_ON_SAMPLE_1)
    report_dir = tmp_path / "report"
    code = cli(
        "run", str(app), "--nodes", "3", "--inputs", "6", "--max-in-flight", "2",
        "--on-error", "skip", "--out", str(tmp_path / "out"), "--report", str(report_dir),
    )  # fmt: skip
    assert code == 1
    assert "error: 2 of 6 inputs failed" in capsys.readouterr().err
    report = json.loads((report_dir / "report.json").read_text())
    assert report["status"] == "failed"
    got = outputs_of(report["inputs"])
    assert sorted(got) == [0, 2, 3, 5]
    for input_id, outputs in got.items():
        assert outputs == expected_outputs(app, input_id), f"input {input_id}"
    failed = report["failed_inputs"]
    assert [f["id"] for f in failed] == [1, 4]
    for entry in failed:
        assert entry["task"] == "a"
        assert entry["node"] == report["mapping"]["a"]
        assert "a: refusing sample 1" in entry["message"]
        assert entry["message"].rstrip().endswith("ValueError: sample 1 is bad")
        assert entry["outputs"] == {}


def test_a_retried_task_that_fails_once_succeeds(tmp_path: Path) -> None:
    app = with_code(diamond(tmp_path / "retry"), FAIL_FIRST_TIME)
    options = RunOptions(
        backend=LocalBackend(),
        app=app,
        cluster=Cluster.default(3),
        inputs=3,
        out_dir=tmp_path / "out",
        profiling=False,
        retries=1,  # --retries: the app has no defaults of its own
    )
    result = asyncio.run(run(options))
    assert result.status == "completed" and result.failed == []
    for input_id in range(3):
        got = {t: Path(p).read_text() for t, p in result.outputs[input_id].items()}
        assert got == expected_outputs(app, input_id)
    attempts = {(r["task"], r["input_id"]): r["attempts"] for r in result.stats}
    assert {attempts[("a", k)] for k in range(3)} == {2}
    assert {attempts[(t, k)] for t in "bcd" for k in range(3)} == {1}
    assert all(r["failed"] is None for r in result.stats)


def test_a_hung_task_times_out_and_the_failed_run_reports_what_it_delivered(
    tmp_path: Path, capsys
) -> None:
    app = diamond(tmp_path / "hang")
    sample_2_a = expected_a(app, 2)
    with_code(app, B_HANGS_ON_SAMPLE_2.replace("SAMPLE_2_A", repr(sample_2_a)))
    set_task(app, "b", timeout=1)
    out, report_dir = tmp_path / "out", tmp_path / "report"
    code = cli(
        "run", str(app), "--nodes", "3", "--inputs", "4", "--max-in-flight", "1",
        "--out", str(out), "--report", str(report_dir),
    )  # fmt: skip
    assert code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: task 'b' failed on node ")
    assert last.endswith("for input 2: task b timed out after 1 s")
    report = json.loads((report_dir / "report.json").read_text())
    assert report["status"] == "failed"
    assert "task b timed out after 1 s" in report["error"]
    # Inputs 0 and 1 were delivered before input 2 hung; they stay in --out, listed.
    got = outputs_of(report["inputs"])
    assert sorted(got) == [0, 1]
    for input_id, outputs in got.items():
        assert outputs == expected_outputs(app, input_id)
    assert (out / "0" / "d").is_file()
    timed_out = [r for r in report["stats"] if r["task"] == "b" and r["input_id"] == 2]
    assert timed_out and "timed out after 1 s" in timed_out[0]["failed"]


def expected_a(app: Path, input_id: int) -> str:
    """Task a's output for an input id: what b receives."""
    spec = yaml.safe_load((app / "app.yaml").read_text())
    spec["tasks"] = {"a": spec["tasks"]["a"]}
    only_a = app.parent / f"{app.name}-a"
    only_a.mkdir()
    (only_a / "app.yaml").write_text(yaml.safe_dump(spec))
    (only_a / "tasks.py").write_text((app / "tasks.py").read_text())
    (only_a / "samples").symlink_to(app / "samples")
    return expected_outputs(only_a, input_id)["a"]


def hanging_in_profiling(tmp_path: Path, **b: object) -> RunOptions:
    app = with_code(
        diamond(tmp_path / "profile-hang"),
        "\n\nimport time\n\n\ndef b(inputs, output):\n    time.sleep(1000)\n",
    )
    if b:
        set_task(app, "b", **b)
    return RunOptions(
        backend=LocalBackend(),
        app=app,
        cluster=Cluster.default(2),
        inputs=1,
        out_dir=tmp_path / "out",
        profile_settings=ProfileSettings(timeout=8),
    )


def test_a_hang_while_profiling_names_the_task_and_node(tmp_path: Path) -> None:
    options = hanging_in_profiling(tmp_path)
    with pytest.raises(RunError) as caught:
        asyncio.run(run(options))
    message = str(caught.value)
    assert message.startswith("profiling timed out after 8 s (--profile-timeout)")
    # The DAG runs once on the first node to make the samples: that is where b hangs.
    assert "task b on node n00 (sample input 0)" in message
    partial = partial_result(caught.value)
    assert partial is not None and partial.status == "failed"
    assert partial.schedule is None and partial.outputs == {}


def test_a_task_timeout_fails_profiling_at_once(tmp_path: Path) -> None:
    options = hanging_in_profiling(tmp_path, timeout=1)
    options.profile_settings = ProfileSettings(timeout=600)
    with pytest.raises(RunError) as caught:
        asyncio.run(run(options))
    assert "profiling on node n00 (sample input 0): task b timed out after 1 s" in str(caught.value)
    assert partial_result(caught.value) is not None


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--task-timeout", "0"], "error: --task-timeout: must be > 0, got 0"),
        (["--task-timeout", "100000"], "error: --task-timeout: must be <= 86400, got 100000"),
        (["--retries", "11"], "error: --retries: must be <= 10, got 11"),
        (["--retries", "-1"], "error: --retries: must be >= 0, got -1"),
        (["--profile-timeout", "-5"], "error: --profile-timeout: must be > 0, got -5"),
    ],
)
def test_bad_limits_on_the_command_line_are_one_line_and_exit_2(
    tmp_path: Path, capsys, flags: list[str], line: str
) -> None:
    app = diamond(tmp_path / "flags")
    assert cli("run", str(app), "--out", str(tmp_path / "out"), *flags) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(line) and "\n" not in err


def test_an_interrupted_run_keeps_what_it_delivered(tmp_path: Path) -> None:
    app = diamond(tmp_path / "interrupt")
    sample_2_a = expected_a(app, 2)
    with_code(app, B_HANGS_ON_SAMPLE_2.replace("SAMPLE_2_A", repr(sample_2_a)))
    out = tmp_path / "out"
    options = RunOptions(
        backend=LocalBackend(),
        app=app,
        cluster=Cluster.default(3),
        inputs=4,
        max_in_flight=1,
        out_dir=out,
        profiling=False,
    )

    async def interrupt() -> BaseException:
        running = asyncio.ensure_future(run(options))
        # Like Ctrl-C: the run is cancelled once inputs 0 and 1 are home and 2 hangs.
        while not (out / "1" / "d").is_file():
            assert not running.done()
            await asyncio.sleep(0.1)
        running.cancel()
        try:
            await running
        except asyncio.CancelledError as stopped:
            return stopped
        raise AssertionError("the run was not interrupted")

    stopped = asyncio.run(interrupt())
    partial = partial_result(stopped)
    assert partial is not None
    assert (partial.status, partial.error) == ("interrupted", "interrupted")
    assert sorted(partial.completed_at) == [0, 1]
    for input_id in (0, 1):
        got = {t: Path(p).read_text() for t, p in partial.outputs[input_id].items()}
        assert got == expected_outputs(app, input_id)
