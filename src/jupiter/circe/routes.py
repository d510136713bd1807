"""The executor role's HTTP surface on an agent (all behind the run token)."""

from __future__ import annotations

from aiohttp import web

from jupiter.api import paths
from jupiter.api.models import (
    Deployed,
    Deployment,
    Injected,
    RoleChange,
    RoleStatus,
    Stats,
    Status,
    Stored,
)
from jupiter.api.reading import answer, input_id, read_body
from jupiter.circe.executor import Executor, RoleStopped
from jupiter.circe.transfer import receive_file, receive_paced


def circe_routes(executor: Executor, max_body_bytes: int) -> list[web.RouteDef]:
    known = set(executor.app.tasks) | set(executor.app.sources)

    def producer_and_input(request: web.Request) -> tuple[str, int]:
        producer = request.match_info["producer"]
        if producer not in known:
            raise web.HTTPNotFound(text="unknown task or source")
        number = input_id(request.match_info["input_id"])
        if executor.deployment is None:
            # Checked before the body is read: data before the mapping has nowhere to go.
            raise web.HTTPConflict(text="no mapping deployed on this node yet")
        return producer, number

    async def deploy(request: web.Request) -> web.Response:
        deployment = await read_body(request, Deployment)
        try:
            await executor.deploy(deployment)
        except RoleStopped as error:
            message = f"{error}: start it first (POST {paths.CIRCE_ROLE})"
            raise web.HTTPConflict(text=message) from None
        except (KeyError, ValueError) as error:
            # A mapping that names unknown nodes or tasks: the executor says which.
            raise web.HTTPBadRequest(text=f"bad deployment: {error}") from None
        return answer(Deployed(node=executor.node))

    async def data(request: web.Request) -> web.Response:
        producer, number = producer_and_input(request)
        path = executor.store.path(number, producer)
        received = await receive_paced(request, path, max_body_bytes, executor.ingress)
        executor.arrived(number, producer)
        response = answer(Stored(), status=201)
        response.headers.update(received.headers())
        return response

    async def inject(request: web.Request) -> web.Response:
        source, number = producer_and_input(request)
        if source not in executor.app.sources:
            raise web.HTTPNotFound(text="unknown source")
        path = executor.store.path(number, source)
        await receive_file(request, path, max_body_bytes)
        await executor.inject(number, source, path)
        return answer(Injected(), status=201)

    async def stats(request: web.Request) -> web.Response:
        # Records of released inputs not yet sent home by a heartbeat are still this node's.
        unsent = [record.to_dict() for record in executor.state.finished_records]
        records = [*executor.monitor.snapshot(), *unsent]
        return answer(Stats.model_validate({"node": executor.node, "records": records}))

    async def logs(request: web.Request) -> web.Response:
        # What each task run here printed, released inputs' runs too (circe/tasklogs.py).
        return answer(executor.task_logs.snapshot())

    async def status(request: web.Request) -> web.Response:
        counts = executor.monitor.counts()
        return answer(
            Status(node=executor.node, deployed=executor.deployment is not None, **counts)
        )

    def role_status() -> RoleStatus:
        return RoleStatus(
            node=executor.node,
            running=executor.running,
            epoch=executor.state.epoch,
            task_workers=executor.runner.workers,
        )

    async def role(request: web.Request) -> web.Response:
        return answer(role_status())

    async def change_role(request: web.Request) -> web.Response:
        body = await read_body(request, RoleChange)
        if body.running:
            executor.start()
        else:
            await executor.stop()
        return answer(role_status())

    return [
        web.get(paths.CIRCE_ROLE, role),
        web.post(paths.CIRCE_ROLE, change_role),
        web.post(paths.CIRCE_DEPLOY, deploy),
        web.put(paths.CIRCE_DATA, data),
        web.put(paths.CIRCE_INJECT, inject),
        web.get(paths.CIRCE_STATS, stats),
        web.get(paths.CIRCE_STATUS, status),
        web.get(paths.CIRCE_LOGS, logs),
    ]
