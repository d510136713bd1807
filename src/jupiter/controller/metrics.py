"""The home's Prometheus metrics (GET /metrics on the home), read from its observed state at
each scrape: inputs, exit outputs, agents, heartbeat ages and the mapping epoch. Nothing is
counted twice: every figure comes from what `HomeState` holds anyway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from jupiter.controller.home import HomeState


def home_registry(state: HomeState) -> CollectorRegistry:
    """A registry of its own for this home (never the global one: tests run many homes)."""
    registry = CollectorRegistry()
    registry.register(HomeCollector(state))
    return registry


class HomeCollector(Collector):
    def __init__(self, state: HomeState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        deliveries = state.deliveries
        registry = state.registry
        yield _counter("jupiter_inputs_injected", "Inputs injected.", state.inputs_injected)
        completed = sum(1 for k in deliveries.by_input if deliveries.succeeded(k))
        yield _counter(
            "jupiter_inputs_completed", "Inputs whose every exit output arrived.", completed
        )
        yield _counter(
            "jupiter_inputs_failed", "Inputs failed (--on-error skip).", len(deliveries.failed)
        )
        delivered = sum(len(outputs) for outputs in deliveries.by_input.values())
        yield _counter(
            "jupiter_deliveries", "Exit outputs kept (one per input and exit).", delivered
        )
        yield _counter(
            "jupiter_duplicates",
            "Exit outputs that arrived again and were dropped.",
            len(deliveries.duplicates),
        )
        yield _gauge("jupiter_agents_registered", "Agents registered.", len(registry))
        yield _gauge("jupiter_agents_lost", "Agents lost (and not back).", len(registry.lost))
        ages = GaugeMetricFamily(
            "jupiter_heartbeat_age_seconds",
            "Seconds since each agent's last heartbeat (or registration).",
            labels=["node"],
        )
        for node, age in sorted(registry.ages().items()):
            ages.add_metric([node], age)
        yield ages
        yield _gauge(
            "jupiter_mapping_epoch", "The mapping's epoch (-1 before dispatch).", state.epoch
        )


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
