"""Kubernetes tests: a fake API server per test, and the schema cache that keeps strict
validation of 200+ objects fast."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest
from k8s_fake_api import FakeKube, Scenario


@pytest.fixture(scope="session")
def fast_schemas() -> Iterator[None]:
    """kubernetes_validate re-reads and re-parses its JSON schemas on every call (10 ms each);
    the files never change, so parse each once. Validation itself is untouched."""
    from kubernetes_validate import utils

    original = utils.schema_contents
    utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        utils.schema_contents = original


@pytest.fixture
def fake_kube() -> Iterator[Callable[..., FakeKube]]:
    started: list[FakeKube] = []

    def start(scenario: Scenario | None = None, hosts: int = 3) -> FakeKube:
        fake = FakeKube(scenario).start()
        started.append(fake)
        for i in range(hosts):
            fake.add_node(f"worker-{i}", {})
        return fake

    yield start
    for fake in started:
        fake.stop()
