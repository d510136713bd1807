"""Suite-wide guard: tests leave no process and no Jupiter temp dir behind.

Also the `e2e` marker for everything under tests/e2e/; the other modules that start real
agents or real `jupiter run` processes carry `pytestmark = pytest.mark.e2e` themselves.
`python3 -m pytest` runs every tier; `-m "not e2e"` is the fast one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

E2E_DIRECTORY = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(E2E_DIRECTORY):
            item.add_marker(pytest.mark.e2e)


def _jupiter_temp_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("jupiter-*"))


@pytest.fixture(autouse=True, scope="session")
def private_temp_dir() -> Iterator[Path]:
    """The session's own temp dir, for everything the tests and their agents create.

    Checking the machine's /tmp for leftovers would blame this session for another one's
    temp dirs when two run at once; under a private TMPDIR (inherited by every agent and
    task) a leftover can only be ours.
    """
    private = Path(tempfile.mkdtemp(prefix="pytest-jupiter-"))
    saved_env, saved_default = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(private)
    # Runs that take their defaults (jupiter-out/, .jupiter/run.json) write into the
    # current folder: make it one of the session's own, not the checkout.
    saved_cwd = Path.cwd()
    work = private / "cwd"
    work.mkdir()
    os.chdir(work)
    try:
        yield private
    finally:
        os.chdir(saved_cwd)
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        tempfile.tempdir = saved_default
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(autouse=True)
def private_profile_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Each test's own XDG_CACHE_HOME: no cached profile is written to the real home folder
    or carried from one test to the next (`jupiter run` caches profiles by default)."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture
def no_agent_survives() -> Iterator[None]:
    """Each end-to-end test must stop every process it started, however it ended."""
    yield
    deadline = time.monotonic() + 5
    while (children := psutil.Process().children(recursive=True)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in children:
        child.kill()
    assert not children, f"left running: {[c.cmdline() for c in children]}"


@pytest.fixture(autouse=True, scope="session")
def nothing_left_behind(private_temp_dir: Path) -> Iterator[None]:
    before = _jupiter_temp_dirs()
    yield
    leftover = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
    for process in leftover:
        process.kill()
    assert not leftover, f"tests left processes running: {[p.cmdline() for p in leftover]}"
    new_dirs = _jupiter_temp_dirs() - before
    assert not new_dirs, f"tests left temp dirs: {sorted(new_dirs)}"
