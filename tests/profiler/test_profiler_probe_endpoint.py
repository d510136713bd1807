"""A probe is checked like task data (sha256 trailer, size limit), then dropped: real agents."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from profiler_scenarios import write_app

from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.circe.transfer import DIGEST_HEADER, DIGEST_SCHEME, payload_digest
from jupiter.cluster.spec import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_agent_survives")]


def test_probes_are_checked_and_bad_ones_refused(tmp_path: Path) -> None:
    app = load_app(write_app(tmp_path / "app", {"load": [], "work": ["load"]}))
    cluster = Cluster.default(2)
    payload = os.urandom(300_000)
    good = payload + payload_digest(payload)
    damaged = bytearray(good)
    damaged[1000] ^= 1

    async def scenario() -> dict[str, int]:
        answers: dict[str, int] = {}
        async with local_agents(app, cluster) as agents:
            url = f"{agents.urls['n01']}/profiler/network/probe"
            signed = {**agents.auth, DIGEST_HEADER: DIGEST_SCHEME}
            cases = {
                "good": (f"{url}/n00", signed, good),
                "damaged": (f"{url}/n00", signed, bytes(damaged)),
                "unsigned": (f"{url}/n00", agents.auth, good),
                "stranger": (f"{url}/nobody", signed, good),
                "truncated": (f"{url}/n00", signed, good[:20]),
            }
            for name, (target, headers, body) in cases.items():
                async with agents.session.put(target, data=body, headers=headers) as response:
                    answers[name] = response.status
                    if name == "good":
                        answers["good size"] = (await response.json())["bytes"]
        return answers

    answers = asyncio.run(scenario())
    assert answers == {
        "good": 201,
        "good size": len(payload),
        "damaged": 422,
        "unsigned": 400,
        "stranger": 404,
        "truncated": 422,
    }
