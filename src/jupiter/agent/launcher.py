"""Forks local agents from one warm interpreter.

Importing aiohttp, pydantic and the agent costs about half a second of CPU per process; a
hundred agents on two cores would take most of a minute to start. The launcher pays it once
and forks each agent, so start-up is a fork and the imported pages are shared copy-on-write.

Protocol (line-delimited JSON): the home writes {"config": PATH} to stdin, the launcher answers
{"node", "pid"} on stdout, and {"exited": node, "pid", "code"} whenever an agent dies. EOF on
stdin means the run is over (or the home is gone): every agent is stopped, then the launcher
exits.

The launcher is a child subreaper (reaper.py): a process a task detached with setsid is
adopted by it, not by PID 1, and killed when any agent exits and when the launcher stops.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from jupiter.agent.auth import TOKEN_ENV
from jupiter.agent.config import AgentConfig
from jupiter.agent.reaper import become_subreaper, kill_adopted, stop_adopted
from jupiter.agent.server import run_agent
from jupiter.logs import configure

STOP_GRACE_S = 5.0

_children: dict[int, str] = {}
# Every agent's work dir: an agent that had to be killed could not remove its own.
_work_dirs: list[Path] = []


def _say(message: dict[str, object]) -> None:
    # os.write, not print: this also runs inside the SIGCHLD handler, where a buffered print
    # could re-enter itself.
    os.write(1, (json.dumps(message) + "\n").encode())


def _reap(signum: int = 0, frame: object = None) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        node = _children.pop(pid, None)
        if node is not None:
            _say({"exited": node, "pid": pid, "code": os.waitstatus_to_exitcode(status)})
            # What its tasks detached dies with it (and with it, what the live agents' tasks
            # detached: a lost agent ends the run anyway). The killed are reaped in this loop
            # or the next call.
            kill_adopted(keep=_children)


def _become_agent(config: AgentConfig, token: str) -> None:
    """Runs in the forked child; never returns."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        config.work_dir.mkdir(parents=True, exist_ok=True)
        log = os.open(config.work_dir / "agent.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        configure(config.log_level, run_id=config.run_id, node=config.node)
        logging.getLogger("jupiter.agent.launcher").info("agent forked (pid %d)", os.getpid())
        asyncio.run(run_agent(config, token))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
        if stop.code and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def _stop_children() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for pid in list(_children):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            _children.pop(pid, None)
    deadline = time.monotonic() + STOP_GRACE_S
    while _children and time.monotonic() < deadline:
        for pid in list(_children):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                _children.pop(pid)
        time.sleep(0.01)
    for pid in list(_children):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _children.pop(pid)
    stop_adopted()
    # The run is over for every agent here (its home closed our stdin, or died): what an
    # agent keeps is the home's to read while the run lasts, and nobody's after.
    for work_dir in _work_dirs:
        shutil.rmtree(work_dir, ignore_errors=True)


def main() -> int:
    # The token comes as the first line on stdin, never in the environment, which every
    # agent and every task would inherit (and /proc would show).
    os.environ.pop(TOKEN_ENV, None)
    token = sys.stdin.readline().strip()
    if not token:
        print("launcher: the run token must be the first line on stdin", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the home decides when we stop
    become_subreaper()
    signal.signal(signal.SIGCHLD, _reap)
    # Every imported object goes to the collector's permanent generation: a child's garbage
    # collections then never write to (and so copy) the pages it shares with its siblings.
    gc.freeze()
    for line in sys.stdin:
        config = AgentConfig.read(Path(json.loads(line)["config"]))
        # Hold SIGCHLD until the pid is recorded, so an agent that dies at once is reported.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _become_agent(config, token)
        _children[pid] = config.node
        _work_dirs.append(config.work_dir)
        _say({"node": config.node, "pid": pid})
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    _stop_children()
    return 0


if __name__ == "__main__":
    sys.exit(main())
