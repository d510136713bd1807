"""A mapper from a separately installed package, found through the `jupiter.mappers` entry
point group and used by `jupiter schedule --algorithm NAME`.

The package is laid out as an installer leaves a wheel in site-packages: the module beside a
`.dist-info` holding METADATA, entry_points.txt and RECORD. That is all `importlib.metadata`
reads, so the test needs no build backend, no pip and no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupiter.mapper.examples import topcuoglu_2002

DISTRIBUTION = "jupiter_test_first_node-0.1.0.dist-info"

METADATA = """\
Metadata-Version: 2.1
Name: jupiter-test-first-node
Version: 0.1.0
"""

ENTRY_POINTS = """\
[jupiter.mappers]
first-node = jupiter_test_first_node:schedule
"""

MODULE = '''
"""Everything on the first node listed: the smallest possible real mapper."""

from jupiter.mapper.simulate import simulate


def schedule(problem):
    return simulate(problem, dict.fromkeys(problem.tasks, problem.nodes[0]), "first-node")
'''


def record_line(site: Path, path: Path) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=")
    return f"{path.relative_to(site).as_posix()},sha256={digest.decode()},{path.stat().st_size}"


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    package = site / "jupiter_test_first_node"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(MODULE))
    info = site / DISTRIBUTION
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "INSTALLER").write_text("jupiter-tests\n")
    files = [package / "__init__.py", info / "METADATA", info / "entry_points.txt"]
    files.append(info / "INSTALLER")
    lines = [record_line(site, path) for path in files] + [f"{DISTRIBUTION}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(lines) + "\n")
    return site


def test_the_layout_is_an_installed_distribution(installed: Path) -> None:
    """What the mapper registry will find, read the way it reads it."""
    from importlib.metadata import distributions

    [found] = distributions(path=[str(installed)])
    assert found.metadata["Name"] == "jupiter-test-first-node"
    assert found.version == "0.1.0"
    [point] = found.entry_points.select(group="jupiter.mappers")
    assert (point.name, point.value) == ("first-node", "jupiter_test_first_node:schedule")
    assert sorted(str(f) for f in found.files or []) == sorted(
        [
            "jupiter_test_first_node/__init__.py",
            f"{DISTRIBUTION}/INSTALLER",
            f"{DISTRIBUTION}/METADATA",
            f"{DISTRIBUTION}/RECORD",
            f"{DISTRIBUTION}/entry_points.txt",
        ]
    )


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
