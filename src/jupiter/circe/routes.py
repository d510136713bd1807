"""The executor role's HTTP surface on an agent (all behind the run token)."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from jupiter.circe.executor import Deployment, Executor
from jupiter.circe.transfer import receive_file


def circe_routes(executor: Executor, max_body_bytes: int) -> list[web.RouteDef]:
    known = set(executor.app.tasks) | set(executor.app.sources)

    def producer_and_input(request: web.Request) -> tuple[str, int]:
        producer = request.match_info["producer"]
        if producer not in known:
            raise web.HTTPNotFound(text=f"unknown task or source {producer!r}")
        try:
            return producer, int(request.match_info["input_id"])
        except ValueError:
            raise web.HTTPBadRequest(text="input id must be an integer") from None

    async def deploy(request: web.Request) -> web.Response:
        try:
            await executor.deploy(Deployment.model_validate(await request.json()))
        except (ValidationError, KeyError, TypeError, ValueError) as error:
            raise web.HTTPBadRequest(text=f"bad deployment: {error}") from None
        return web.json_response({"node": executor.node, "deployed": True})

    async def data(request: web.Request) -> web.Response:
        producer, input_id = producer_and_input(request)
        await receive_file(request, executor.store.path(input_id, producer), max_body_bytes)
        executor.arrived(input_id, producer)
        return web.json_response({"stored": True}, status=201)

    async def inject(request: web.Request) -> web.Response:
        source, input_id = producer_and_input(request)
        if source not in executor.app.sources:
            raise web.HTTPNotFound(text=f"unknown source {source!r}")
        path = executor.store.path(input_id, source)
        await receive_file(request, path, max_body_bytes)
        await executor.inject(input_id, source, path)
        return web.json_response({"injected": True}, status=201)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"node": executor.node, "records": executor.monitor.snapshot()})

    async def status(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "node": executor.node,
                "deployed": executor.deployment is not None,
                **executor.monitor.counts(),
            }
        )

    return [
        web.post("/circe/deploy", deploy),
        web.put("/circe/data/{input_id}/{producer}", data),
        web.put("/circe/inject/{input_id}/{producer}", inject),
        web.get("/circe/stats", stats),
        web.get("/circe/status", status),
    ]
