"""GET /home/profile on the home server, with real agents on a few emulated nodes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from pathlib import Path

import aiohttp
import pytest
from profiler_scenarios import write_app

from jupiter.agent.auth import auth_headers, new_token
from jupiter.app.spec import load_app
from jupiter.backends.agents import local_agents
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.home import NO_PROFILE, NOT_YET
from jupiter.controller.run import RunOptions, RunResult, run
from jupiter.profiler.home import ProfileSettings
from jupiter.profiler.live import refreshed_profile
from jupiter.profiler.model import Profile

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_agent_survives")]

KIB = 1024
# Small and quick: two sizes, one timed run per task and node, no later rounds.
QUICK = ProfileSettings(sizes=[4 * KIB, 16 * KIB], interval=0, execution_repeats=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fetch(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with session.get(url, headers=headers or {}) as response:
        return response.status, await response.text()


def app_path(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", {"load": [], "work": ["load"]})


def test_the_home_serves_the_profile_it_gathered(tmp_path: Path) -> None:
    """`jupiter profile`'s path: 404 while profiling, then exactly the gathered profile."""
    app = load_app(app_path(tmp_path))
    cluster = Cluster.default(3)

    async def scenario() -> tuple[list[tuple[int, str]], Profile, tuple[int, str]]:
        async with local_agents(app, cluster) as agents:
            url = f"{agents.home_url}/home/profile"
            gathering = asyncio.ensure_future(agents.gather(app, cluster, QUICK))
            during: list[tuple[int, str]] = []
            while not gathering.done():
                answer = await fetch(agents.session, url, agents.auth)
                # The home stores the profile in the step that finishes gathering: an answer
                # that arrives after that step may rightly be the profile.
                if not gathering.done():
                    during.append(answer)
                await asyncio.sleep(0.05)
            profile = await gathering
            after = await fetch(agents.session, url, agents.auth)
        return during, profile, after

    during, profile, (status, text) = asyncio.run(scenario())
    assert during, "profiling finished before the first request"
    assert set(during) == {(404, NOT_YET)}
    assert status == 200
    served = Profile.model_validate_json(text)
    assert served == profile
    assert text == profile.model_dump_json(indent=1)  # what `jupiter profile --save` writes
    assert served.nodes == cluster.node_names
    assert sorted((a, b) for a, row in served.links.items() for b in row) == sorted(
        (a, b) for a in served.nodes for b in served.nodes if a != b
    )
    assert set(served.compute) == {"load", "work"}
    assert sorted(served.resources) == served.nodes


def test_a_run_serves_its_profile_and_refuses_strangers(tmp_path: Path) -> None:
    """During `jupiter run`: the profile the mapper used, behind the run's token; a run
    with --profile FILE serves that profile from the start."""
    app = app_path(tmp_path)
    token = new_token()

    async def during_run(
        options: RunOptions,
    ) -> tuple[RunResult, list[tuple[int, str]], list[tuple[int, str]], dict[str, int]]:
        url = f"http://127.0.0.1:{options.home_port}/home/profile"
        answers: list[tuple[int, str]] = []
        refreshed: list[tuple[int, str]] = []
        refused: dict[str, int] = {}
        async with aiohttp.ClientSession() as session:
            running = asyncio.ensure_future(run(options))
            while not running.done():
                try:
                    answers.append(await fetch(session, url, auth_headers(token)))
                    if answers[-1][0] == 200:
                        refreshed.append(
                            await fetch(session, f"{url}?refresh=1", auth_headers(token))
                        )
                    for name, headers in (("none", {}), ("wrong", auth_headers("not-it"))):
                        for query in ("", "?refresh=1"):
                            status, _ = await fetch(session, url + query, headers)
                            refused[name + query] = status
                except aiohttp.ClientConnectionError:
                    pass  # the home is not listening yet, or no longer
                await asyncio.sleep(0.05)
            return await running, answers, refreshed, refused

    def options(**extra: object) -> RunOptions:
        return RunOptions(
            backend=LocalBackend(),
            app=app,
            cluster=Cluster.default(3),
            inputs=3,
            interval=0.3,
            out_dir=tmp_path / f"out-{len(extra)}",
            home_port=free_port(),
            token=token,
            profile_settings=QUICK,
            **extra,  # type: ignore[arg-type]
        )

    result, answers, refreshed, refused = asyncio.run(during_run(options()))
    assert result.profile is not None
    served = [Profile.model_validate_json(text) for status, text in answers if status == 200]
    assert served, f"never served a profile: {answers[-3:]}"
    assert all(profile == result.profile for profile in served)
    # Refreshed through the run's own client session: every agent answered, until the
    # agents were stopped at teardown (the home then says which did not answer).
    live = [Profile.model_validate_json(text) for status, text in refreshed if status == 200]
    read = [profile.settings["refresh"]["nodes"] for profile in live]
    assert read and read[0] == result.profile.nodes
    complete = len(list(itertools.takewhile(lambda nodes: nodes == result.profile.nodes, read)))
    assert all(profile.settings["refresh"]["failed"] for profile in live[complete:])
    assert all(profile.compute == result.profile.compute for profile in live)
    # Before profiling finished: 404 and why; never anything else.
    assert {answer for answer in answers if answer[0] != 200} <= {(404, NOT_YET)}
    assert refused == {"none": 401, "none?refresh=1": 401, "wrong": 401, "wrong?refresh=1": 401}

    saved = result.profile.save(tmp_path / "profile.json")
    reused, answers, _, _ = asyncio.run(
        during_run(options(profile=Profile.load(saved), profile_source=str(saved)))
    )
    assert reused.phases["profile"] < 0.01
    assert answers and {status for status, _ in answers} == {200}
    assert all(Profile.model_validate_json(text) == result.profile for _, text in answers)


