"""Changing emulated conditions mid-run, from the home: a user (POST /home/emulation, which
`jupiter emulate` calls) or cluster.yaml's `events:` address the run, and the home passes each
change to the one agent concerned (a node's compute: that node's agent; a link a->b: agent a,
which emulates what it sends). Every change applied is kept, in order, for report.json.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp import web

from jupiter.api import paths
from jupiter.api.client import CallFailed, call
from jupiter.api.models import (
    ConditionApplied,
    ConditionRequest,
    LinkSlowdown,
    SlowdownRequest,
    Slowdowns,
)
from jupiter.api.reading import answer, read_body
from jupiter.cluster.conditions import ConditionChange, ScheduledChange
from jupiter.controller.latch import RunLatch

log = logging.getLogger(__name__)

# Seconds an agent has to take a change: it only sets a number.
APPLY_TIMEOUT_S = 10.0

ChangeSource = Literal["request", "schedule"]


@dataclass(frozen=True)
class AppliedChange:
    """One change an agent took."""

    change: ConditionChange
    # Unix time the agent took it, and host seconds since the stream began (None before).
    at: float
    stream_s: float | None
    source: ChangeSource


class ChangeRefused(Exception):
    """A change that was not applied: `status` is the HTTP answer the home gives for it."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ConditionControl:
    """The home's side: applies changes one at a time (so the log's order is the agents'),
    and remembers them. `urls` gives the registered agents (node -> base URL); `session` and
    `auth` are set once the home has them."""

    def __init__(self, urls: Callable[[], dict[str, str]]) -> None:
        self._urls = urls
        self.session: aiohttp.ClientSession | None = None
        self.auth: dict[str, str] = {}
        # Unix time the stream began; None before.
        self.stream_started: float | None = None
        self.applied: list[AppliedChange] = []
        self._lock = asyncio.Lock()

    async def apply(self, change: ConditionChange, source: ChangeSource) -> ConditionApplied:
        url = self._urls().get(change.node)
        if url is None:
            raise ChangeRefused(404, f"no agent {change.node!r} in this run")
        if self.session is None:
            raise ChangeRefused(409, "the run's agents are not up yet")
        if change.to is None:
            request = SlowdownRequest(node=change.value)
        else:
            request = SlowdownRequest(link=LinkSlowdown(to=change.to, factor=change.value))
        async with self._lock:
            try:
                slowdowns = await call(
                    self.session,
                    "POST",
                    url + paths.EMULATION,
                    Slowdowns,
                    self.auth,
                    request,
                    APPLY_TIMEOUT_S,
                    change.node,
                )
            except CallFailed as error:
                # The agent's own refusal (409: no emulation, 400: no such node) is the
                # user's answer; an agent that did not answer is a bad gateway.
                status = error.status if error.status in (400, 404, 409) else 502
                raise ChangeRefused(status, error.detail.strip() or str(error)) from None
            at = time.time()
            started = self.stream_started
            stream_s = None if started is None else at - started
            self.applied.append(AppliedChange(change, at, stream_s, source))
        log.info("conditions: %s (%s)", change.describe(), source)
        return ConditionApplied(
            at=at, stream_s=stream_s, change=change.describe(), slowdowns=slowdowns
        )


def condition_routes(control: ConditionControl) -> list[web.RouteDef]:
    async def change(request: web.Request) -> web.Response:
        body = await read_body(request, ConditionRequest)
        try:
            applied = await control.apply(body, "request")
        except ChangeRefused as refused:
            return web.Response(status=refused.status, text=refused.detail)
        return answer(applied)

    return [web.post(paths.HOME_EMULATION, change)]


async def apply_schedule(
    control: ConditionControl,
    events: list[ScheduledChange],
    dilation: float,
    latch: RunLatch,
) -> None:
    """cluster.yaml's `events:`, each at its time after the stream began (emulated seconds:
    K times as many on the host under time dilation K). One that cannot be applied fails the
    run: a scripted condition that did not happen would make its results meaningless."""
    started = control.stream_started
    assert started is not None, "the schedule starts with the stream"
    for event in sorted(events, key=lambda e: e.at):
        wait = started + event.at * dilation - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            await control.apply(event, "schedule")
        except ChangeRefused as refused:
            latch.fail(f"cluster event at {event.at:g} s ({event.describe()}): {refused.detail}")
            return
