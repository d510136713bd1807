"""A send retrying towards a node that a re-mapping then drops ends quietly: the new epoch
has no address for the lost node, and the output goes where the new mapping says."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import cast

import aiohttp
from test_executor_failures import AUTH, TOKEN, Home, ScriptedRunner, until

from jupiter.agent.server import serving
from jupiter.api.models import Deployment
from jupiter.app.runner import TaskRunner
from jupiter.app.spec import App
from jupiter.circe.executor import Executor
from jupiter.circe.store import DataStore
from jupiter.cluster.spec import Cluster

CLUSTER = Cluster.from_dict({**Cluster.default(2).to_dict(), "emulate": False})
HERE, LOST = CLUSTER.node_names
# a runs here; its child b ran on the node that is lost, and then here.
APP = App.from_dict(
    {
        "name": "two-step",
        "sources": [{"name": "in", "feeds": ["a"], "inputs": ["in/*"]}],
        "tasks": {
            "a": {"python": "tasks.py:a", "parents": []},
            "b": {"python": "tasks.py:b", "parents": ["a"]},
        },
    },
    "/nonexistent",
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_retry_towards_a_dropped_node_ends_and_the_output_goes_to_its_new_place(
    tmp_path: Path,
) -> None:
    async def scenario() -> Home:
        home = Home(tmp_path / "home")
        async with (
            serving(home.routes(), TOKEN, "127.0.0.1", 0) as (_, port),
            aiohttp.ClientSession() as session,
        ):
            executor = Executor(
                HERE,
                APP,
                CLUSTER,
                DataStore(tmp_path / "store"),
                cast(TaskRunner, ScriptedRunner(crash_on=set())),
                session,
                AUTH,
                slots=1,
            )
            home_url = f"http://127.0.0.1:{port}"
            try:
                # Nobody listens at the lost node's address: its sends are retried.
                lost_url = f"http://127.0.0.1:{closed_port()}"
                first = Deployment(
                    mapping={"in": HERE, "a": HERE, "b": LOST},
                    addresses={"home": home_url, LOST: lost_url},
                )
                await executor.deploy(first)
                path = executor.store.path(0, "in")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"input 0:")
                await executor.inject(0, "in", path)
                # One send failed to reach it, and its retry waits out the backoff.
                await until(
                    lambda: any(s.attempt >= 1 for s in executor.state.sends_in_flight(LOST))
                )
                # The lost node is dropped: b comes here, and the lost node has no address.
                second = Deployment(
                    mapping={"in": HERE, "a": HERE, "b": HERE},
                    addresses={"home": home_url},
                    epoch=1,
                )
                await executor.deploy(second)
                await until(lambda: (0, "b") in home.delivered)
                await until(lambda: executor.state.sends_in_flight(LOST) == [])
            finally:
                await executor.close()
        return home

    home = asyncio.run(scenario())
    assert home.delivered == {(0, "b"): b"input 0:ab"}
    assert home.events == []  # nothing failed: the retry just ended
