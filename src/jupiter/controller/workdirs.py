"""The home's work dir, and removing those whose home died without removing its own.

A home killed outright (SIGKILL, an OOM kill, a power cut) cannot remove its work dir, and
its agents only remove their own parts of it. Each work dir therefore names its owner: the
home's pid and that process's start time, so that a pid the system has since given to
another process is not taken for the owner still running. A later run removes every such
dir whose owner is gone; a dir without a marker is not ours to judge and is left alone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

PREFIX = "jupiter-"
MARKER = ".jupiter-owner.json"
# psutil derives a start time from the boot time and clock ticks: the same process always
# reads the same value, give or take rounding.
_START_TOLERANCE_S = 0.05


def make_work_dir(run_id: str) -> Path:
    """A new private dir under the temp root for run `run_id`, marked as this process's."""
    work_dir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{run_id}-"))
    me = psutil.Process()
    owner = {"pid": me.pid, "started": me.create_time()}
    partial = work_dir / f"{MARKER}.partial"
    partial.write_text(json.dumps(owner))
    # Renamed into place: a reader sees a whole marker or none, never half of one.
    partial.rename(work_dir / MARKER)
    return work_dir


def remove_stale_work_dirs(root: Path | None = None) -> list[Path]:
    """Remove every `jupiter-*` dir under `root` (the temp root by default) whose marker
    names an owner that is no longer running; returns the dirs removed."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    for candidate in sorted(root.glob(f"{PREFIX}*")):
        owner = _owner(candidate)
        if owner is None or _is_running(*owner):
            continue
        log.info("removing stale work dir %s: its home (pid %d) is gone", candidate, owner[0])
        try:
            shutil.rmtree(candidate, onerror=_unless_gone)
        except OSError as error:
            # Not worth failing this run for: say so, and the next run tries again.
            log.warning("could not remove stale work dir %s: %s", candidate, error)
            continue
        removed.append(candidate)
    return removed


def _owner(candidate: Path) -> tuple[int, float] | None:
    """The (pid, start time) a work dir's marker names; None if it is not a work dir of ours
    with a readable marker."""
    try:
        # lstat: a symlink named jupiter-* is never followed, and is not a dir.
        info = candidate.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
        marker = candidate / MARKER
        if not stat.S_ISREG(marker.lstat().st_mode):
            return None
        owner = json.loads(marker.read_text())
        pid, started = owner["pid"], owner["started"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(pid, int) or not isinstance(started, int | float):
        log.debug("work dir %s: marker %s is not ours; left alone", candidate, owner)
        return None
    return pid, float(started)


def _is_running(pid: int, started: float) -> bool:
    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - started) <= _START_TOLERANCE_S and (
            process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        # Someone else's process holds the pid now, so it is not our home: but without its
        # start time we cannot be sure; keep the dir.
        return True


def _unless_gone(
    function: object, path: str, error: tuple[type[BaseException], BaseException, object]
) -> None:
    # Another run, or an agent cleaning up its own part, may be removing the same files.
    if not isinstance(error[1], FileNotFoundError):
        raise error[1]
