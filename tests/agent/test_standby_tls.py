"""A hand-started agent's enrolment with TLS, in process: a join whose certificate never comes
lapses, so a home that died half-way does not keep the agent from the next run."""

from __future__ import annotations

import asyncio
import io
import socket
import tarfile
from pathlib import Path

import aiohttp
import pytest

from jupiter.agent import standby
from jupiter.api.hosts import JoinAnswer, JoinRequest
from jupiter.app.spec import load_app
from jupiter.cluster.spec import Cluster

APP_YAML = """
name: one
sources: [{name: input, feeds: [a], inputs: ["samples/*.txt"]}]
tasks: {a: {command: "cp {in:input} {out}"}}
"""


def _bundle(root: Path) -> bytes:
    (root / "samples").mkdir(parents=True)
    (root / "samples" / "0.txt").write_text("x\n")
    (root / "app.yaml").write_text(APP_YAML)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        archive.add(root, arcname=".")
    return data.getvalue()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_join_without_its_certificate_lapses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(standby, "CERTIFY_TIMEOUT_S", 0.5)
    bundle = _bundle(tmp_path / "app")
    app = load_app(tmp_path / "app").to_dict()
    port = _free_port()
    token = "t0ken"
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}

    async def main() -> list[int]:
        agent = standby.StandbyAgent("127.0.0.1", port, token, tmp_path / "work")
        serving = asyncio.ensure_future(agent.serve())
        statuses = []
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(100):
                    try:
                        async with session.get(f"{base}/health"):
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                for attempt in range(2):
                    run_id = f"r{attempt}"
                    async with session.put(
                        f"{base}/agent/bundle/{run_id}", data=bundle, headers=auth
                    ) as response:
                        assert response.status == 201
                    join = JoinRequest(
                        run_id=run_id,
                        node="n00",
                        home_url="https://127.0.0.1:9",
                        advertise_url=f"https://127.0.0.1:{port}",
                        app=app,
                        cluster=Cluster.default(1).to_dict(),
                        tls=True,
                    )
                    async with session.post(
                        f"{base}/agent/join",
                        data=join.model_dump_json(),
                        headers={**auth, "Content-Type": "application/json"},
                    ) as response:
                        statuses.append(response.status)
                        if response.status == 200:
                            assert JoinAnswer.model_validate_json(await response.read()).csr
                    if attempt == 0:
                        # While it waits for the certificate, the agent is taken...
                        async with session.post(
                            f"{base}/agent/join",
                            data=join.model_dump_json(),
                            headers={**auth, "Content-Type": "application/json"},
                        ) as response:
                            statuses.append(response.status)
                        # ...until the join lapses, its run's folder gone.
                        await asyncio.sleep(1.0)
                        assert not (tmp_path / "work" / "run-r0").exists()
        finally:
            agent.quit.set()
            await serving
        return statuses

    assert asyncio.run(main()) == [200, 409, 200]
