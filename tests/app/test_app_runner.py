"""TaskRunner on real files and real processes: success, failure, crash, cancellation."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from jupiter.app.runner import TaskFailed, TaskRunner
from jupiter.app.spec import App

SPEC = """
    name: runner-test
    sources:
      - name: src
        feeds: [{entries}]
        inputs: ["in.txt"]
    tasks:
{tasks}
"""


@pytest.fixture
def make(write_app) -> Callable[..., App]:
    """make({task: yaml-mapping}, code) -> App with every task fed by source `src`."""

    def build(tasks: dict[str, str], code: str = "", files: dict[str, str] | None = None) -> App:
        lines = "\n".join(f"      {name}: {body}" for name, body in tasks.items())
        spec = SPEC.format(entries=", ".join(tasks), tasks=lines)
        return write_app(spec, {"in.txt": "3\n", "tasks/t.py": code, **(files or {})})

    return build


def run(coroutine_function: Callable[[], object]) -> object:
    return asyncio.run(coroutine_function())  # type: ignore[arg-type]


def descendants_named(name: str) -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name() == name and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def all_gone(processes: list[psutil.Process], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(not _alive(p) for p in processes):
            return True
        time.sleep(0.02)
    return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_for_processes(name: str, count: int = 1) -> list[psutil.Process]:
    for _ in range(500):
        found = descendants_named(name)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {name} process started")


PID_TASK = """
import os
from pathlib import Path

calls = 0

def pid(inputs, output):
    global calls
    calls += 1
    output.write_text(f"{os.getpid()} {calls}")
