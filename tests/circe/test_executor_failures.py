"""A real Executor on a real event loop, with a real aiohttp server as the home: whatever
goes wrong in a worker slot or an outbox is logged and reported home as a failure naming
node, task and input, and the slot or outbox goes on with the next input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from jupiter.agent.server import serving
from jupiter.api.models import Deployment
from jupiter.app.runner import TaskOutput, TaskRun, TaskRunner
from jupiter.app.spec import App
from jupiter.circe.executor import Executor
from jupiter.circe.state import (
    SEND_WINDOW,
    Action,
    Event,
    ExecutorState,
    MappingDeployed,
    TaskFinished,
)
from jupiter.circe.store import DataStore
from jupiter.circe.transfer import receive_file
from jupiter.cluster.spec import Cluster

TOKEN = "t" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# One node, no emulated links or speeds: these tests are about failures, not timing.
CLUSTER = Cluster.from_dict({**Cluster.default(1).to_dict(), "emulate": False})
NODE = CLUSTER.node_names[0]
APP = App.from_dict(
    {
        "name": "one-step",
        "sources": [{"name": "in", "feeds": ["a"], "inputs": ["in/*"]}],
        "tasks": {"a": {"python": "tasks.py:a", "parents": []}},
    },
    "/nonexistent",
)


class ScriptedRunner:
    """Stands in for TaskRunner: raises an unexpected error for the inputs in `crash_on`,
    and otherwise writes its inputs' bytes followed by the task's name."""

    def __init__(self, crash_on: set[int]) -> None:
        self.crash_on = crash_on

    async def warm_up(self, tasks: Collection[str] = ()) -> None:
        pass

    async def run(self, task: str, inputs: dict[str, Path], output: Path) -> None:
        input_id = int(output.parent.name)
        if input_id in self.crash_on:
            raise RuntimeError(f"boom on input {input_id}")
        output.write_bytes(b"".join(p.read_bytes() for p in inputs.values()) + task.encode())

    async def run_with_output(self, task: str, inputs: Mapping[str, Path], output: Path) -> TaskRun:
        await self.run(task, inputs, output)
        return TaskRun(0.0, TaskOutput())


class Home:
    """The home's two routes the executor talks to, recording what reached them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: list[dict[str, Any]] = []
        self.delivered: dict[tuple[int, str], bytes] = {}
        self.entered: set[tuple[int, str]] = set()
        # Deliveries of these input ids wait here until the test lets them through.
        self.held: dict[int, asyncio.Event] = {}

    def routes(self) -> list[web.RouteDef]:
        async def event(request: web.Request) -> web.Response:
            self.events.append(await request.json())
            return web.json_response({"noted": True})

        async def data(request: web.Request) -> web.Response:
            input_id, producer = int(request.match_info["input_id"]), request.match_info["p"]
            self.entered.add((input_id, producer))
            if input_id in self.held:
                await self.held[input_id].wait()
            path = self.root / str(input_id) / producer
            await receive_file(request, path, 1 << 20)
            self.delivered[input_id, producer] = path.read_bytes()
            return web.json_response({"stored": True}, status=201)

        return [web.post("/home/event", event), web.put("/circe/data/{input_id}/{p}", data)]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def executor_log() -> Iterator[Collect]:
    # Its own handler: `jupiter.logs.configure` may have stopped propagation to the root.
    handler = Collect()
    logger = logging.getLogger("jupiter.circe.executor")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def until(condition: Callable[[], bool]) -> None:
    """Wait for `condition`; the timeout only stops a broken test from hanging."""
    async with asyncio.timeout(20):
        while not condition():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def node_and_home(
    tmp_path: Path, runner: ScriptedRunner, send_window: int = SEND_WINDOW
) -> AsyncIterator[tuple[Executor, Home]]:
    """A deployed executor whose home is a real server."""
    home = Home(tmp_path / "home")
    async with (
        serving(home.routes(), TOKEN, "127.0.0.1", 0) as (_, port),
        aiohttp.ClientSession() as session,
    ):
        executor = Executor(
            NODE,
            APP,
            CLUSTER,
            DataStore(tmp_path / "store"),
            cast(TaskRunner, runner),
            session,
            AUTH,
            slots=1,
            send_window=send_window,
        )
        try:
            deployment = Deployment(
                mapping={"in": NODE, "a": NODE}, addresses={"home": f"http://127.0.0.1:{port}"}
            )
            await executor.deploy(deployment)
            yield executor, home
        finally:
            await executor.close()


