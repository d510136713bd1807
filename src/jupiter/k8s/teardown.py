"""Deleting a run: everything carrying its label, whatever its creator remembers.

Deleting by label rather than by a list of what was created also removes an object whose
create call timed out after the server had stored it. Pods go first, role by role and in
parallel (each role's time is measured until its last pod is gone), then the NetworkPolicy,
which must outlive the pods it protects, with the Secret and ConfigMap; the namespace last,
and only if this run created it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from jupiter.errors import RunError
from jupiter.k8s import names
from jupiter.k8s.client import ApiFailure, api_errors, background_cascade, resource

ROLE_KINDS = {names.AGENT: ("Pod", "Service"), names.HOME: ("Job", "Pod", "Service")}
SHARED_KINDS = ("NetworkPolicy", "ConfigMap", "Secret")
GONE_POLL_S = 0.25
PARALLEL_DELETES = 16


@dataclass
class TeardownResult:
    seconds: dict[str, float] = field(default_factory=dict)  # agent, home, shared, total
    deleted: list[str] = field(default_factory=list)  # "Kind/name"
    failures: list[str] = field(default_factory=list)


async def teardown(
    client: Any, namespace: str, run_id: str, delete_namespace: bool, timeout: float = 120.0
) -> TeardownResult:
    result = TeardownResult()
    began = time.perf_counter()

    async def role(name: str) -> None:
        started = time.perf_counter()
        labels = {names.RUN_LABEL: run_id, names.ROLE_LABEL: name}
        for kind in ROLE_KINDS[name]:
            await _delete_labelled(client, kind, namespace, labels, result)
        await _wait_pods_gone(client, namespace, labels, timeout, result)
        result.seconds[name] = time.perf_counter() - started

    await asyncio.gather(role(names.AGENT), role(names.HOME))
    started = time.perf_counter()
    for kind in SHARED_KINDS:
        await _delete_labelled(client, kind, namespace, {names.RUN_LABEL: run_id}, result)
    if delete_namespace:
        await _delete_one(client, "Namespace", namespace, None, result)
    result.seconds["shared"] = time.perf_counter() - started
    result.seconds["total"] = time.perf_counter() - began
    return result


async def _delete_labelled(
    client: Any, kind: str, namespace: str, labels: dict[str, str], result: TeardownResult
) -> None:
    try:
        with api_errors(f"listing {kind}s to delete"):
            found = [
                obj.metadata.name
                async for obj in client.list(resource(kind), namespace=namespace, labels=labels)
            ]
    except RunError as error:
        result.failures.append(str(error))
        return
    limit = asyncio.Semaphore(PARALLEL_DELETES)

    async def one(name: str) -> None:
        async with limit:
            await _delete_one(client, kind, name, namespace, result)

    await asyncio.gather(*(one(name) for name in found))


async def _delete_one(
    client: Any, kind: str, name: str, namespace: str | None, result: TeardownResult
) -> None:
    # Jobs orphan their pods unless told otherwise (an API default kept for compatibility).
    cascade = background_cascade() if kind == "Job" else None
    try:
        with api_errors(f"deleting {kind} {name}"):
            if namespace is None:
                await client.delete(resource(kind), name, cascade=cascade)
            else:
                await client.delete(resource(kind), name, namespace=namespace, cascade=cascade)
    except ApiFailure as error:
        if error.code != 404:
            result.failures.append(str(error))
            return
    result.deleted.append(f"{kind}/{name}")


async def _wait_pods_gone(
    client: Any, namespace: str, labels: dict[str, str], timeout: float, result: TeardownResult
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with api_errors("checking that the pods are gone"):
                left = [
                    obj.metadata.name
                    async for obj in client.list(
                        resource("Pod"), namespace=namespace, labels=labels
                    )
                ]
        except RunError as error:
            result.failures.append(str(error))
            return
        if not left:
            return
        if time.monotonic() > deadline:
            result.failures.append(
                f"pods still terminating after {timeout:.0f} s: {', '.join(left[:5])}"
            )
            return
        await asyncio.sleep(GONE_POLL_S)
