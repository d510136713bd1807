"""Emulated links between real executors: each node an Executor behind its own aiohttp
server (the agent's circe routes), data crossing real loopback sockets through the link
emulator and the NIC model, as between agents.

Timing bounds here are loose on purpose (the host is shared): each separates the two
behaviours by a wide margin, and the exact schedules are tests/cluster/test_nic.py's.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import cast

import aiohttp
from aiohttp import web
from state_cases import make_app

from jupiter.agent.server import serving
from jupiter.api import paths
from jupiter.api.models import Deployment
from jupiter.app.runner import TaskOutput, TaskRun, TaskRunner
from jupiter.app.spec import App
from jupiter.circe.executor import Executor
from jupiter.circe.routes import circe_routes
from jupiter.circe.store import DataStore
from jupiter.circe.transfer import receive_file
from jupiter.cluster.emulator import HostPath
from jupiter.cluster.nic import Nic
from jupiter.cluster.spec import Cluster, load_cluster

TOKEN = "t" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY = 64 * 1024 * 1024
MiB = 1024 * 1024


class DigestRunner:
    """Stands in for TaskRunner: a task's output is the sha256 of its inputs, in order."""

    async def warm_up(self, tasks: Collection[str] = ()) -> None:
        pass

    async def run(self, task: str, inputs: Mapping[str, Path], output: Path) -> float:
        digest = hashlib.sha256(task.encode())
        for name in sorted(inputs):
            digest.update(inputs[name].read_bytes())
        output.write_bytes(digest.digest())
        return 0.0

    async def run_with_output(self, task: str, inputs: Mapping[str, Path], output: Path) -> TaskRun:
        await self.run(task, inputs, output)
        return TaskRun(0.0, TaskOutput())


def home_routes(root: Path, delivered: set[tuple[int, str]]) -> list[web.RouteDef]:
    async def data(request: web.Request) -> web.Response:
        input_id, producer = int(request.match_info["input_id"]), request.match_info["producer"]
        await receive_file(request, root / str(input_id) / producer, MAX_BODY)
        delivered.add((input_id, producer))
        return web.json_response({}, status=201)

    async def event(request: web.Request) -> web.Response:
        raise AssertionError(f"a failure was reported: {await request.text()}")

    return [web.put(paths.CIRCE_DATA, data), web.post(paths.HOME_EVENT, event)]


@asynccontextmanager
async def cluster_of_executors(
    tmp_path: Path, cluster: Cluster, app: App, mapping: dict[str, str]
) -> AsyncIterator[tuple[dict[str, Executor], set[tuple[int, str]]]]:
    """One Executor per node, each served on loopback as an agent serves it, deployed."""
    delivered: set[tuple[int, str]] = set()
    async with AsyncExitStack() as stack:
        _, home_port = await stack.enter_async_context(
            serving(home_routes(tmp_path / "home", delivered), TOKEN, "127.0.0.1", 0)
        )
        addresses = {"home": f"http://127.0.0.1:{home_port}"}
        executors: dict[str, Executor] = {}
        for node in cluster.node_names:
            session = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            )
            executor = Executor(
                node,
                app,
                cluster,
                DataStore(tmp_path / node),
                cast(TaskRunner, DigestRunner()),
                session,
                AUTH,
                host_path=HostPath(),
                nic=Nic.of(cluster, node),
            )
            stack.push_async_callback(executor.close)
            _, port = await stack.enter_async_context(
                serving(circe_routes(executor, MAX_BODY), TOKEN, "127.0.0.1", 0)
            )
            executors[node] = executor
            addresses[node] = f"http://127.0.0.1:{port}"
        for executor in executors.values():
            await executor.deploy(Deployment(mapping=mapping, addresses=addresses))
        yield executors, delivered


async def inject(executor: Executor, input_id: int, source: str, payload: bytes) -> None:
    path = executor.store.path(input_id, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    await executor.inject(input_id, source, path)


async def until(condition: Callable[[], bool]) -> None:
    """Wait for `condition`; the timeout only stops a broken test from hanging."""
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.002)


