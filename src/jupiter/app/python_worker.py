"""The long-lived process that runs Python tasks for a TaskRunner (`python -m` this module).

Keeping one interpreter alive means a task's module is imported once, not on every call;
running it in its own process means a CPU-bound or crashing task cannot stall or kill the
agent's event loop. Stdlib only, so that the worker starts fast.

Protocol: length-prefixed JSON frames. Requests arrive on the original stdin and replies
leave on the original stdout; both are moved off fds 0 and 1 before any task runs. A reply
is `{"ok": bool, "cpu": seconds}`: the CPU time the call used (this process's, every thread
of it, plus the children it waited for), which the executor stretches by node speed, and
`"exceeded": "memory"` when the call failed on its memory limit.

A request `{"load": [file, ...]}` imports those task files without calling anything: the
runner sends it when a mapping places the files' tasks here, so that a module's import
(numpy, a model's weights) is paid at dispatch and not inside the first input's task.

A request may carry `"limits": {"memory": bytes, "cpu": seconds}` (app.yaml `resources:`).
The worker is shared by the node's tasks, so it sets them around that one call, as soft
rlimits on top of what it already holds (RLIMIT_DATA over its current writable memory,
RLIMIT_CPU over its CPU time so far), and restores them after: a call gets its whole budget
and the next call none of it. Past its memory the task's allocation fails (MemoryError);
past its CPU time the kernel's SIGXCPU ends the worker, and the runner starts another.
fd 2 points at a log file owned by the runner, and fd 1 at a second one (the third
argument, an inherited descriptor; without it, at the log too): the worker empties both at
the start of each call, and the runner reads the log's tail when a call fails or the worker
dies, and both files' after every call (what the task printed, kept per task and input).

The second argument is the lifeline: the read end of a pipe whose write end only the runner
holds. A thread waits on it; end of file means the runner's process is gone, however it
died, and the worker kills its own process group (itself and whatever a task started)
rather than finish a task nobody will collect.
"""

from __future__ import annotations

import faulthandler
import hashlib
import importlib.util
import json
import math
import os
import resource
import signal
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

HEADER = struct.Struct("!I")


def read_frame(stream: BinaryIO) -> Any | None:
    """The next message, or None at end of input."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return json.loads(stream.read(size))


def encode_frame(message: Any) -> bytes:
    payload = json.dumps(message).encode()
    return HEADER.pack(len(payload)) + payload


class ModuleCache:
    """Task modules by file path, reloaded only when the file's mtime changes."""

    def __init__(self) -> None:
        self._modules: dict[str, tuple[int, ModuleType]] = {}

    def load(self, path: str) -> ModuleType:
        mtime = os.stat(path).st_mtime_ns
        cached = self._modules.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        folder = os.path.dirname(path)
        if folder not in sys.path:
            # Like running the file as a script: it can import modules next to it.
            sys.path.append(folder)
        digest = hashlib.sha1(path.encode()).hexdigest()[:10]
        name = f"jupiter_task_{Path(path).stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(spec)
        # Registered so that pickling, dataclasses and typing can find the module by name.
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        self._modules[path] = (mtime, module)
        return module


def cpu_seconds() -> float:
    """CPU time so far of this process (all its threads) and of the children it waited for.

    Not os.times(): it counts in clock ticks (10 ms), as long as a short task takes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def writable_bytes() -> int | None:
    """This process's writable memory as RLIMIT_DATA counts it (VmData), if /proc says."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class CallLimits:
    """`with CallLimits(memory, cpu):` the soft RLIMIT_DATA and RLIMIT_CPU that give the
    code inside `memory` more bytes and `cpu` more CPU seconds than this process has now
    (CPU to the second, as the kernel counts it); the earlier limits come back after."""

    def __init__(self, memory: int | None, cpu: int | None) -> None:
        self.memory = memory
        self.cpu = cpu
        self._saved: list[tuple[int, tuple[int, int]]] = []

    def __enter__(self) -> CallLimits:
        if self.memory is not None:
            self._lower(resource.RLIMIT_DATA, (writable_bytes() or 0) + self.memory)
        if self.cpu is not None:
            # SIGXCPU ends the worker; a core file of it would only litter the app folder.
            self._lower(resource.RLIMIT_CORE, 0)
            self._lower(resource.RLIMIT_CPU, math.ceil(time.process_time()) + self.cpu)
        return self

    def __exit__(self, *_: object) -> None:
        while self._saved:
            which, limits = self._saved.pop()
            resource.setrlimit(which, limits)

    def _lower(self, which: int, soft: int) -> None:
        limits = resource.getrlimit(which)
        hard = limits[1]
        self._saved.append((which, limits))
        resource.setrlimit(
            which, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
        )


