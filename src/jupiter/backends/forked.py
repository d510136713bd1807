"""Agent processes on this machine, forked by one launcher (agent/launcher.py), each at its own
127.0.0.x address. Whatever way the run ends, `stop` (or `__aexit__`) leaves no process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psutil

from jupiter.agent.auth import environment_without_token
from jupiter.agent.config import AgentConfig
from jupiter.background import background
from jupiter.errors import RunError

STOP_TIMEOUT_S = 10.0


def loopback_address(index: int) -> str:
    """127.0.0.2, 127.0.0.3, ...: all of 127/8 reaches this machine, no setup needed."""
    high, low = divmod(index, 250)
    return f"127.0.{high}.{low + 2}"


class ForkedAgents:
    def __init__(self, token: str, work_dir: Path) -> None:
        self.token = token
        self.work_dir = work_dir
        self.pids: dict[str, int] = {}
        self._launcher: asyncio.subprocess.Process | None = None
        self._lifeline_write: int | None = None
        self._lifeline_read: int | None = None
        self._listener: asyncio.Task[None] | None = None
        self._started: dict[str, asyncio.Future[int]] = {}
        self._on_exit: Callable[[str, int], None] = lambda node, code: None

    async def __aenter__(self) -> ForkedAgents:
        self._lifeline_read, self._lifeline_write = os.pipe()
        self._launcher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jupiter.agent.launcher",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(self._lifeline_read,),
            # Own session: a Ctrl-C in the terminal reaches the home only, which then tears
            # down in order instead of every agent dying mid-transfer.
            start_new_session=True,
            env=environment_without_token(),
        )
        assert self._launcher.stdin is not None
        self._launcher.stdin.write(f"{self.token}\n".encode())
        await self._launcher.stdin.drain()
        self._listener = background(self._listen(), "listening to the agent launcher")
        return self

    def on_agent_exit(self, callback: Callable[[str, int], None]) -> None:
        self._on_exit = callback

    def agent_config(self, **fields: object) -> AgentConfig:
        assert self._lifeline_read is not None
        return AgentConfig.model_validate({**fields, "lifeline_fd": self._lifeline_read})

    async def start(self, config: AgentConfig) -> int:
        """Fork one agent; returns its pid once the launcher confirms the fork."""
        launcher = self._launcher
        assert launcher is not None and launcher.stdin is not None
        path = self.work_dir / "agents" / f"{config.node}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        config.write(path)
        future = asyncio.get_running_loop().create_future()
        self._started[config.node] = future
        launcher.stdin.write((json.dumps({"config": str(path)}) + "\n").encode())
        await launcher.stdin.drain()
        pid = await asyncio.wait_for(future, timeout=30)
        self.pids[config.node] = pid
        return pid

    def agent_log(self, node: str, lines: int = 20) -> str:
        log = self.work_dir / "nodes" / node / "agent.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def save_logs(self, into: Path) -> list[Path]:
        into.mkdir(parents=True, exist_ok=True)
        saved = []
        for log in sorted((self.work_dir / "nodes").glob("*/agent.log")):
            target = into / f"{log.parent.name}.log"
            shutil.copyfile(log, target)
            saved.append(target)
        return saved

    async def _listen(self) -> None:
        assert self._launcher is not None and self._launcher.stdout is not None
        async for raw in self._launcher.stdout:
            message = json.loads(raw)
            if "exited" in message:
                self.pids.pop(message["exited"], None)
                self._on_exit(message["exited"], message["code"])
            elif message["node"] in self._started:
                self._started.pop(message["node"]).set_result(message["pid"])
        for future in self._started.values():
            if not future.done():
                future.set_exception(RunError("the agent launcher exited unexpectedly"))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.shield(self.stop())

    async def stop(self) -> None:
        launcher = self._launcher
        if launcher is None:
            return
        self._launcher = None
        self._on_exit = lambda node, code: None
        tree = _process_tree(launcher.pid)
        if launcher.stdin is not None:
            with contextlib.suppress(ConnectionError):
                launcher.stdin.close()
        try:
            await asyncio.wait_for(launcher.wait(), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, signal.SIGKILL)
            await launcher.wait()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for fd in (self._lifeline_read, self._lifeline_write):
            if fd is not None:
                os.close(fd)
        self._lifeline_read = self._lifeline_write = None
        # Anything the agents started that outlived them (a task's worker) goes too.
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.kill()
        self.pids.clear()


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
