"""Running one task on one input: a Python function in a persistent worker, or a command.

    async with TaskRunner(app) as runner:
        cpu_seconds = await runner.run("score", {"aggregate": path}, output_path)

The runner owns every process it starts: cancelling `run` kills the task's process group,
and leaving the `async with` block stops the Python workers and removes their temp files.
If the runner's process dies without leaving (SIGKILL, the OOM killer), its tasks die too:
each task's process group has a watcher blocked on the read end of a pipe whose only write
end the runner holds, and the kernel closes that when the runner's process goes, whatever
killed it. The watcher then kills its whole group.

`run` returns the CPU seconds the task used, which the executor stretches by node speed (its
wall time is no measure of its work on a busy host): a Python task's is measured by its
worker around the call; a command's is the rusage of its shell, which counts every process
of the command that the shell or its descendants waited for. The runner reaps each command
itself with os.wait4 (on a pidfd, not through asyncio's child watcher, which discards the
rusage).

A task's `resources:` (app.yaml) are rlimits on its processes: a command's are set by its
shell before the command starts (writable memory, RLIMIT_DATA, soft and hard; CPU seconds,
RLIMIT_CPU, soft, with the hard limit a second later), so every process of the command has
them; a Python task's are set by the shared worker around that one call (see
python_worker.py). Either way a task past its limit fails as `TaskLimitExceeded`, naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from asyncio.subprocess import PIPE, Process
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jupiter
from jupiter.app import placeholders
from jupiter.app.document import format_memory
from jupiter.app.python_worker import HEADER, encode_frame
from jupiter.app.spec import App, TaskSpec
from jupiter.errors import RunError

log = logging.getLogger(__name__)

__all__ = [
    "TaskFailed",
    "TaskLimitExceeded",
    "TaskOutput",
    "TaskRun",
    "TaskRunner",
    "TaskTimedOut",
    "retry_delay",
]

TAIL_BYTES = 4096
# What is kept of each of a task run's stdout and stderr (the end: where a problem shows).
LOG_TAIL_BYTES = 64 * 1024
_WORKER_MODULE = "jupiter.app.python_worker"
# Where `jupiter` is importable from, for the worker even if the caller adjusted sys.path.
_PACKAGE_PARENT = str(Path(jupiter.__file__).resolve().parent.parent)
# A command runs under this script, with the lifeline as its stdin: a background job keeps
# the lifeline (on fd 9) and kills the group when it reads end of file; the command itself
# gets /dev/null, as before, and not fd 9. $2 and $3, when not empty, are its limits:
# writable memory in KiB and CPU seconds (soft; the hard limit, SIGKILL, a second later, for
# a command that ignores SIGXCPU). A limit that cannot be set fails the task (status 125).
_WATCHED_COMMAND = """exec 9<&0 </dev/null
( read -r _ <&9; kill -s KILL 0 ) &
if [ -n "$2" ]; then ulimit -d "$2" || exit 125; fi
if [ -n "$3" ]; then ulimit -c 0; ulimit -S -t "$3" && ulimit -H -t $(($3 + 1)) || exit 125; fi
exec /bin/sh -c "$1" 9<&-
"""
# What a program says when an allocation is refused: Python, C (strerror(ENOMEM)), C++,
# glibc and coreutils, Java, Go. A limited command that fails saying one of them is taken
# to have run out of its memory limit.
_OUT_OF_MEMORY = (
    "MemoryError",
    "Cannot allocate memory",
    "std::bad_alloc",
    "memory exhausted",
    "out of memory",
    "OutOfMemoryError",
)


@dataclass(frozen=True)
class TaskOutput:
    """What one run of a task printed: the last LOG_TAIL_BYTES of its stdout and of its
    stderr, and how many bytes each held in all."""

    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0


@dataclass(frozen=True)
class TaskRun:
    """One successful run: the CPU seconds it used and what it printed."""

    cpu: float
    output: TaskOutput


class TaskFailed(RunError):
    """A task did not produce its output: its error output or traceback is in the message,
    and what it printed in `output` when the runner could read it."""

    output: TaskOutput | None = None

    def __init__(self, task: str, message: str, output: TaskOutput | None = None) -> None:
        self.task = task
        self.message = message
        self.output = output
        super().__init__(f"task '{task}' failed: {message}")


class TaskLimitExceeded(TaskFailed):
    """A task went past its memory or CPU limit (app.yaml `resources:`)."""

    def __init__(
        self, task: str, limit: str, detail: str = "", output: TaskOutput | None = None
    ) -> None:
        self.task = task
        self.limit = limit
        self.output = output
        headline = f"task {task} exceeded its {limit}"
        self.message = f"{headline}\n{detail}" if detail else headline
        RunError.__init__(self, self.message)


def _memory_limit(spec: TaskSpec) -> str:
    assert spec.memory_limit is not None
    return f"memory limit of {format_memory(spec.memory_limit)}"


def _cpu_limit(spec: TaskSpec) -> str:
    return f"CPU limit of {spec.cpu_limit} s"


class TaskTimedOut(TaskFailed):
    """A task ran longer than its `timeout`; whatever it started has been killed."""

    def __init__(self, task: str, seconds: float) -> None:
        self.task = task
        self.seconds = seconds
        self.message = f"task {task} timed out after {seconds:g} s"
        RunError.__init__(self, self.message)


# Retries wait 0.5 s, 1 s, 2 s... between attempts: long enough for a passing hiccup (a
# full disk being cleaned, a busy service) to clear, capped so ten retries stay in minutes.
RETRY_FIRST_DELAY_S = 0.5
RETRY_MAX_DELAY_S = 30.0


def retry_delay(failed_attempts: int) -> float:
    """Seconds to wait before the next attempt, after `failed_attempts` (>= 1) failures."""
    return min(RETRY_FIRST_DELAY_S * 2 ** (failed_attempts - 1), RETRY_MAX_DELAY_S)


class _WorkerDied(Exception):
    pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _tail_text(data: bytes, limit: int) -> str:
    if len(data) > limit:
        data = data[-limit:]
        # Start at a line boundary so the first line shown is not a fragment.
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            data = data[newline + 1 :]
        return "...\n" + data.decode("utf-8", "replace").rstrip()
    return data.decode("utf-8", "replace").rstrip()


def _log_tail(path: Path, limit: int) -> tuple[str, int]:
    """The last `limit` bytes of `path` as text, and the file's whole size (none: empty)."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                return "", 0
            file.seek(max(0, size - limit))
            data = file.read(limit)
    except FileNotFoundError:
        return "", 0
    if size > limit:
        # Cut mid-character: start at the next whole one (UTF-8 continuation bytes are 10xxxxxx).
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
            skip += 1
        data = data[skip:]
    return data.decode("utf-8", "replace"), size