async def inject(executor: Executor, input_id: int) -> None:
    path = executor.store.path(input_id, "in")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"input {input_id}:".encode())
    await executor.inject(input_id, "in", path)


def failure(input_id: int, message: str) -> dict[str, Any]:
    return {
        "kind": "failure",
        "node": NODE,
        "task": "a",
        "input_id": input_id,
        "message": message,
        "unreachable": None,
    }


def test_an_unexpected_error_in_a_worker_slot_is_reported_and_the_slot_goes_on(
    tmp_path: Path, executor_log: Collect
) -> None:
    async def scenario() -> Executor:
        async with node_and_home(tmp_path, ScriptedRunner(crash_on={0})) as (executor, home):
            await inject(executor, 0)
            await inject(executor, 1)
            await until(lambda: bool(home.events) and (1, "a") in home.delivered)
            # The same (only) slot ran input 1 after input 0 crashed; its output went home.
            assert home.delivered == {(1, "a"): b"input 1:a"}
            assert home.events == [
                failure(0, "unexpected error running the task: RuntimeError: boom on input 0")
            ]
        return executor

    executor = asyncio.run(scenario())
    assert executor.monitor.record("a", 0).failed == (
        "unexpected error running the task: RuntimeError: boom on input 0"
    )
    assert executor.monitor.record("a", 1).finish is not None
    [logged] = [r for r in executor_log.records if r.levelno >= logging.ERROR]
    assert (logged.node, logged.task, logged.input_id) == (NODE, "a", 0)  # type: ignore[attr-defined]
    assert logged.exc_info is not None and str(logged.exc_info[1]) == "boom on input 0"


def test_an_unexpected_error_in_an_outbox_is_reported_and_the_link_goes_on(
    tmp_path: Path, executor_log: Collect
) -> None:
    async def scenario() -> None:
        # A window of one send: input 0's delivery is held at the home, so input 1's output
        # waits in the outbox behind it; meanwhile its file vanishes from the store.
        runner = ScriptedRunner(crash_on=set())
        async with node_and_home(tmp_path, runner, send_window=1) as (executor, home):
            home.held[0] = asyncio.Event()
            for input_id in range(3):
                await inject(executor, input_id)
            await until(lambda: executor.monitor.record("a", 2).finish is not None)
            # Input 0's send may reach the home after input 2 ran, on a busy host.
            await until(lambda: (0, "a") in home.entered)
            executor.store.path(1, "a").unlink()
            home.held[0].set()
            await until(lambda: bool(home.events) and (2, "a") in home.delivered)
            assert home.delivered == {(0, "a"): b"input 0:a", (2, "a"): b"input 2:a"}
            [event] = home.events
            assert event == failure(1, event["message"])
            assert event["message"].startswith(
                "unexpected error sending to home: FileNotFoundError:"
            )

    asyncio.run(scenario())
    [logged] = [r for r in executor_log.records if r.levelno >= logging.ERROR]
    assert (logged.node, logged.task, logged.input_id) == (NODE, "a", 1)  # type: ignore[attr-defined]
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], FileNotFoundError)


class BrokenOnFinish(ExecutorState):
    """A state machine with a bug: it raises on every finished task."""

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, TaskFinished):
            raise KeyError("bug in the state machine")
        return super().handle(event)


def test_a_crash_beyond_one_item_is_still_reported_home(
    tmp_path: Path, executor_log: Collect
) -> None:
    async def scenario() -> None:
        async with node_and_home(tmp_path, ScriptedRunner(crash_on=set())) as (executor, home):
            deployment = executor.state.deployment
            executor.state = BrokenOnFinish(NODE, APP, slots=1)
            assert deployment is not None
            executor.state.handle(MappingDeployed(deployment))
            await inject(executor, 0)
            await until(lambda: bool(home.events))
            assert home.events == [
                failure(0, f"executor error on {NODE}: KeyError: 'bug in the state machine'")
            ]
            assert home.delivered == {}

    asyncio.run(scenario())
    [logged] = [r for r in executor_log.records if r.levelno >= logging.ERROR]
    assert (logged.node, logged.task, logged.input_id) == (NODE, "a", 0)  # type: ignore[attr-defined]
    assert isinstance(logged.exc_info[1], KeyError)  # type: ignore[index]
