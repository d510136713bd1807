"""The network profiler on one agent: timed transfers to every peer, one fit per link.

Probes take the path task data takes: `send_file` through this link's `LinkEmulator` to the
peer's probe endpoint, which checks the digest and discards the bytes. The time from the
first byte leaving to the peer's answer is one sample; the last `window` samples per link are
fitted (see fit.py) after the first round and then every `refit_interval` seconds.

Probing must not crowd out the data it is meant to predict, so each link has a budget: a
token bucket of link time, filled at `max_link_share` seconds per second up to
`burst_seconds`. A probe spends what it occupied the link (its time minus the link's
latency, which keeps the wire free), and the next probe on that link waits until the bucket
is no longer in debt. Over any stretch of time T, probes use a link for at most
`burst + share * T` plus one probe. The burst lets the first round go out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from jupiter.api import paths
from jupiter.api.profiler import NetworkPlan
from jupiter.background import background
from jupiter.circe.state import HOME
from jupiter.circe.transfer import (
    DIGEST_NAME,
    SignedBody,
    TransferError,
    new_digest,
    receive_file,
    send_file,
)
from jupiter.cluster.emulator import HostPath, LinkEmulator
from jupiter.cluster.spec import Cluster
from jupiter.profiler.fit import fit_quadratic
from jupiter.profiler.model import LinkProfile

KIB = 1024
# A probe this small takes about the link's latency: its time bounds the latency from above.
SMALL_PROBE_BYTES = 64 * KIB


class LinkBudget:
    """Token bucket of link-seconds: filled at `share` per second, at most `burst` deep."""

    def __init__(self, share: float, burst: float) -> None:
        self.share = share
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()
        self.spent = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.share)
        self.updated = now

    def wait_seconds(self, now: float | None = None) -> float:
        self._refill(time.monotonic() if now is None else now)
        return 0.0 if self.tokens >= 0 else -self.tokens / self.share

    def spend(self, seconds: float, now: float | None = None) -> None:
        self._refill(time.monotonic() if now is None else now)
        self.tokens -= seconds
        self.spent += seconds


class NetworkProfiler:
    def __init__(
        self,
        node: str,
        cluster: Cluster,
        session: aiohttp.ClientSession,
        auth: dict[str, str],
        scratch: Path,
        max_body_bytes: int,
        host_path: HostPath | None = None,
    ) -> None:
        self.node = node
        self.cluster = cluster
        self.host_path = host_path
        self.session = session
        self.auth = auth
        self.scratch = scratch
        self.max_body_bytes = max_body_bytes
        self.plan: NetworkPlan | None = None
        self.samples: dict[str, deque[tuple[int, float, float]]] = {}
        # Per peer, the times of the samples that were real transfers (observe_transfer).
        self._runtime: dict[str, set[float]] = {}
        self.fits: dict[str, LinkProfile] = {}
        self.rounds = 0
        self.failures = 0
        self.first_round_seconds: float | None = None
        self.first_round_done = asyncio.Event()
        self._budgets: dict[str, LinkBudget] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._payloads: dict[int, Path] = {}
        self._payload_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, plan: NetworkPlan) -> None:
        """Begin probing under `plan`; a second plan replaces the first (samples are kept)."""
        known = set(self.cluster.node_names)
        unknown = [peer for peer, _ in plan.peers if peer not in known or peer == self.node]
        unknown += [
            peer for peer in (*plan.latency_only, *plan.first_skip) if peer not in dict(plan.peers)
        ]
        if unknown:
            raise ValueError(f"peers not in the cluster (or this node): {unknown}")
        largest = max([*plan.sizes, *plan.first_sizes])
        if largest > self.max_body_bytes:
            raise ValueError(f"probe size {largest} exceeds the body limit {self.max_body_bytes}")
        for task in self._tasks:
            task.cancel()  # awaited in close()
        self.plan = plan
        self.first_round_done = asyncio.Event()
        self.first_round_seconds = None
        for peer, _ in plan.peers:
            old = self.samples.get(peer, ())
            self.samples[peer] = deque(old, maxlen=plan.window)
            self._budgets[peer] = LinkBudget(plan.max_link_share, plan.burst_seconds)
            self._locks.setdefault(peer, asyncio.Lock())
        self._tasks.append(background(self._probe_loop(plan), "network probing"))
        self._tasks.append(background(self._refit_loop(plan), "network refitting"))

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- probing ---------------------------------------------------------------------------

    async def _probe_loop(self, plan: NetworkPlan) -> None:
        began = time.monotonic()
        # Size by size over all peers: consecutive probes of one link are a whole pass
        # apart, which is when its budget has refilled. Largest first: a link's first probe
        # may also pay for opening its connection, which matters least on the longest one.
        latency_only = set(plan.latency_only)
        skip = set(plan.first_skip)
        smallest = min(plan.first_sizes)
        first = [
            (peer, size)
            for size in sorted(plan.first_sizes, reverse=True)
            for _ in range(plan.first_repeats)
            for peer, _ in plan.peers
            if (size == smallest or peer not in latency_only) and peer not in skip
        ]
        await self._round(plan, first, plan.offset)
        self.first_round_seconds = time.monotonic() - began
        self.refit()
        self.first_round_done.set()
        if plan.interval <= 0:
            return
        sizes = sorted(plan.sizes)
        for k in itertools.count(1):
            # Rounds run on a fixed grid; one that overran makes the next start at once.
            await asyncio.sleep(max(0.0, began + plan.phase + k * plan.interval - time.monotonic()))
            # Neighbouring links probe different sizes, which spreads a round's bytes.
            later = [
                (peer, sizes[0] if peer in latency_only else sizes[(k + i) % len(sizes)])
                for i, (peer, _) in enumerate(plan.peers)
            ]
            await self._round(plan, later, 0.0)

    async def _refit_loop(self, plan: NetworkPlan) -> None:
        await self.first_round_done.wait()
        while True:
            await asyncio.sleep(plan.refit_interval)
            self.refit()

    async def _round(self, plan: NetworkPlan, probes: list[tuple[str, int]], offset: float) -> None:
        # Payloads are written before anything is timed: writing one would compete with
        # other agents' probes for the CPU.
        for size in sorted({size for _, size in probes}):
            await self._payload(size)
        jobs = deque(probes)
        urls = dict(plan.peers)
        touched: set[str] = set()
        next_start = time.monotonic() + offset

        async def worker() -> None:
            nonlocal next_start
            while jobs:
                peer, size = jobs.popleft()
                start = max(next_start, time.monotonic())
                next_start = start + plan.spacing + size * plan.byte_spacing
                await asyncio.sleep(start - time.monotonic())
                if peer not in touched and not self.cluster.emulate:
                    touched.add(peer)
                    await self._touch(urls[peer])
                await self._probe_and_record(peer, urls[peer], size)

        await asyncio.gather(*(worker() for _ in range(min(plan.concurrency, len(jobs) or 1))))
        self.rounds += 1

    async def _touch(self, url: str) -> None:
        """Open (or refresh) the connection to a peer before its first probe of a round.

        On a real network a new connection costs a round trip, which that probe would time
        as latency; a connection idle since the last round may have been closed. Under
        emulation the handshake crosses no emulated link and costs a millisecond of local
        CPU, less than the touch itself when a hundred agents share the machine, so then
        there is no touch.
        """
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with self.session.get(f"{url}{paths.HEALTH}") as response:
                await response.read()

    async def _probe_and_record(self, peer: str, url: str, size: int) -> None:
        budget = self._budgets[peer]
        async with self._locks[peer]:
            while (wait := budget.wait_seconds()) > 0:
                await asyncio.sleep(wait)
            seconds = await self.probe(url, peer, size)
            if seconds is None:
                self.failures += 1
                return
            window = self.samples[peer]
            # What the probe occupied the wire: its time less the link's latency, which
            # any small probe's time bounds from above. Until one is seen, all of it counts.
            latency = min((s for b, s, _ in window if b <= SMALL_PROBE_BYTES), default=0.0)
            budget.spend(max(0.0, seconds - latency))
            window.append((size, seconds, time.time()))

    async def probe(self, url: str, peer: str, size: int, emulate: bool = True) -> float | None:
        """Seconds one transfer of `size` random bytes to `peer` takes; None if it failed.

        emulate=False sends without the link emulator: what the transfer path itself costs.
        """
        path = await self._payload(size)
        link = self.cluster.link(self.node, peer) if self.cluster.emulate and emulate else None
        began = time.perf_counter()
        try:
            await send_file(
                self.session,
                f"{url}{paths.fill(paths.PROFILER_NETWORK_PROBE, sender=self.node)}",
                path,
                LinkEmulator(link, self.host_path),
                self.auth,
                # A resent probe's time measures the retry, not the link: drop it instead.
                attempts=1,
            )
        except TransferError:
            return None
        return time.perf_counter() - began

    async def measure(
        self, peer: str, sizes: list[int], repeats: int, emulate: bool = True
    ) -> list[list[float]]:
        """Probe `peer` at the given sizes without recording anything: for checking a fit
        (or, with emulate=False, for measuring the transfer path without the WAN)."""
        if self.plan is None:
            raise LookupError("no network plan yet: the home has not started profiling")
        urls = dict(self.plan.peers)
        if peer not in urls:
            raise KeyError(f"{peer!r} is not a peer of {self.node}")
        results: list[list[float]] = []
        async with self._locks[peer]:
            for size in sizes:
                for _ in range(repeats):
                    seconds = await self.probe(urls[peer], peer, size, emulate)
                    if seconds is not None:
                        results.append([size, seconds])
        return results

    async def _payload(self, size: int) -> Path:
        """A file of `size` random bytes (nothing on the way can compress them), written once."""
        async with self._payload_lock:  # a half-written payload must never be sent
            path = self._payloads.get(size)
            if path is None:
                self.scratch.mkdir(parents=True, exist_ok=True)
                path = self.scratch / f"payload-{size}"
                await asyncio.to_thread(path.write_bytes, os.urandom(size))
                self._payloads[size] = path
            return path

    async def absorb(self, request: web.Request, sender: str) -> int:
        """Receive one probe from `sender`: its digest checked as for any data, then dropped.

        Not written to disk (but the home's, see below): with a hundred agents on one
        machine, the first round is bound by CPU, and a file per probe would be a fifth of
        what a probe costs.
        """
        if sender == HOME:
            # The home times what handing an input over costs (controller/host_costs.py):
            # the path an injection takes, into a file as the store would keep it.
            landing = self.scratch / f"home-probe-{id(request)}"
            try:
                return await receive_file(request, landing, self.max_body_bytes)
            finally:
                landing.unlink(missing_ok=True)
        if sender not in self.cluster.node_names:
            raise web.HTTPNotFound(text=f"unknown node {sender!r}")
        body = SignedBody(request, self.max_body_bytes)
        digest = new_digest()
        async for piece in body.pieces():
            digest.update(piece)
        if not body.matches(digest.digest()):
            raise web.HTTPUnprocessableEntity(text=f"{DIGEST_NAME} mismatch")
        return body.size

    def observe_transfer(self, peer: str, size: int, seconds: float) -> None:
        """A task output of `size` bytes took `seconds` to reach `peer`: one more sample of
        that link, probed or not, and its fit redone at once.

        Its time may include a wait behind earlier outputs on the same link (the executor
        keeps a window of sends in flight); the per-size lower quartile of the fit keeps
        the unqueued ones."""
        if peer == self.node or peer not in self.cluster.node_names or not seconds > 0:
            return
        window = self.samples.get(peer)
        if window is None:
            window = self.samples[peer] = deque(maxlen=self.plan.window if self.plan else 60)
        at = time.time()
        window.append((size, seconds, at))
        runtime = self._runtime.setdefault(peer, set())
        runtime.add(at)
        kept = {t for _, _, t in window}
        runtime.intersection_update(kept)
        self._refit_one(peer, at)

    # -- fits ------------------------------------------------------------------------------

    def refit(self) -> None:
        now = time.time()
        for peer in list(self.samples):
            self._refit_one(peer, now)

    def _refit_one(self, peer: str, now: float) -> None:
        window = self.samples[peer]
        fit = fit_quadratic((size, seconds) for size, seconds, _ in window)
        if fit is not None:
            runtime = self._runtime.get(peer, set())
            count = sum(1 for _, _, t in window if t in runtime)
            self.fits[peer] = LinkProfile.from_fit(fit, now, count)

    def snapshot(self, include_samples: bool = True) -> dict[str, Any]:
        plan = self.plan
        state = "idle"
        if plan is not None:
            state = "probing" if self.first_round_done.is_set() else "first-round"
        body: dict[str, Any] = {
            "node": self.node,
            "state": state,
            "rounds": self.rounds,
            "failures": self.failures,
            "first_round_seconds": self.first_round_seconds,
            "plan": None if plan is None else plan.model_dump(exclude={"peers"}),
            "fits": {peer: fit.model_dump() for peer, fit in self.fits.items()},
            "link_seconds_used": {peer: b.spent for peer, b in self._budgets.items()},
        }
        if include_samples:
            body["samples"] = {
                peer: [list(sample) for sample in window] for peer, window in self.samples.items()
            }
        return body
