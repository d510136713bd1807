"""Adopting and killing what a task detached.

A task's process group dies with its agent (app/runner.py), but a descendant that called
setsid and double-forked has left that group and would be reparented to PID 1, outliving the
run. A process marked a child subreaper (Linux's PR_SET_CHILD_SUBREAPER) adopts such orphans
instead, so the launcher and every standalone agent can find them among their own children
and kill them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Collection

import psutil

log = logging.getLogger(__name__)

# <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children; False where not supported."""
    if not sys.platform.startswith("linux"):
        log.info(
            "not on Linux: a process a task detaches with setsid may outlive its agent (%s)",
            sys.platform,
        )
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        log.warning(
            "could not become a child subreaper (%s): a process a task detaches with setsid "
            "may outlive its agent",
            os.strerror(error),
        )
        return False
    log.debug("child subreaper: orphaned task descendants are adopted here")
    return True


def _adopted(keep: Collection[int]) -> list[psutil.Process]:
    try:
        return [child for child in psutil.Process().children() if child.pid not in keep]
    except psutil.Error:
        return []


def _kill_tree(process: psutil.Process) -> None:
    """SIGKILL a process and its descendants; a zombie is left to be reaped."""
    try:
        tree = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for member in tree:
        try:
            if member.status() == psutil.STATUS_ZOMBIE:
                continue
            name = member.name()
            # psutil checks the pid still names the process it listed: a reused pid is safe.
            member.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
        log.info("killed pid %d (%s), left behind by a task", member.pid, name)


def kill_adopted(keep: Collection[int] = ()) -> None:
    """SIGKILL every child not in `keep` (an adopted orphan) and its descendants, without
    waiting: for a caller whose SIGCHLD handler reaps them."""
    for child in _adopted(keep):
        _kill_tree(child)


def stop_adopted(keep: Collection[int] = (), timeout: float = 5.0) -> None:
    """Kill every child not in `keep` and its descendants, and reap them: for a process about
    to exit. It repeats until none is left, as a killed child's own children are then
    adopted in turn."""
    deadline = time.monotonic() + timeout
    while children := _adopted(keep):
        for child in children:
            _kill_tree(child)
            # Reaped already (by a SIGCHLD handler) or not dead yet: the next round sees.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, os.WNOHANG)
        if time.monotonic() > deadline:
            log.warning(
                "left running: %s survived SIGKILL for %.0f s",
                ", ".join(str(child.pid) for child in children),
                timeout,
            )
            return
        time.sleep(0.01)