def test_a_run_without_a_profile_answers_404_with_the_reason(tmp_path: Path) -> None:
    options = RunOptions(
        backend=LocalBackend(),
        app=app_path(tmp_path),
        cluster=Cluster.default(3),
        inputs=2,
        interval=0.3,
        out_dir=tmp_path / "out",
        home_port=free_port(),
        token=new_token(),
        profiling=False,
    )
    url = f"http://127.0.0.1:{options.home_port}/home/profile"
    auth = auth_headers(options.token or "")

    async def scenario() -> list[tuple[int, str]]:
        answers: list[tuple[int, str]] = []
        async with aiohttp.ClientSession() as session:
            running = asyncio.ensure_future(run(options))
            while not running.done():
                for query in ("", "?refresh=1"):
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        answers.append(await fetch(session, url + query, auth))
                await asyncio.sleep(0.05)
            await running
        return answers

    answers = asyncio.run(scenario())
    assert answers
    assert set(answers) == {(404, NO_PROFILE)}
    assert "\n" not in NO_PROFILE and "--no-profile" in NO_PROFILE


def test_refresh_reads_the_agents_current_fits_and_samples(tmp_path: Path) -> None:
    app = load_app(app_path(tmp_path))
    cluster = Cluster.default(3)
    # Later rounds and refits every 0.3 s, so that the agents' fits move on after gathering.
    settings = ProfileSettings(
        sizes=[4 * KIB, 16 * KIB], interval=0.3, refit_interval=0.3, execution=False
    )

    async def scenario() -> tuple[Profile, dict[str, dict[str, float]], Profile, str, Profile]:
        async with local_agents(app, cluster) as agents:
            gathered = await agents.gather(app, cluster, settings)
            url = f"{agents.home_url}/home/profile"
            # Wait until every agent has refitted since the profile was gathered (and has a
            # newer resource sample, taken every 2 s).
            deadline = time.monotonic() + 15
            seen: dict[str, dict[str, float]] = {}
            while time.monotonic() < deadline:
                for node, agent in agents.urls.items():
                    async with agents.session.get(
                        f"{agent}/profiler/network?samples=0", headers=agents.auth
                    ) as response:
                        fits = (await response.json())["fits"]
                    seen[node] = {peer: fit["fitted_at"] for peer, fit in fits.items()}
                if (
                    all(
                        at > gathered.links[node][peer].fitted_at
                        for node, row in seen.items()
                        for peer, at in row.items()
                    )
                    and time.time() > max(s.at for s in gathered.resources.values()) + 2.5
                ):
                    break
                await asyncio.sleep(0.2)
            status, text = await fetch(agents.session, f"{url}?refresh=1", agents.auth)
            assert status == 200, text
            refreshed = Profile.model_validate_json(text)
            status, text = await fetch(agents.session, url, agents.auth)
            assert status == 200, text
            plain = Profile.model_validate_json(text)
            # An agent that does not answer keeps its gathered figures, and is named.
            dead = {**agents.urls, cluster.node_names[0]: f"http://127.0.0.1:{free_port()}"}
            partial = await refreshed_profile(gathered, dead, agents.session, agents.auth)
        return gathered, seen, refreshed, plain.model_dump_json(), partial

    gathered, seen, refreshed, plain, partial = asyncio.run(scenario())
    nodes = cluster.node_names
    # The plain document is still the profile gathered (the one the mapper would use).
    assert plain == gathered.model_dump_json()
    info = refreshed.settings["refresh"]
    assert info["nodes"] == nodes and info["failed"] == {}
    assert all(info["rounds"][node] >= 2 for node in nodes)
    for node in nodes:
        assert set(refreshed.links[node]) == set(gathered.links[node])
        for peer, fit in refreshed.links[node].items():
            # Read from the agent, at or after what we saw there, after the gathered fit.
            assert fit.fitted_at >= seen[node][peer] > gathered.links[node][peer].fitted_at
        assert refreshed.resources[node].at > gathered.resources[node].at
    assert refreshed.compute == gathered.compute
    assert refreshed.output_bytes == gathered.output_bytes
    assert refreshed.settings["network"] == gathered.settings["network"]

    down = nodes[0]
    assert list(partial.settings["refresh"]["failed"]) == [down]
    assert partial.settings["refresh"]["nodes"] == nodes[1:]
    assert partial.links[down] == gathered.links[down]
    assert partial.resources[down] == gathered.resources[down]
    assert all(partial.links[node] != gathered.links[node] for node in nodes[1:])
