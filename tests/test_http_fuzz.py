"""The HTTP surface under garbage: real agents and a real home, a few thousand malformed or
hostile requests sent over raw sockets (aiohttp's client refuses to send most of them).

Every answer must be a 2xx-4xx, never a 5xx; a malformed Authorization header must get 401;
and no agent may write a traceback into its log. Then the servers must still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import random
import socket
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from jupiter.agent.auth import REFUSAL, auth_headers, new_token
from jupiter.agent.config import ServerLimits
from jupiter.agent.server import agent_routes, serving
from jupiter.api import paths
from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.cluster.spec import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_agent_survives")]

DIAMOND = Path(__file__).resolve().parents[1] / "examples" / "diamond"
HUGE = "9" * 300

# Paths of every role, with hand-picked bad segments.
PATHS = [
    "/",
    "/nope",
    "/%00",
    "/%ff%fe",
    "/" + "a" * 3000,
    paths.HEALTH,
    paths.SHUTDOWN,
    paths.CIRCE_DEPLOY,
    "/circe/data/0/a",
    "/circe/data/-1/a",
    f"/circe/data/{HUGE}/a",
    "/circe/data/1e5/a",
    "/circe/data/%ff/a",
    "/circe/data/0/nosuchtask",
    "/circe/data/0/%2e%2e%2f%2e%2e",
    "/circe/inject/0/numbers",
    f"/circe/inject/{HUGE}/numbers",
    "/circe/inject/9007199254740992/numbers",
    paths.CIRCE_STATS,
    paths.CIRCE_STATUS,
    paths.CIRCE_ROLE,
    paths.PROFILER_NETWORK,
    "/profiler/network?wait=first&timeout=nan",
    "/profiler/network?wait=first&timeout=-1",
    "/profiler/network?wait=first&timeout=1e400",
    "/profiler/network?wait=later&samples=maybe",
    paths.PROFILER_NETWORK_START,
    paths.PROFILER_NETWORK_MEASURE,
    "/profiler/network/probe/n00",
    "/profiler/network/probe/stranger",
    paths.PROFILER_RESOURCES,
    paths.PROFILER_EXECUTION,
    paths.PROFILER_EXECUTION_CHAIN,
    paths.PROFILER_EXECUTION_SHARE,
    "/profiler/execution/samples/a",
    "/profiler/execution/samples/..",
    paths.PROFILER_EXECUTION_RUN,
    paths.HOME_REGISTER,
    paths.HOME_EVENT,
    paths.HOME_PROFILE,
    paths.HOME_PROFILE + "?refresh=maybe",
    paths.WAVE_START,
    paths.WAVE_APPOINT,
    paths.HOME_WAVE_TURN,
    paths.HOME_WAVE_ANNOUNCE,
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW", "G\x01T"]
BODIES: list[bytes] = [
    b"",
    b"[]",
    b"1",
    b'"text"',
    b"null",
    b"{",
    b"\xff\xfe{}",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"input_id": ' + HUGE.encode() + b"}",
    b'{"input_id": -1}',
    b'{"input_id": "0"}',
    b'{"input_id": 1.5}',
    b'{"input_id": true}',
    b'{"input_id": 1e400}',
    b'{"peer": "n01", "sizes": [1000000000000], "repeats": 1}',
    b'{"peer": "n01", "sizes": [0], "repeats": -3}',
    b'{"peers": [["n01", "http://127.0.0.1:1"]], "first_sizes": [' + HUGE.encode() + b"]}",
    b'{"peers": "everyone", "concurrency": 1e9}',
    b'{"mapping": {"a": 1}, "addresses": []}',
    b'{"mapping": {"a": "nowhere"}, "addresses": {}}',
    b'{"run_id": "x", "node": "n00", "url": "ftp://x", "pid": ' + HUGE.encode() + b"}",
    b'{"kind": "failure", "node": "n00", "task": "a", "input_id": -5, "message": "x"}',
    b'{"kind": "gossip"}',
    json.dumps({"repeats": 10**30, "budget_seconds": "forever"}).encode(),
    b'{"addresses": {"stranger": "http://127.0.0.1:1"}}',
    b'{"task": "a", "start": -1, "finish": 1e400, "controls": ["b"]}',
    b'{"task": "a", "start": 0, "finish": 1, "controls": ["b"]}',
    b'{"node": "n00", "task": "a"}',
    b'{"node": "n00", "task": "a", "choice": "n01", "start": 0, "finish": "soon"}',
    gzip.compress(b'{"input_id": 0}'),
]
AUTHS = ["none", "good", "wrong", "bytes", "control", "binary", "scheme", "bare", "long"]


def auth_line(kind: str, token: str) -> bytes:
    lines = {
        "none": b"",
        "good": f"Authorization: Bearer {token}\r\n".encode(),
        "wrong": b"Authorization: Bearer not-the-token\r\n",
        "bytes": b"Authorization: Bearer \xff\xfe\x80\xc3(" + token.encode() + b"\r\n",
        # A tab is legal in a header value, so it reaches the token check.
        "control": b"Authorization: Bearer "
        + token[:5].encode()
        + b"\t"
        + token[5:].encode()
        + b"\r\n",
        # Other control bytes are refused by aiohttp's parser (400) before any handler.
        "binary": b"Authorization: Bearer \x01\x7f" + token.encode() + b"\r\n",
        "scheme": f"Authorization: Basic {token}\r\n".encode(),
        "bare": b"Authorization: Bearer\r\n",
        "long": b"Authorization: Bearer " + b"x" * 7000 + b"\r\n",
    }
    return lines[kind]


def request_bytes(
    method: str,
    path: str,
    auth: bytes,
    body: bytes,
    extra: bytes = b"",
    declared: int | None = None,
) -> bytes:
    length = len(body) if declared is None else declared
    head = f"{method} {path} HTTP/1.1\r\nHost: fuzz\r\n".encode("latin-1", "replace")
    head += auth + extra
    if body or declared is not None:
        head += b"Content-Length: " + str(length).encode() + b"\r\n"
    return head + b"Connection: close\r\n\r\n" + body


def hand_picked(token: str) -> list[tuple[bytes, bool, bool]]:
    """(request, whether it carries a malformed Authorization header on a guarded path,
    whether its body is shorter than it says)."""
    good = auth_line("good", token)
    probe = "/profiler/network/probe/n00"
    deploy = paths.CIRCE_DEPLOY
    digest = b"X-Jupiter-Digest: xxh3-128-trailer\r\n"
    picked: list[tuple[bytes, bool]] = [
        # Absurd or lying sizes on the streamed endpoints.
        (request_bytes("PUT", probe, good, b"x" * 100, digest, declared=10**18), False),
        (request_bytes("PUT", probe, good, b"", digest, declared=int(HUGE)), False),
        (request_bytes("PUT", probe, good, b"x" * 10, digest + b"Content-Length: 5\r\n"), False),
        (request_bytes("PUT", probe, good, b"x" * 40, digest, declared=-1), False),
        (request_bytes("PUT", probe, good, b"x" * 40), False),
        (request_bytes("PUT", probe, good, b"x" * 10, digest), False),
        (request_bytes("PUT", "/circe/data/0/a", good, b"x" * 64, digest), False),
        (
            request_bytes(
                "PUT",
                probe,
                good,
                b"zz\r\nxx\r\n0\r\n\r\n",
                digest + b"Transfer-Encoding: chunked\r\n",
            ),
            False,
        ),
        # Bodies in an encoding nobody asked for, or no encoding at all.
        *(
            (
                request_bytes("POST", deploy, good, b"\x1f\x8bgarbage", b"Content-Encoding: " + e),
                False,
            )
            for e in (b"gzip", b"br", b"zstd", b"deflate", b"bogus", b"gzip, gzip, gzip")
        ),
        (
            request_bytes("PUT", probe, good, b"x" * 40, digest + b"Content-Encoding: gzip\r\n"),
            False,
        ),
        # A request line or header too long, too many headers, headers without a name.
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", False),
        (b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 500 + b"\r\n", False),
        (b"GET /health HTTP/1.1\r\n: nameless\r\n\r\n", False),
        (b"GET /health HTTP/9.9\r\n\r\n", False),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), False),
        (b"GET /health\r\n\r\n", False),
    ]
    for kind in ("bytes", "control", "scheme", "bare", "wrong"):
        for path in (paths.CIRCE_STATUS, paths.HOME_REGISTER, paths.PROFILER_RESOURCES):
            picked.append((request_bytes("GET", path, auth_line(kind, token), b""), True))
    # Declared longer than sent: the first two, and the third's duplicate Content-Length.
    return [(data, flag, k < 2) for k, (data, flag) in enumerate(picked)]


def random_requests(token: str, count: int, seed: int) -> list[tuple[bytes, bool, bool]]:
    """Random combinations; none is flagged, as a random method or header may be refused by
    the parser before the token is checked."""
    rng = random.Random(seed)
    made: list[tuple[bytes, bool, bool]] = []
    for _ in range(count):
        method = rng.choice(METHODS)
        path = rng.choice(PATHS)
        kind = rng.choice(AUTHS)
        body = rng.choice(BODIES)
        if kind == "good" and (
            path in (paths.SHUTDOWN, paths.PROFILER_EXECUTION_CHAIN, paths.PROFILER_EXECUTION_RUN)
        ):
            # With the token these would stop the agent or start real work: test them bare.
            kind = "none"
        extra = b""
        if rng.random() < 0.2:
            extra += b"X-Jupiter-Digest: xxh3-128-trailer\r\n"
        if rng.random() < 0.1:
            extra += b"Content-Encoding: " + rng.choice([b"gzip", b"br", b"x\xff"]) + b"\r\n"
        if rng.random() < 0.1:
            extra += b"X-Junk: " + bytes(rng.randrange(128, 256) for _ in range(20)) + b"\r\n"
        declared = None
        if rng.random() < 0.05:
            declared = len(body) + rng.choice([1, 1000, 10**12])  # truncated: we hang up
        data = request_bytes(method, path, auth_line(kind, token), body, extra, declared)
        made.append((data, False, declared is not None))
    return made


def address(url: str) -> tuple[str, int]:
    """(host, port) of a base URL: local agents listen on loopback addresses of their own."""
    parsed = URL(url)
    assert parsed.host is not None and parsed.port is not None
    return parsed.host, parsed.port


async def send_raw(where: tuple[str, int], data: bytes, truncated: bool = False) -> int | None:
    """The status of the answer to `data`, or None if the server hung up without one."""
    reader, writer = await asyncio.open_connection(*where)
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        if truncated:
            return None  # hanging up now leaves the server a body shorter than declared
        with contextlib.suppress(ConnectionError):
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            if line.startswith(b"HTTP/1."):
                return int(line.split()[1])
        return None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def test_garbage_gets_4xx_and_leaves_no_traceback(tmp_path: Path) -> None:
    app = load_app(DIAMOND)
    cluster = Cluster.default(2)

    async def scenario() -> tuple[dict[int | None, int], list[int | None], dict[Path, str]]:
        async with local_agents(app, cluster) as agents:
            token = agents.context.token
            targets = [agents.home_url, *agents.urls.values()]
            ports = [address(url) for url in targets]
            requests = hand_picked(token) + random_requests(token, 2500, seed=7)
            statuses: dict[int | None, int] = {}
            malformed_auth: list[int | None] = []
            gate = asyncio.Semaphore(16)

            async def one(
                port: tuple[str, int], data: bytes, auth_is_malformed: bool, truncated: bool
            ) -> None:
                async with gate:
                    status = await send_raw(port, data, truncated)
                statuses[status] = statuses.get(status, 0) + 1
                if auth_is_malformed:
                    malformed_auth.append(status)

            await asyncio.gather(
                *(
                    one(ports[k % len(ports)], data, flag, truncated)
                    for k, (data, flag, truncated) in enumerate(requests)
                    for _ in range(1 if not flag else len(ports))
                )
            )
            # Still serving, and serving right.
            async with agents.session.get(
                f"{targets[1]}{paths.CIRCE_STATUS}", headers=agents.auth
            ) as response:
                assert response.status == 200
                assert (await response.json())["deployed"] is False
            async with agents.session.get(f"{targets[1]}{paths.CIRCE_STATUS}") as response:
                assert response.status == 401
                assert await response.text() == REFUSAL
            await asyncio.sleep(0.3)  # what the agents are still writing
            logs = {
                log: log.read_text(errors="replace")
                for log in agents.context.work_dir.rglob("agent.log")
            }
            return statuses, malformed_auth, logs

    statuses, malformed_auth, logs = asyncio.run(scenario())
    assert not [status for status in statuses if status is not None and status >= 500], statuses
    assert sum(statuses.values()) > 2500
    # Every request is answered but the truncated ones, whose sender hung up.
    assert statuses.get(None, 0) < 0.07 * sum(statuses.values()), statuses
    assert malformed_auth and set(malformed_auth) == {401}, malformed_auth
    assert len(logs) == len(cluster.node_names)
    for log, text in logs.items():
        assert "Traceback" not in text, f"{log}:\n{text[-3000:]}"


def test_idle_connections_do_not_starve_an_agent(tmp_path: Path) -> None:
    app = load_app(DIAMOND)
    cluster = Cluster.default(1)

    async def scenario() -> int:
        async with local_agents(app, cluster) as agents:
            url = next(iter(agents.urls.values()))
            idle = [open_idle(address(url)) for _ in range(2000)]
            try:
                async with agents.session.get(
                    f"{url}{paths.CIRCE_STATUS}",
                    headers=agents.auth,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    return response.status
            finally:
                for sock in idle:
                    sock.close()

    assert asyncio.run(scenario()) == 200


def open_idle(where: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(where, timeout=5)
    sock.setblocking(False)
    return sock


def test_a_full_server_drops_its_oldest_silent_connection_for_a_new_one() -> None:
    """At the cap, 2,000 connections that never speak cannot lock out a real client."""
    token = new_token()

    async def scenario() -> tuple[int, int, str]:
        stop = asyncio.Event()
        limits = ServerLimits(max_connections=50, backlog=4096)
        async with serving(agent_routes("n00", stop), token, "127.0.0.1", 0, limits) as (_, port):
            idle = [open_idle(("127.0.0.1", port)) for _ in range(2000)]
            try:
                await asyncio.sleep(0.2)  # let the server accept (and drop) them
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(
                        f"http://127.0.0.1:{port}{paths.SHUTDOWN}",
                        headers=auth_headers(token),
                        timeout=aiohttp.ClientTimeout(total=10),
                    ) as response,
                ):
                    status = response.status
                # The oldest idle connections were closed by the server.
                dropped = sum(1 for sock in idle[:1000] if peer_closed(sock))
                return status, dropped, str(stop.is_set())
            finally:
                for sock in idle:
                    sock.close()

    status, dropped, stopped = asyncio.run(scenario())
    assert (status, stopped) == (200, "True")
    assert dropped == 1000


def peer_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