def two_region_cluster(
    tmp_path: Path, nodes: dict[str, str], rtt_ms: float, mbps: float
) -> Cluster:
    """Nodes in their own regions, every link between them `rtt_ms` and `mbps`."""
    regions = sorted(set(nodes.values()))
    links = "".join(
        f"  - {{from: {a}, to: {b}, rtt_ms: {rtt_ms}, bandwidth_mbps: {mbps}}}\n"
        for i, a in enumerate(regions)
        for b in regions[i:]
    )
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "nodes:\n"
        + "".join(f"  - {{name: {n}, region: {r}}}\n" for n, r in nodes.items())
        + "regions:\n"
        + "".join(f"  - {{key: {r}}}\n" for r in regions)
        + "links:\n"
        + links
    )
    return load_cluster(path)


def test_a_burst_of_small_outputs_crosses_a_long_link_in_about_one_latency(
    tmp_path: Path,
) -> None:
    """Ten small files over a 300 ms link: stop-and-wait needs ten latencies (3 s); a
    pipelined link carries them in flight together, in the window's two rounds here."""
    cluster = two_region_cluster(tmp_path, {"a": "west", "b": "east"}, 600.0, 100.0)
    latency = cluster.link("a", "b").latency
    app = make_app({"t": []}, {"in": ["t"]})
    n = 10

    async def scenario() -> tuple[float, dict[int, float]]:
        mapping = {"in": "a", "t": "b"}
        async with cluster_of_executors(tmp_path, cluster, app, mapping) as (nodes, delivered):
            began = time.time()
            for k in range(n):
                await inject(nodes["a"], k, "in", f"flow record {k}\n".encode() * 20)
            await until(lambda: len(delivered) == n)
            entered = {k: nodes["b"].monitor.record("t", k).enter for k in range(n)}
            return began, cast(dict[int, float], entered)

    began, entered = asyncio.run(scenario())
    last = max(entered.values()) - began
    assert latency == 0.3
    assert latency <= last < 3 * latency, f"the burst took {last:.3f} s"
    # Each file arrived intact: the task's output went home for every input.
    for k in range(n):
        expected = hashlib.sha256(b"t" + f"flow record {k}\n".encode() * 20).digest()
        assert (tmp_path / "home" / str(k) / "t").read_bytes() == expected


def test_two_transfers_into_one_node_share_its_nic(tmp_path: Path) -> None:
    """1 MiB from each of two nodes into a third, over 80 Mbit/s links into a NIC of the
    same rate (the default: the fastest link touching the node): alone one takes about
    105 ms; at once both pass through the receiver's NIC, so they take about twice that."""
    nodes = {"x": "r1", "y": "r2", "dst": "r3"}
    cluster = two_region_cluster(tmp_path, nodes, 2.0, 80.0)
    assert cluster.nic("dst") == 10e6
    app = make_app({"j": []}, {"sx": ["j"], "sy": ["j"]})
    one, other = b"\x01" * MiB, b"\x02" * MiB

    async def scenario() -> tuple[float, float]:
        mapping = {"sx": "x", "sy": "y", "j": "dst"}
        async with cluster_of_executors(tmp_path, cluster, app, mapping) as (hosts, delivered):
            dst = hosts["dst"].monitor
            # Alone: input 0's first file goes by itself; the second follows once it is in.
            began = time.time()
            await inject(hosts["x"], 0, "sx", one)
            await until(lambda: dst.record("j", 0).enter is not None)
            alone = cast(float, dst.record("j", 0).enter) - began
            await inject(hosts["y"], 0, "sy", other)
            await until(lambda: (0, "j") in delivered)
            # At once: input 1's two files into dst together.
            began = time.time()
            await asyncio.gather(
                inject(hosts["x"], 1, "sx", one), inject(hosts["y"], 1, "sy", other)
            )
            await until(lambda: dst.record("j", 1).ready is not None)
            both = cast(float, dst.record("j", 1).ready) - began
            await until(lambda: (1, "j") in delivered)
            return alone, both

    alone, both = asyncio.run(scenario())
    assert alone >= MiB / 10e6, f"one transfer alone took {alone:.3f} s"
    assert both > 1.5 * alone, f"alone {alone:.3f} s, two at once {both:.3f} s"
    expected = hashlib.sha256(b"j" + one + other).digest()
    for k in (0, 1):
        assert (tmp_path / "home" / str(k) / "j").read_bytes() == expected
