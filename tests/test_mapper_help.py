"""`--mapper` says which mappers there are, where a user looks first: the command's help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jupiter.mapper.registry import BUILTIN


@pytest.mark.parametrize("command", [["run"], ["k8s", "render"]])
def test_the_mapper_option_lists_every_built_in_mapper(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupiter", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    lines = done.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("--mapper"))
    end = next(i for i in range(first + 1, len(lines)) if lines[i].strip().startswith("-"))
    # click wraps help at 80 columns, breaking after hyphens too: compare without spaces.
    block = "".join("".join(line.split()) for line in lines[first:end])
    assert "Mappingalgorithm:" + ",".join(BUILTIN) in block


def test_run_help_says_what_the_unset_options_default_to() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jupiter", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    text = " ".join(done.stdout.split())
    assert "--nodes INTEGER Emulate N nodes over the 8 default regions (default: 8," in text
    assert "--report PATH Write report.json, report.html and the task logs" in text
    assert "(0: as fast as --max-in-flight allows). [default: 0.0]" in text
    assert "--max-in-flight INTEGER Inputs in the DAG at once (default: no limit)." in text
