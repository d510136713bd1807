"""The agent's emulation control: GET /emulation reads this node's slowdowns, POST sets them
(its compute, and/or one of its links out), for tests and demos that change conditions
mid-run. Behind the run token like every route but /health; the home passes users' changes
on here (controller/conditions.py)."""

from __future__ import annotations

import logging

from aiohttp import web

from jupiter.api import paths
from jupiter.api.models import SlowdownRequest, Slowdowns
from jupiter.api.reading import answer, read_body
from jupiter.circe.executor import Executor

log = logging.getLogger(__name__)

NOT_EMULATED = "emulation is off (emulate: false or --no-emulation): nothing to slow down"


def emulation_routes(executor: Executor) -> list[web.RouteDef]:
    async def read(request: web.Request) -> web.Response:
        return answer(current(executor))

    async def change(request: web.Request) -> web.Response:
        body = await read_body(request, SlowdownRequest)
        if not executor.cluster.emulate:
            # Without emulation the network and CPUs are real: there is no model to slow.
            raise web.HTTPConflict(text=NOT_EMULATED)
        link = body.link
        if link is not None:
            if link.to == executor.node:
                raise web.HTTPBadRequest(text=f"bad link: {link.to} is this node itself")
            if link.to not in executor.cluster.node_names:
                raise web.HTTPBadRequest(text=f"bad link: no node {link.to!r} in this run")
        where = {"node": executor.node}
        if body.node is not None:
            executor.slow_node(body.node)
            log.info("compute slowed x%g", body.node, extra=where)
        if link is not None:
            executor.slow_link(link.to, link.factor)
            log.info("link to %s slowed x%g", link.to, link.factor, extra=where)
        return answer(current(executor))

    return [web.get(paths.EMULATION, read), web.post(paths.EMULATION, change)]


def current(executor: Executor) -> Slowdowns:
    slowdowns = executor.slowdowns
    return Slowdowns(node=executor.node, factor=slowdowns.node, links=dict(slowdowns.links))