def _captured(stdout: Path | None, stderr: Path, limit: int = LOG_TAIL_BYTES) -> TaskOutput:
    out, out_bytes = _log_tail(stdout, limit) if stdout is not None else ("", 0)
    err, err_bytes = _log_tail(stderr, limit)
    return TaskOutput(out, err, out_bytes, err_bytes)


def _file_tail(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 2 * limit))
            return _tail_text(file.read(), limit)
    except OSError:
        return ""


class _PythonWorker:
    """The runner's handle on one python_worker process."""

    def __init__(self, process: Process, log: Path, out: Path) -> None:
        self.process = process
        self.log = log
        self.out = out

    @classmethod
    async def start(cls, root: Path, log: Path, lifeline: int) -> _PythonWorker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if part
        )
        # A task's stdout, apart from its stderr (the log), so that each can be kept.
        out = log.with_suffix(".out")
        # O_APPEND: after the worker truncates the log, its writes start again at offset 0.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        fd = os.open(log, flags, 0o600)
        out_fd = os.open(out, flags, 0o600)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                _WORKER_MODULE,
                str(root),
                str(lifeline),
                str(out_fd),
                stdin=PIPE,
                stdout=PIPE,
                stderr=fd,
                cwd=root,
                env=env,
                # Its own process group, so that a kill also reaches anything the task started.
                start_new_session=True,
                pass_fds=(lifeline, out_fd),
            )
        finally:
            os.close(fd)
            os.close(out_fd)
        return cls(process, log, out)

    def output(self) -> TaskOutput:
        """What the last call printed."""
        return _captured(self.out, self.log)

    async def call(self, request: dict[str, Any]) -> tuple[bool, float, str | None]:
        """Whether the call succeeded, the CPU seconds it used, and the limit it exceeded
        if that is why it failed ("memory")."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(encode_frame(request))
            await stdin.drain()
            (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
            reply = json.loads(await stdout.readexactly(size))
        except (ConnectionError, asyncio.IncompleteReadError):
            raise _WorkerDied from None
        return bool(reply["ok"]), float(reply["cpu"]), reply.get("exceeded")

    def log_tail(self, limit: int) -> str:
        """The end of what the last call printed for a failure's message: its stdout first,
        then its stderr, where the traceback is (the two are no longer interleaved)."""
        printed = (_file_tail(self.out, limit), _file_tail(self.log, limit))
        return "\n".join(part for part in printed if part)

    def kill(self) -> None:
        # The group, not just the worker: a task may have started processes of its own.
        _kill_group(self.process.pid)

    async def wait(self) -> int:
        return await self.process.wait()

    async def close(self, timeout: float = 2.0) -> None:
        """Ask an idle worker to exit (end of input), killing it if it does not."""
        if self.process.returncode is None and self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.process.wait()
        # A task may have left background processes in the worker's group.
        _kill_group(self.process.pid)


class _Command:
    """A command task's shell, reaped by the runner itself so that its rusage is kept."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.pid = process.pid
        self._process = process
        self._exit: asyncio.Future[tuple[int, float]] = asyncio.ensure_future(self._reap())

    async def wait(self) -> tuple[int, float]:
        """The exit code (negative: killed by that signal) and the CPU seconds used by the
        shell and every descendant it, or they, waited for. Cancelling the caller does not
        stop the reaping."""
        return await asyncio.shield(self._exit)

    async def _reap(self) -> tuple[int, float]:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            # No pidfd (not Linux, or a kernel before 5.3): a thread blocks in wait4 instead.
            _, status, usage = await _wait4_in_thread(self.pid)
        else:
            try:
                exited = asyncio.get_running_loop().create_future()
                asyncio.get_running_loop().add_reader(
                    pidfd, lambda: exited.done() or exited.set_result(None)
                )
                try:
                    await exited
                finally:
                    asyncio.get_running_loop().remove_reader(pidfd)
            finally:
                os.close(pidfd)
            # Readable pidfd: the child has exited, so this returns at once.
            _, status, usage = os.wait4(self.pid, 0)
        returncode = os.waitstatus_to_exitcode(status)
        # Popen must not try to reap a pid that may already name another process.
        self._process.returncode = returncode
        return returncode, usage.ru_utime + usage.ru_stime


