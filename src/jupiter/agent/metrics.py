"""GET /metrics: a `CollectorRegistry` in Prometheus' text format, for the agents and the
home alike (behind the run token, like every path but /health)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from jupiter.api import paths


def with_process_metrics(registry: CollectorRegistry) -> CollectorRegistry:
    """`registry`, also serving this process's CPU, memory and open files (read at scrape)."""
    ProcessCollector(registry=registry)
    return registry


def metrics_route(registry: CollectorRegistry) -> web.RouteDef:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return web.get(paths.METRICS, metrics)
