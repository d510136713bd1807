"""The home's WAVE ledger over its real server: turns are held until every earlier decision is
announced, only the child's decider may ask or announce, pins and the cap hold, and every
refusal is one 4xx line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from jupiter.agent.auth import auth_headers, new_token
from jupiter.api import paths
from jupiter.controller.home import HomeState, home_server
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.wave_plan import Decision, WavePlan


def plan() -> WavePlan:
    # e -> a, e -> b; a and b -> j. Order by upward rank: e, then a, b, then j.
    tasks = ["e", "a", "b", "j"]
    nodes = ["n1", "n2"]
    compute = {"e": {"n1": 1.0, "n2": 1.0}, "a": {"n1": 3.0, "n2": 3.0}}
    compute |= {"b": {"n1": 2.0, "n2": 2.0}, "j": {"n1": 1.0, "n2": 1.0}}
    edges = [Edge("e", "a", 10), Edge("e", "b", 20), Edge("a", "j", 5), Edge("b", "j", 5)]
    links = {"n1": {"n2": LinkModel(0.5, 0.0)}, "n2": {"n1": LinkModel(0.5, 0.0)}}
    problem = SchedulingProblem(tasks, nodes, compute, edges, links, {"b": "n2"}, 3)
    return WavePlan.of(compile_problem(problem))


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
