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