"""


def test_python_task_gets_paths_and_runs_in_the_app_folder(make, tmp_path: Path) -> None:
    app = make(
        {"double": "{python: 'tasks/t.py:double'}"},
        """
        import os
        from pathlib import Path

        def double(inputs, output):
            assert isinstance(output, Path) and all(isinstance(p, Path) for p in inputs.values())
            (path,) = inputs.values()
            output.write_text(f"{2 * int(path.read_text())} {sorted(inputs)} {os.getcwd()}")
        """,
    )
    output = tmp_path / "deep" / "out.txt"  # parent folders are created

    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("double", {"src": app.input_for("src", 0)}, output)

    run(go)
    assert output.read_text() == f"6 ['src'] {app.root}"


def test_worker_is_reused_and_modules_import_once(make, tmp_path: Path) -> None:
    app = make({"pid": "{python: 'tasks/t.py:pid'}"}, PID_TASK)
    inputs = {"src": app.input_for("src", 0)}
    out = tmp_path / "out"

    async def go() -> list[str]:
        seen = []
        async with TaskRunner(app) as runner:
            for _ in range(3):
                await runner.run("pid", inputs, out)
                seen.append(out.read_text())
            # A changed file is imported again (fresh module state), in the same worker.
            code = app.root / "tasks/t.py"
            code.write_text(code.read_text().replace("{calls}", "{calls} v2"))
            stat = code.stat()
            os.utime(code, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
            await runner.run("pid", inputs, out)
            seen.append(out.read_text())
        return seen

    first, second, third, changed = run(go)  # type: ignore[misc]
    pid = first.split()[0]
    assert [first, second, third] == [f"{pid} 1", f"{pid} 2", f"{pid} 3"]
    assert changed == f"{pid} 1 v2"


def test_task_may_import_modules_beside_it(make, tmp_path: Path) -> None:
    app = make(
        {"use": "{python: 'tasks/t.py:use'}"},
        """
        import helpers

        def use(inputs, output):
            output.write_text(helpers.shout("ok"))
        """,
        files={"tasks/helpers.py": "def shout(s):\n    return s.upper()\n"},
    )

    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("use", {"src": app.input_for("src", 0)}, tmp_path / "o")

    run(go)
    assert (tmp_path / "o").read_text() == "OK"


def test_python_exception_reports_traceback_and_output(make, tmp_path: Path) -> None:
    app = make(
        {"boom": "{python: 'tasks/t.py:boom'}"},
        """
        import sys

        def helper(value):
            raise ValueError(f"bad value {value}")

        def boom(inputs, output):
            print("stage 1 done")
            print("warning: about to fail", file=sys.stderr)
            helper(42)
        """,
    )

    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("boom", {"src": app.input_for("src", 0)}, tmp_path / "o")

    with pytest.raises(TaskFailed) as caught:
        run(go)
    text = str(caught.value)
    assert caught.value.task == "boom"
    assert text.startswith("task 'boom' failed: ")
    assert "stage 1 done" in text and "warning: about to fail" in text
    assert "Traceback (most recent call last)" in text
    assert 'tasks/t.py", line 5, in helper' in text
    assert text.rstrip().endswith("ValueError: bad value 42")
    assert "python_worker" not in text  # the worker's own frames are hidden


def test_import_error_and_sys_exit_keep_the_worker(make, tmp_path: Path) -> None:
    app = make(
        {
            "pid": "{python: 'tasks/t.py:pid'}",
            "broken": "{python: 'tasks/broken.py:f'}",
            "leave": "{python: 'tasks/leave.py:f'}",
        },
        PID_TASK,
        files={
            "tasks/broken.py": "import not_a_module_anywhere\n\ndef f(i, o):\n    pass\n",
            "tasks/leave.py": "import sys\n\ndef f(i, o):\n    sys.exit(3)\n",
        },
    )
    inputs = {"src": app.input_for("src", 0)}
    out = tmp_path / "o"

    async def go() -> tuple[str, str, str, str]:
        async with TaskRunner(app) as runner:
            await runner.run("pid", inputs, out)
            before = out.read_text()
            with pytest.raises(TaskFailed) as broken:
                await runner.run("broken", inputs, out)
            with pytest.raises(TaskFailed) as leave:
                await runner.run("leave", inputs, out)
            await runner.run("pid", inputs, out)
            return before, out.read_text(), str(broken.value), str(leave.value)

    before, after, broken, leave = run(go)  # type: ignore[misc]
    assert "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in broken
    assert "frozen importlib" not in broken
    assert "the task called sys.exit(3)" in leave
    assert after.split()[0] == before.split()[0]  # same worker throughout


def test_worker_that_dies_is_replaced(make, tmp_path: Path) -> None:
    app = make(
        {
            "pid": "{python: 'tasks/t.py:pid'}",
            "quit": "{python: 'tasks/crash.py:quit'}",
            "segfault": "{python: 'tasks/crash.py:segfault'}",
        },
        PID_TASK,
        files={
            "tasks/crash.py": """
                import ctypes
                import os

                def quit(inputs, output):
                    print("leaving now")
                    os._exit(7)

                def segfault(inputs, output):
                    ctypes.string_at(0)
                """
        },
    )
    inputs = {"src": app.input_for("src", 0)}
    out = tmp_path / "o"

    async def go() -> tuple[list[str], str, str]:
        pids = []
        async with TaskRunner(app) as runner:
            await runner.run("pid", inputs, out)
            pids.append(out.read_text().split()[0])
            with pytest.raises(TaskFailed) as quit_:
                await runner.run("quit", inputs, out)
            await runner.run("pid", inputs, out)
            pids.append(out.read_text().split()[0])
            with pytest.raises(TaskFailed) as segfault:
                await runner.run("segfault", inputs, out)
            await runner.run("pid", inputs, out)
            pids.append(out.read_text().split()[0])
        return pids, str(quit_.value), str(segfault.value)

    pids, quit_message, segfault_message = run(go)  # type: ignore[misc]
    assert len(set(pids)) == 3
    assert "task 'quit' failed: the Python worker process exited with status 7" in quit_message
    assert "leaving now" in quit_message
    assert "was killed by SIGSEGV" in segfault_message
    assert "Fatal Python error: Segmentation fault" in segfault_message
    assert 'crash.py", line 10 in segfault' in segfault_message
    assert not [pid for pid in pids if _is_ours(int(pid))]  # the runner stopped all three


def _is_ours(pid: int) -> bool:
    try:
        return psutil.Process(pid).ppid() == os.getpid()
    except psutil.NoSuchProcess:
        return False


def test_command_task_with_placeholders(make, tmp_path: Path) -> None:
    app = make(
        {
            "first": "{command: 'cat {in:src} {in:src} > {out}'}",
            "second": "{command: 'cp {app}/in.txt \"$PWD/copy\" && wc -l < {inputs} > {out}'}",
        },
    )
    odd_input = tmp_path / "an input's name.txt"
    odd_input.write_text("a\nb\n")
    out = tmp_path / "out dir" / "result"

    async def go() -> tuple[str, str]:
        async with TaskRunner(app) as runner:
            await runner.run("first", {"src": odd_input}, out)
            first = out.read_text()
            await runner.run("second", {"src": odd_input}, out)
            return first, out.read_text()

    first, second = run(go)  # type: ignore[misc]
    assert first == "a\nb\na\nb\n"
    assert second.strip() == "2"
    assert (app.root / "copy").read_text() == "3\n"  # commands run in the app folder


def test_command_without_out_writes_stdout_to_the_output(make, tmp_path: Path) -> None:
    app = make({"up": "{command: \"tr a-z A-Z < {in:src}; printf 'done'\"}"})
    source = tmp_path / "x.txt"
    source.write_text("shout\n")

    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("up", {"src": source}, tmp_path / "o")

    run(go)
    assert (tmp_path / "o").read_text() == "SHOUT\ndone"


def test_failing_command_reports_status_and_stderr_tail(make, tmp_path: Path) -> None:
    app = make(
        {
            "noisy": "{command: 'i=0; while [ $i -lt 2000 ]; do echo line $i >&2; "
            "i=$((i+1)); done; exit 3'}",
            "silent": "{command: 'test -n {out}'}",
        }
    )
    inputs = {"src": app.input_for("src", 0)}

    async def go() -> tuple[TaskFailed, TaskFailed]:
        async with TaskRunner(app) as runner:
            with pytest.raises(TaskFailed) as noisy:
                await runner.run("noisy", inputs, tmp_path / "o")
            with pytest.raises(TaskFailed) as silent:
                await runner.run("silent", inputs, tmp_path / "o2")
        return noisy.value, silent.value

    noisy, silent = run(go)  # type: ignore[misc]
    text = str(noisy)
    assert text.startswith("task 'noisy' failed: command exited with status 3\n...\n")
    assert text.endswith("line 1999")
    assert "line 0\n" not in text
    assert len(text.encode()) < 4096 + 200
    assert noisy.task == "noisy"
    # `true` succeeds but wrote nothing: that is a failure too.
    assert "finished without writing its output file" in str(silent)


def test_stale_output_is_not_mistaken_for_a_result(make, tmp_path: Path) -> None:
    app = make({"nothing": "{python: 'tasks/t.py:nothing'}"}, "def nothing(i, o):\n    pass\n")
    stale = tmp_path / "o"
    stale.write_text("from an earlier attempt")

    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("nothing", {"src": app.input_for("src", 0)}, stale)

    with pytest.raises(TaskFailed, match="without writing its output file"):
        run(go)


def test_cancelling_a_command_kills_its_whole_process_group(make, tmp_path: Path) -> None:
    app = make({"slow": "{command: 'sleep 30 & sleep 30 | cat; wait'}"})

    async def go() -> tuple[list[psutil.Process], float]:
        async with TaskRunner(app) as runner:
            task = asyncio.create_task(
                runner.run("slow", {"src": app.input_for("src", 0)}, tmp_path / "o")
            )
            sleepers = await wait_for_processes("sleep", count=2)
            shells = descendants_named("sh") + descendants_named("dash")
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return sleepers + shells, time.monotonic() - started

    processes, took = run(go)  # type: ignore[misc]
    assert len(processes) >= 3
    assert took < 2
    assert all_gone(processes)


def test_command_background_leftovers_are_killed(make, tmp_path: Path) -> None:
    app = make({"bg": "{command: 'sleep 30 & echo $! > {out}'}"})

    async def go() -> None:
        async with TaskRunner(app) as runner:
            await runner.run("bg", {"src": app.input_for("src", 0)}, tmp_path / "o")

    started = time.monotonic()
    run(go)
    assert time.monotonic() - started < 5
    pid = int((tmp_path / "o").read_text())
    try:
        sleeper = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    assert all_gone([sleeper])


def test_cancelling_a_python_task_kills_the_worker(make, tmp_path: Path) -> None:
    app = make(
        {"pid": "{python: 'tasks/t.py:pid'}", "spin": "{python: 'tasks/spin.py:spin'}"},
        PID_TASK,
        files={
            "tasks/spin.py": """
                import os

                def spin(inputs, output):
                    output.with_name("spinner").write_text(str(os.getpid()))
                    while True:
                        pass
                """
        },
    )
    inputs = {"src": app.input_for("src", 0)}

    async def go() -> tuple[int, str]:
        async with TaskRunner(app) as runner:
            task = asyncio.create_task(runner.run("spin", inputs, tmp_path / "o"))
            spinner = tmp_path / "spinner"
            for _ in range(500):
                if spinner.exists() and spinner.read_text():
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            spinning = int(spinner.read_text())
            assert not psutil.pid_exists(spinning)
            await runner.run("pid", inputs, tmp_path / "o")  # a fresh worker takes over
            return spinning, (tmp_path / "o").read_text()

    spinning, after = run(go)  # type: ignore[misc]
    assert int(after.split()[0]) != spinning


def test_leaving_the_runner_stops_workers_and_removes_temp_files(
    make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    app = make({"pid": "{python: 'tasks/t.py:pid'}"}, PID_TASK)

    async def go() -> int:
        async with TaskRunner(app, python_workers=2) as runner:
            inputs = {"src": app.input_for("src", 0)}
            await asyncio.gather(
                runner.run("pid", inputs, tmp_path / "a"), runner.run("pid", inputs, tmp_path / "b")
            )
            assert list(scratch.iterdir())  # worker logs live here while the runner is open
            return len({(tmp_path / name).read_text().split()[0] for name in "ab"})

    assert run(go) == 2  # two workers ran the two calls side by side
    assert list(scratch.iterdir()) == []


def test_one_worker_serialises_python_tasks(make, tmp_path: Path) -> None:
    app = make({"pid": "{python: 'tasks/t.py:pid'}"}, PID_TASK)

    async def go() -> set[str]:
        async with TaskRunner(app) as runner:
            inputs = {"src": app.input_for("src", 0)}
            outs = [tmp_path / f"o{i}" for i in range(4)]
            await asyncio.gather(*(runner.run("pid", inputs, out) for out in outs))
            return {out.read_text() for out in outs}

    results = run(go)
    assert len({r.split()[0] for r in results}) == 1  # type: ignore[union-attr]
    assert sorted(r.split()[1] for r in results) == ["1", "2", "3", "4"]  # type: ignore[union-attr]


def test_misuse_is_reported(make, tmp_path: Path) -> None:
    app = make({"pid": "{python: 'tasks/t.py:pid'}"}, PID_TASK)

    async def go() -> None:
        runner = TaskRunner(app)
        with pytest.raises(RuntimeError, match="async with"):
            await runner.run("pid", {"src": tmp_path}, tmp_path / "o")
        async with runner:
            with pytest.raises(ValueError, match="no task 'nope'"):
                await runner.run("nope", {}, tmp_path / "o")
            with pytest.raises(ValueError, match=r"takes inputs from \['src'\]"):
                await runner.run("pid", {"other": tmp_path}, tmp_path / "o")
        with pytest.raises(RuntimeError, match="entered only once"):
            async with runner:
                pass

    run(go)
