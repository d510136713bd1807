"""A real agent process: token checks on every endpoint, integrity checks on data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from jupiter.agent.auth import auth_headers, new_token
from jupiter.app.spec import load_app
from jupiter.backends.forked import ForkedAgents, loopback_address
from jupiter.circe.transfer import DIGEST_HEADER, DIGEST_SCHEME, payload_digest
from jupiter.cluster.spec import Cluster
from jupiter.controller.home import HomeState, home_server

from .apps import diamond


@asynccontextmanager
async def one_agent(tmp_path: Path, token: str) -> AsyncIterator[str]:
    app = load_app(diamond(tmp_path / "app"))
    cluster = Cluster.default(1)
    state = HomeState(run_id="test", exits=list(app.exits), out_dir=tmp_path / "out")
    async with (
        home_server(state, token) as home_url,
        ForkedAgents(token, tmp_path / "work") as backend,
    ):
        config = backend.agent_config(
            run_id="test",
            node=cluster.node_names[0],
            host=loopback_address(0),
            home_url=home_url,
            work_dir=tmp_path / "work" / "node",
            app=app.to_dict(),
            app_root=app.root,
            cluster=cluster.to_dict(),
            max_body_bytes=1024,
        )
        await backend.start(config)
        await state.latch.wait_for(lambda: state.agents, timeout=30, what="registration")
        yield next(iter(state.agents.values()))


def test_every_endpoint_but_health_needs_the_token(tmp_path: Path) -> None:
    async def scenario() -> None:
        token = new_token()
        async with one_agent(tmp_path, token) as url, aiohttp.ClientSession() as session:
            async with session.get(f"{url}/health") as response:
                assert response.status == 200
            calls = [
                ("POST", "/circe/deploy"),
                ("PUT", "/circe/data/0/a"),
                ("PUT", "/circe/inject/0/input"),
                ("GET", "/circe/stats"),
                ("GET", "/circe/status"),
                ("POST", "/shutdown"),
            ]
            for headers in ({}, auth_headers("wrong-" + token), {"Authorization": token}):
                for method, path in calls:
                    async with session.request(method, url + path, headers=headers) as response:
                        assert response.status == 401, (method, path, headers)
            async with session.get(f"{url}/circe/status", headers=auth_headers(token)) as response:
                assert response.status == 200
                assert (await response.json())["deployed"] is False

    asyncio.run(scenario())


def test_damaged_and_oversized_bodies_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        token = new_token()
        async with one_agent(tmp_path, token) as url, aiohttp.ClientSession() as session:
            auth = auth_headers(token)
            deployment = {
                "mapping": dict.fromkeys(["input", "a", "b", "c", "d"], "n0"),
                "addresses": {"home": "http://127.0.0.1:9"},
            }
            async with session.post(f"{url}/circe/deploy", json=deployment, headers=auth) as r:
                assert r.status == 200
            signed = {**auth, DIGEST_HEADER: DIGEST_SCHEME}
            payload = b"payload"
            good = payload + payload_digest(payload)
            damaged = b"paYload" + payload_digest(payload)
            for body, headers, status in [
                (damaged, signed, 422),  # a flipped byte on the way
                (payload[:5], signed, 422),  # shorter than a trailer: truncated
                (good, auth, 400),  # no digest scheme declared
                (b"x" * 2048 + payload_digest(b"x" * 2048), signed, 413),
            ]:
                async with session.put(
                    f"{url}/circe/data/0/a", data=body, headers=headers
                ) as response:
                    assert response.status == status, (body[:10], status)
            async with session.put(
                f"{url}/circe/data/0/nosuchtask", data=good, headers=signed
            ) as response:
                assert response.status == 404
            # Nothing damaged was kept; the good body is stored whole.
            async with session.put(f"{url}/circe/data/0/a", data=good, headers=signed) as r:
                assert r.status == 201

    asyncio.run(scenario())
