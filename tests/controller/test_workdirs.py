"""The home's work dir names its owner; a later run removes those whose owner is dead, and
nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from jupiter.controller.workdirs import MARKER, make_work_dir, remove_stale_work_dirs

MAKE_AND_WAIT = """
import sys
from jupiter.controller.workdirs import make_work_dir
work_dir = make_work_dir("abcd1234")
(work_dir / "nodes" / "n00").mkdir(parents=True)
(work_dir / "nodes" / "n00" / "agent.log").write_text("log")
print(work_dir, flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    return root


def owner_killed(root: Path) -> Path:
    """A work dir made by a real process, which is then SIGKILLed (and reaped)."""
    home = subprocess.Popen(
        [sys.executable, "-c", MAKE_AND_WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(root)},
    )
    assert home.stdout is not None
    work_dir = Path(home.stdout.readline().strip())
    home.kill()
    home.communicate()
    return work_dir


def test_the_work_dir_is_private_and_names_its_owner(root: Path) -> None:
    previous = tempfile.tempdir
    tempfile.tempdir = str(root)
    try:
        work_dir = make_work_dir("run1")
    finally:
        tempfile.tempdir = previous
    assert work_dir.parent == root and work_dir.name.startswith("jupiter-run1-")
    assert work_dir.stat().st_mode & 0o777 == 0o700
    owner = json.loads((work_dir / MARKER).read_text())
    assert owner == {"pid": os.getpid(), "started": psutil.Process().create_time()}
    # Its owner is running: not stale.
    assert remove_stale_work_dirs(root) == []
    assert work_dir.is_dir()


def test_a_dir_whose_owner_was_killed_is_removed(root: Path) -> None:
    work_dir = owner_killed(root)
    assert (work_dir / "nodes" / "n00" / "agent.log").exists()
    assert remove_stale_work_dirs(root) == [work_dir]
    assert not work_dir.exists()


def test_a_reused_pid_is_not_taken_for_the_owner(root: Path) -> None:
    # Our own pid, but not our start time: the process that made it is gone, and the pid
    # now names someone else (us).
    work_dir = root / "jupiter-reused-x"
    work_dir.mkdir()
    started = psutil.Process().create_time() - 3600
    (work_dir / MARKER).write_text(json.dumps({"pid": os.getpid(), "started": started}))
    assert remove_stale_work_dirs(root) == [work_dir]


def test_only_marked_dirs_of_dead_owners_go(root: Path, tmp_path: Path) -> None:
    stale = owner_killed(root)
    # No marker (made by someone else, or a standby agent's): left alone.
    unmarked = root / "jupiter-agent-xyz"
    unmarked.mkdir()
    # A marker that is not one of ours: left alone.
    garbled = root / "jupiter-garbled-x"
    garbled.mkdir()
    (garbled / MARKER).write_text("not json")
    # A symlink named like a work dir, to a dir with a dead owner's marker: never followed.
    target = tmp_path / "precious"
    target.mkdir()
    (target / MARKER).write_text((stale / MARKER).read_text())
    (target / "thesis.tex").write_text("mine")
    (root / "jupiter-link-x").symlink_to(target)
    # A dead owner's marker that is itself a symlink: not trusted either.
    linked_marker = root / "jupiter-linked-marker-x"
    linked_marker.mkdir()
    (linked_marker / MARKER).symlink_to(target / MARKER)
    # A file, not a dir.
    (root / "jupiter-file-x").write_text("x")
    # Symlinks inside a stale dir are removed, not followed.
    (stale / "escape").symlink_to(target)

    assert remove_stale_work_dirs(root) == [stale]
    left = ["agent-xyz", "file-x", "garbled-x", "link-x", "linked-marker-x"]
    assert sorted(p.name for p in root.iterdir()) == [f"jupiter-{name}" for name in left]
    assert (target / "thesis.tex").read_text() == "mine"
