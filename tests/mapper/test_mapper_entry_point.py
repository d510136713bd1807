"""A mapper from a separately installed package, found through the `jupiter.mappers` entry
point group and used by `jupiter schedule --algorithm NAME`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from jupiter.mapper.examples import topcuoglu_2002

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "jupiter-test-first-node"
version = "0.1.0"

[project.entry-points."jupiter.mappers"]
first-node = "jupiter_test_first_node:schedule"
"""

MODULE = '''
"""Everything on the first node listed: the smallest possible real mapper."""

from jupiter.mapper.simulate import simulate


def schedule(problem):
    return simulate(problem, dict.fromkeys(problem.tasks, problem.nodes[0]), "first-node")
'''


@pytest.fixture
def installed(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (source / "jupiter_test_first_node").mkdir()
    (source / "jupiter_test_first_node" / "__init__.py").write_text(textwrap.dedent(MODULE))
    site = tmp_path / "site"
    # Offline: no index, no isolated build env; hatchling is Jupiter's own build backend.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--no-cache-dir",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    assert list(site.glob("jupiter_test_first_node-0.1.0.dist-info/entry_points.txt"))
    yield site
    shutil.rmtree(site)
    shutil.rmtree(source)


def jupiter(site, *args):
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, "-m", "jupiter", "schedule", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_schedule_uses_the_installed_mapper(installed, tmp_path):
    problem = tmp_path / "paper.json"
    topcuoglu_2002().save(problem)

    done = jupiter(installed, str(problem), "--algorithm", "first-node", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["algorithm"] == "first-node"
    assert {row["node"] for row in document["assignments"]} == {"P1"}
    assert document["makespan"] == 127  # the sum of the P1 column: no transfers, no overlap

    listing = jupiter(installed, str(problem), "--algorithm", "all")
    assert listing.returncode == 0, listing.stderr
    assert " first-node " in listing.stdout

    # Without the package on the path the name is unknown again.
    gone = jupiter(tmp_path / "nothing-here", str(problem), "--algorithm", "first-node")
    assert gone.returncode == 2
    assert "unknown mapper 'first-node'" in gone.stderr