def load_all(files: list[str], modules: ModuleCache) -> bool:
    """Import `files` ahead of their tasks' first calls; False if one failed (why is in the
    log; the task's own call then fails with the same error, where it is reported)."""
    ok = True
    for path in files:
        try:
            modules.load(path)
        except Exception as error:
            _print_user_traceback(error)
            ok = False
    return ok


def run_one(request: dict[str, Any], modules: ModuleCache) -> tuple[bool, float, str | None]:
    """Run one task call: whether it succeeded (on failure, why is printed to stderr, the
    log), the CPU seconds the function itself used (not loading its module), and the limit
    it exceeded, if that is why it failed ("memory")."""
    began: float | None = None
    limits = request.get("limits") or {}
    try:
        module = modules.load(request["file"])
        function = getattr(module, request["function"], None)
        if not callable(function):
            print(f"{request['file']} has no function {request['function']!r}", file=sys.stderr)
            return False, 0.0, None
        inputs = {name: Path(path) for name, path in request["inputs"].items()}
        began = cpu_seconds()
        with CallLimits(limits.get("memory"), limits.get("cpu")):
            function(inputs, Path(request["output"]))
        return True, cpu_seconds() - began, None
    except SystemExit as stop:
        print(f"the task called sys.exit({stop.code!r})", file=sys.stderr)
    except MemoryError as error:
        _print_user_traceback(error)
        used = 0.0 if began is None else cpu_seconds() - began
        return False, used, "memory" if limits.get("memory") is not None else None
    except Exception as error:
        _print_user_traceback(error)
    return False, 0.0 if began is None else cpu_seconds() - began, None


def _print_user_traceback(error: BaseException) -> None:
    # Frames of this worker and of importlib are noise to someone debugging their task.
    report = traceback.TracebackException.from_exception(error)
    _drop_internal_frames(report)
    sys.stderr.write("".join(report.format()))


def _drop_internal_frames(report: traceback.TracebackException) -> None:
    kept = [
        frame
        for frame in report.stack
        if frame.filename != __file__ and not frame.filename.startswith("<frozen importlib")
    ]
    report.stack = traceback.StackSummary.from_list(kept)
    for linked in (report.__cause__, report.__context__):
        if linked is not None:
            _drop_internal_frames(linked)


def watch_lifeline(fd: int) -> None:
    """Kill this process group once `fd` reaches end of file (or fails)."""

    def wait_then_kill() -> None:
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=wait_then_kill, name="lifeline", daemon=True).start()


def main(root: str, lifeline: int | None = None, stdout: int | None = None) -> None:
    if lifeline is not None:
        watch_lifeline(lifeline)
    # The protocol moves to private descriptors (os.dup makes them non-inheritable), so
    # neither a task's print() nor a subprocess it starts can touch the request or reply pipe.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if stdout is None:
        os.dup2(2, 1)
    else:
        os.dup2(stdout, 1)
        os.close(stdout)
    # Line buffering keeps a task's last prints in the log even if it then kills the worker.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # Ctrl-C belongs to the agent, which shuts the worker down in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()  # a segfault leaves a Python traceback in the log
    os.chdir(root)
    sys.path.insert(0, root)
    modules = ModuleCache()
    while True:
        request = read_frame(requests)
        if request is None:
            return
        os.ftruncate(2, 0)
        if stdout is not None:
            os.ftruncate(1, 0)
        if "load" in request:
            ok, cpu, exceeded = load_all(request["load"], modules), 0.0, None
        else:
            ok, cpu, exceeded = run_one(request, modules)
        sys.stdout.flush()
        sys.stderr.flush()
        reply: dict[str, Any] = {"ok": ok, "cpu": cpu}
        if exceeded is not None:
            reply["exceeded"] = exceeded
        replies.write(encode_frame(reply))


if __name__ == "__main__":
    main(
        sys.argv[1],
        int(sys.argv[2]) if len(sys.argv) > 2 else None,
        int(sys.argv[3]) if len(sys.argv) > 3 else None,
    )
