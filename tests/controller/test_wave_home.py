"""The home's WAVE ledger over its real server: turns are held until every earlier decision is
announced, only the child's decider may ask or announce, pins and the cap hold, and every
refusal is one 4xx line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from jupiter.agent.auth import auth_headers, new_token
from jupiter.agent.server import serving
from jupiter.api import paths
from jupiter.api.client import AgentClient
from jupiter.api.reading import answer, read_body
from jupiter.api.wave import Link, WaveAppointed, WaveAppointment, WaveReady
from jupiter.controller import wave_home
from jupiter.controller.home import HomeState, home_server
from jupiter.errors import RunError
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.wave_plan import Decision, WavePlan


def wave_plan_problem() -> SchedulingProblem:
    # e -> a, e -> b; a and b -> j. Order by upward rank: e, then a, b, then j.
    tasks = ["e", "a", "b", "j"]
    nodes = ["n1", "n2"]
    compute = {"e": {"n1": 1.0, "n2": 1.0}, "a": {"n1": 3.0, "n2": 3.0}}
    compute |= {"b": {"n1": 2.0, "n2": 2.0}, "j": {"n1": 1.0, "n2": 1.0}}
    edges = [Edge("e", "a", 10), Edge("e", "b", 20), Edge("a", "j", 5), Edge("b", "j", 5)]
    links = {"n1": {"n2": LinkModel(0.5, 0.0)}, "n2": {"n1": LinkModel(0.5, 0.0)}}
    return SchedulingProblem(tasks, nodes, compute, edges, links, {"b": "n2"}, 3)


def plan() -> WavePlan:
    return WavePlan.of(compile_problem(wave_plan_problem()))


def test_the_ledger_routes(tmp_path: Path) -> None:
    async def scenario() -> None:
        token = new_token()
        state = HomeState(run_id="test", exits=[], out_dir=tmp_path / "out")
        headers = auth_headers(token)
        async with home_server(state, token) as url, aiohttp.ClientSession() as session:

            async def post(path: str, body: dict[str, object]) -> tuple[int, str]:
                async with session.post(f"{url}{path}", json=body, headers=headers) as response:
                    return response.status, await response.text()

            turn, announce = paths.HOME_WAVE_TURN, paths.HOME_WAVE_ANNOUNCE
            assert (await post(turn, {"node": "n1", "task": "a"}))[0] == 409  # no WAVE yet

            wave_plan = plan()
            assert wave_plan.order == ["e", "a", "b", "j"]
            state.wave.begin(wave_plan)
            assert (await post(turn, {"node": "n1", "task": "nope"}))[0] == 404
            assert (await post(turn, {"node": "n1", "task": "e"}))[0] == 409  # the home's
            # b's turn is held until a is announced, which needs e first.
            held = asyncio.ensure_future(post(turn, {"node": "n1", "task": "b"}))
            await asyncio.sleep(0.2)
            assert not held.done()
            state.wave.announce(Decision("e", None, "n1", 0.0, 1.0))
            status, text = await post(turn, {"node": "n2", "task": "a"})
            assert status == 409 and "decided by n1, not n2" in text
            status, text = await post(turn, {"node": "n1", "task": "a"})
            assert status == 200, text
            answer = json.loads(text)
            assert answer["parents"] == [
                {"task": "e", "node": "n1", "finish": 1.0, "bytes": 10.0, "links": None}
            ]
            assert answer["ready"] == {"n1": 1.0} and answer["controls"] == ["j"]
            assert not held.done()
            good = {"node": "n1", "task": "a", "choice": "n1", "start": 1.0, "finish": 4.0}
            assert (await post(announce, {**good, "node": "n2"}))[0] == 409
            assert (await post(announce, {**good, "choice": "n9"}))[0] == 400
            assert (await post(announce, {**good, "start": -1.0}))[0] == 400
            assert (await post(announce, good))[0] == 200
            assert (await post(announce, good))[0] == 409  # appointed already
            status, text = await asyncio.wait_for(held, 10)
            assert status == 200, text
            b = {"node": "n1", "task": "b", "choice": "n1", "start": 4.0, "finish": 6.0}
            assert "pinned" in (await post(announce, b))[1]
            assert (await post(announce, {**b, "choice": "n2", "finish": 3.5}))[0] == 200
            assert state.wave.messages.turns == 2
            assert state.wave.messages.announcements == 2
            assert state.wave.messages.local_appointments == 1
            assert state.wave.messages.appointments == 1
            state.wave.end()
            assert (await post(turn, {"node": "n1", "task": "j"}))[0] == 409

    asyncio.run(scenario())


def test_a_wave_that_stops_progressing_fails_naming_the_task_and_its_decider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agents that answer the start and take appointments but never decide: the map phase
    fails after STALL_S without an announcement, naming the task due and who decides it."""
    monkeypatch.setattr(wave_home, "STALL_S", 0.5)

    async def scenario() -> None:
        token = new_token()
        state = HomeState(run_id="test", exits=[], out_dir=tmp_path / "out")
        appointed: list[str] = []

        async def start(request: web.Request) -> web.Response:
            return answer(WaveReady(node="n1", links={"n2": Link(p=0.5, q=0.0)}))

        async def appoint(request: web.Request) -> web.Response:
            appointed.append((await read_body(request, WaveAppointment)).task)
            return answer(WaveAppointed())

        routes = [web.post(paths.WAVE_START, start), web.post(paths.WAVE_APPOINT, appoint)]
        async with (
            home_server(state, token),
            serving(routes, token, "127.0.0.1", 0) as (_, port),
            aiohttp.ClientSession() as session,
        ):
            url = f"http://127.0.0.1:{port}"
            agents = AgentClient(session, {"n1": url, "n2": url}, auth_headers(token))
            wave_plan = plan()
            problem = wave_plan_problem()
            with pytest.raises(RunError, match=r"task 'a' \(decided by n1\)"):
                await wave_home.distributed_wave(state.wave, agents, state.latch, problem)
            assert appointed == ["e"]
            assert wave_plan.order[1] == "a"
            # Ended: a late decider is refused, not left hanging.
            assert state.wave.ledger is None

    asyncio.run(scenario())
