"""The executor's Prometheus metrics, served at GET /metrics on its agent (agent/metrics.py).

Counters move where the executor runs tasks and sends outputs; queue lengths are read from
the `ExecutorState` when scraped, so they cost nothing between scrapes. Every executor has
its own `CollectorRegistry`, never prometheus_client's global one: a test or a benchmark
holds many executors in one process.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jupiter.circe.state import ExecutorState

# From a local hop (milliseconds) to a large output over a slow WAN link (a minute).
TRANSFER_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ExecutorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.tasks_run = Counter(
            "jupiter_tasks_run",
            "Task runs that finished and wrote their output, by task.",
            ["task"],
            registry=self.registry,
        )
        self.task_failures = Counter(
            "jupiter_task_failures",
            "Task runs that failed after their retries, by task.",
            ["task"],
            registry=self.registry,
        )
        self.bytes_sent = Counter(
            "jupiter_bytes_sent",
            "Output bytes delivered, by destination node ('home' for exit outputs).",
            ["destination"],
            registry=self.registry,
        )
        self.send_failures = Counter(
            "jupiter_send_failures",
            "Sends that failed (each is retried or reported), by destination node.",
            ["destination"],
            registry=self.registry,
        )
        self.transfer_seconds = Histogram(
            "jupiter_transfer_seconds",
            "Seconds from a send's start to its destination's answer (emulated link included), "
            "by destination node.",
            ["destination"],
            buckets=TRANSFER_BUCKETS,
            registry=self.registry,
        )

    def watch(self, state: ExecutorState) -> None:
        """Serve `state`'s queue lengths with every scrape."""
        self.registry.register(_QueueCollector(state))


class _QueueCollector(Collector):
    def __init__(self, state: ExecutorState) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self._state
        yield GaugeMetricFamily(
            "jupiter_tasks_ready",
            "Tasks whose inputs are here, waiting for a slot.",
            value=len(state.ready),
        )
        yield GaugeMetricFamily(
            "jupiter_tasks_running", "Task runs in progress.", value=len(state.running)
        )
        yield GaugeMetricFamily(
            "jupiter_sends_queued",
            "Sends in flight or waiting for room on their link.",
            value=state.sending,
        )