async def _wait4_in_thread(pid: int) -> tuple[int, int, Any]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[tuple[int, int, Any]] = loop.create_future()

    def wait() -> None:
        result = os.wait4(pid, 0)
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))

    threading.Thread(target=wait, name=f"wait4-{pid}", daemon=True).start()
    return await done


class TaskRunner:
    """Runs the tasks of one app on this machine. Use as `async with TaskRunner(app)`.

    python_workers: how many Python tasks may run at once (each in its own worker process,
    started on first need). Command tasks are not limited.
    """

    def __init__(
        self,
        app: App,
        *,
        python_workers: int = 1,
        tail_bytes: int = TAIL_BYTES,
        scratch_parent: Path | None = None,
    ) -> None:
        if python_workers < 1:
            raise ValueError("python_workers must be at least 1")
        self.app = app
        self._python_workers = python_workers
        self._tail_bytes = tail_bytes
        # Where the runner's scratch folder goes (default: the system temp dir). An agent
        # puts it in its work dir, which the home removes even if the agent was killed.
        self._scratch_parent = scratch_parent
        self._templates: dict[str, list[placeholders.Part]] = {}
        self._idle: list[_PythonWorker] = []
        self._workers: set[_PythonWorker] = set()
        self._commands: set[_Command] = set()
        self._slots: asyncio.Semaphore | None = None
        self._tmp: Path | None = None
        self._serial = 0
        self._closed = False
        # (read end, write end); only the read end is ever passed to a child.
        self._lifeline: tuple[int, int] | None = None

    async def __aenter__(self) -> TaskRunner:
        if self._tmp is not None or self._closed:
            raise RuntimeError("a TaskRunner can be entered only once")
        self._tmp = Path(tempfile.mkdtemp(prefix="jupiter-runner-", dir=self._scratch_parent))
        self._slots = asyncio.Semaphore(self._python_workers)
        self._lifeline = os.pipe()  # both ends close-on-exec: no child inherits the write end
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every process this runner started and remove its temp files."""
        self._closed = True
        for process in list(self._commands):
            _kill_group(process.pid)
        workers = list(self._workers)
        self._workers.clear()
        idle = set(self._idle)
        self._idle.clear()
        try:
            for worker in workers:
                if worker not in idle:
                    worker.kill()  # busy: its run() reports the failure
            await asyncio.gather(*(worker.close() for worker in workers))
        finally:
            for worker in workers:
                worker.kill()
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
            if self._lifeline is not None:
                for end in self._lifeline:
                    os.close(end)
                self._lifeline = None

    @property
    def workers(self) -> int:
        """Python worker processes alive now, idle or busy."""
        return len(self._workers)

    async def release_idle(self) -> int:
        """Close the idle Python workers (a busy one finishes its run and stays); the next
        Python task starts a fresh one. Returns how many were closed."""
        idle = list(self._idle)
        self._idle.clear()
        self._workers.difference_update(idle)
        await asyncio.gather(*(worker.close() for worker in idle))
        return len(idle)

    async def warm_up(self, tasks: Collection[str] = ()) -> None:
        """Start the Python workers now, so that the first task does not pay their start-up,
        and have each idle one import the files of `tasks` (their modules' own imports)."""
        if self._slots is None or self._closed:
            raise RuntimeError("use the runner inside `async with TaskRunner(app) as runner:`")
        while len(self._workers) < self._python_workers:
            self._idle.append(await asyncio.shield(self._start_worker()))
        files = sorted(
            {
                str(self.app.root / spec.python_file)
                for spec in (self.app.tasks[task] for task in tasks)
                if spec.python_file is not None
            }
        )
        if files:
            for worker in list(self._idle):
                await self._preload(worker, files)

    async def _preload(self, worker: _PythonWorker, files: list[str]) -> None:
        """`files` imported in `worker` if it is still idle; a failed import is left for the
        task's own call to report."""
        assert self._slots is not None
        async with self._slots:
            if worker not in self._idle:
                return  # a task took it meanwhile
            self._idle.remove(worker)
            try:
                ok, _, _ = await worker.call({"load": files})
            except _WorkerDied:
                self._workers.discard(worker)
                worker.kill()
                await worker.wait()
                return
            except BaseException:
                self._workers.discard(worker)
                worker.kill()
                await asyncio.shield(worker.wait())
                raise
            if not ok:
                log.warning("could not import a task file ahead of its tasks: %s", files)
            if self._closed:
                await worker.close()
            else:
                self._idle.append(worker)

    async def run(self, task: str, inputs: Mapping[str, Path], output: Path) -> float:
        """Run `task` once: `inputs` maps each upstream name to its file; writes `output`.
        Returns the CPU seconds the task used.

        Raises TaskFailed if the task fails, dies or writes no output file.
        """
        return (await self.run_with_output(task, inputs, output)).cpu

    async def run_with_output(self, task: str, inputs: Mapping[str, Path], output: Path) -> TaskRun:
        """`run`, also returning what the task printed (the end of its stdout and stderr)."""
        if self._slots is None or self._closed:
            raise RuntimeError("use the runner inside `async with TaskRunner(app) as runner:`")
        spec = self.app.tasks.get(task)
        if spec is None:
            raise ValueError(f"app {self.app.name!r} has no task {task!r}")
        upstream = self.app.upstream(task)
        if set(inputs) != set(upstream):
            raise ValueError(
                f"task {task!r} takes inputs from {upstream}, was given {sorted(inputs)}"
            )
        paths = {name: Path(path).absolute() for name, path in inputs.items()}
        output = Path(output).absolute()
        output.parent.mkdir(parents=True, exist_ok=True)
        # A stale file from an earlier attempt must not pass for this run's output.
        output.unlink(missing_ok=True)
        if spec.python is not None:
            run = await self._run_python(spec, paths, output)
        else:
            run = await self._run_command(spec, upstream, paths, output)
        if not output.is_file():
            message = f"finished without writing its output file {output}"
            raise TaskFailed(task, message, run.output)
        return run

    # -- Python tasks ----------------------------------------------------------------

    async def _run_python(self, spec: TaskSpec, inputs: dict[str, Path], output: Path) -> TaskRun:
        assert self._slots is not None and spec.python_file and spec.python_function
        request = {
            "file": str(self.app.root / spec.python_file),
            "function": spec.python_function,
            "inputs": {name: str(path) for name, path in inputs.items()},
            "output": str(output),
        }
        if spec.has_resource_limits:
            request["limits"] = {"memory": spec.memory_limit, "cpu": spec.cpu_limit}
        async with self._slots:
            # Shielded: a cancel mid-start must not orphan a process that aclose() cannot see.
            worker = self._idle.pop() if self._idle else await asyncio.shield(self._start_worker())
            try:
                # Timed from here: waiting for a free worker is not the task's own time.
                async with asyncio.timeout(spec.timeout):
                    ok, cpu, exceeded = await worker.call(request)
            except TimeoutError:
                # Mid-call, so the worker cannot be reused: kill it (and whatever the task
                # started); the next Python task gets a fresh one.
                self._workers.discard(worker)
                worker.kill()
                await asyncio.shield(worker.wait())
                assert spec.timeout is not None
                raise TaskTimedOut(spec.name, spec.timeout) from None
            except _WorkerDied:
                self._workers.discard(worker)
                worker.kill()  # the worker is gone; anything the task started goes too
                returncode = await worker.wait()
                if spec.cpu_limit is not None and returncode == -signal.SIGXCPU:
                    limit = _cpu_limit(spec)
                    raise TaskLimitExceeded(spec.name, limit, output=worker.output()) from None
                log = worker.log_tail(self._tail_bytes)
                message = f"the Python worker process {_describe_exit(returncode)} while running it"
                message = f"{message}\n{log}" if log else message
                raise TaskFailed(spec.name, message, worker.output()) from None
            except BaseException:
                # Cancelled (or broken) mid-call: the worker is in an unknown state.
                self._workers.discard(worker)
                worker.kill()
                await asyncio.shield(worker.wait())
                raise
            log = "" if ok else worker.log_tail(self._tail_bytes)
            # Read before the worker goes back to the pool: its next call empties both files.
            printed = worker.output()
            if self._closed:
                await worker.close()
            else:
                self._idle.append(worker)
        if not ok and exceeded == "memory" and spec.memory_limit is not None:
            raise TaskLimitExceeded(spec.name, _memory_limit(spec), output=printed)
        if not ok:
            raise TaskFailed(spec.name, log or "raised an error without a message", printed)
        return TaskRun(cpu, printed)

    async def _start_worker(self) -> _PythonWorker:
        assert self._tmp is not None
        self._serial += 1
        log = self._tmp / f"worker-{self._serial}.log"
        worker = await _PythonWorker.start(self.app.root, log, self._lifeline_read())
        self._workers.add(worker)
        return worker

    def _lifeline_read(self) -> int:
        if self._lifeline is None:
            raise RuntimeError("the runner is closed")
        return self._lifeline[0]

    # -- command tasks -----------------------------------------------------------------

    async def _run_command(
        self, spec: TaskSpec, upstream: Sequence[str], inputs: dict[str, Path], output: Path
    ) -> TaskRun:
        assert spec.command is not None
        parts = self._templates.get(spec.name)
        if parts is None:
            parts = self._templates[spec.name] = placeholders.parse(spec.command)
        command = placeholders.render(
            parts, inputs=inputs, upstream=upstream, output=output, app=self.app.root
        )
        assert self._tmp is not None
        self._serial += 1
        # stderr goes to a file, not a pipe: a background process that inherited a pipe
        # would hold it open, and asyncio's wait() would then outlive the shell itself.
        stderr_path = self._tmp / f"command-{self._serial}.stderr"
        # A command that never mentions {out} produces its output on stdout; one that does
        # prints to stdout, kept like its stderr.
        writes_output = placeholders.uses_output(parts)
        stdout_path = self._tmp / f"command-{self._serial}.stdout" if writes_output else None
        try:
            with (
                stderr_path.open("wb") as stderr_file,
                (stdout_path or output).open("wb") as stdout,
            ):
                process = _Command(
                    subprocess.Popen(
                        ["/bin/sh", "-c", _WATCHED_COMMAND, spec.name, command, *_ulimits(spec)],
                        cwd=self.app.root,
                        stdin=self._lifeline_read(),
                        stdout=stdout,
                        stderr=stderr_file,
                        start_new_session=True,
                    )
                )
            self._commands.add(process)
            try:
                async with asyncio.timeout(spec.timeout):
                    returncode, cpu = await process.wait()
            except BaseException as stop:
                _kill_group(process.pid)
                await asyncio.shield(process.wait())
                if isinstance(stop, TimeoutError) and spec.timeout is not None:
                    raise TaskTimedOut(spec.name, spec.timeout) from None
                raise
            finally:
                self._commands.discard(process)
                # Whatever it left running in the background goes with it.
                _kill_group(process.pid)
            stderr = _file_tail(stderr_path, self._tail_bytes)
            printed = _captured(stdout_path, stderr_path)
        finally:
            stderr_path.unlink(missing_ok=True)
            if stdout_path is not None:
                stdout_path.unlink(missing_ok=True)
        if returncode != 0:
            _raise_if_past_limits(spec, returncode, cpu, stderr, printed)
            message = f"command {_describe_exit(returncode)}"
            raise TaskFailed(spec.name, f"{message}\n{stderr}" if stderr else message, printed)
        return TaskRun(cpu, printed)


def _ulimits(spec: TaskSpec) -> list[str]:
    """The watched command script's $2 and $3: writable KiB and CPU seconds, or empty."""
    memory = "" if spec.memory_limit is None else str(max(1, spec.memory_limit // 1024))
    return [memory, "" if spec.cpu_limit is None else str(spec.cpu_limit)]


def _raise_if_past_limits(
    spec: TaskSpec, returncode: int, cpu: float, stderr: str, printed: TaskOutput
) -> None:
    """TaskLimitExceeded if a failed command went past one of its limits: SIGXCPU (or, for
    one that ignored it, SIGKILL after its CPU time), as the shell or the kernel reports it;
    for memory, a refused allocation in what it said last."""
    if spec.cpu_limit is not None:
        xcpu = returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU)
        killed = returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)
        if xcpu or (killed and cpu >= spec.cpu_limit):
            raise TaskLimitExceeded(spec.name, _cpu_limit(spec), stderr, printed)
    if spec.memory_limit is not None and any(sign in stderr for sign in _OUT_OF_MEMORY):
        raise TaskLimitExceeded(spec.name, _memory_limit(spec), stderr, printed)
