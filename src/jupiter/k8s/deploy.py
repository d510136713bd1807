"""One run's life in the cluster: create its objects, wait until its pods serve, follow the
home to its result, and delete everything on the way out, whatever the way out is.

    async with ClusterRun(client, objects, namespace, run_id, progress) as deployment:
        await deployment.create()
        await deployment.wait_ready(timeout)
        result = await deployment.follow_home(timeout)
    deployment.timings   # deploy and teardown seconds per role

Teardown runs in its own task, shielded: a Ctrl-C has already cancelled the run's task, and
a timeout inside a cancelled task would turn into another cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from jupiter.errors import RunError
from jupiter.k8s import names, pods
from jupiter.k8s.client import ApiFailure, api_errors, to_resource
from jupiter.k8s.logchannel import LogReader, Result
from jupiter.k8s.teardown import TeardownResult, teardown
from jupiter.k8s.tracker import PodFailed, PodTracker
from jupiter.progress import NoProgress, Progress

PARALLEL_CREATES = 16
LOG_TAIL_LINES = 20
# A followed log may drop (API server restart, idle proxy); it is re-read this many times.
FOLLOW_ATTEMPTS = 5
REFOLLOW_DELAY_S = 1.0


@dataclass
class Timings:
    # Seconds per role (agent, home, shared) and in total.
    deploy: dict[str, float] = field(default_factory=dict)
    teardown: dict[str, float] = field(default_factory=dict)


class ClusterRun:
    def __init__(
        self,
        client: Any,
        objects: list[dict[str, Any]],
        namespace: str,
        run_id: str,
        progress: Progress | None = None,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.client = client
        self.objects = objects
        self.namespace = namespace
        self.run_id = run_id
        self.progress = progress or NoProgress()
        self.warn = warn
        self.created: list[str] = []
        self.own_namespace = False
        self.timings = Timings()
        self.teardown_result: TeardownResult | None = None
        self._tracker: PodTracker | None = None
        self._touched = False
        self._done = 0
        self._began = 0.0
        self._role_began: dict[str, float] = {}

    # -- lifetime ----------------------------------------------------------------------

    async def __aenter__(self) -> ClusterRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tracker is not None:
            await self._tracker.__aexit__(None, None, None)
        if self._touched:
            await asyncio.shield(asyncio.ensure_future(self._teardown()))

    async def _teardown(self) -> None:
        self.progress.phase("deleting the run's objects", 1)
        result = await teardown(self.client, self.namespace, self.run_id, self.own_namespace)
        self.progress.advance(1)
        self.teardown_result = result
        self.timings.teardown = dict(result.seconds)
        if result.failures:
            finish = (
                f"kubectl delete all,cm,secret,netpol -n {self.namespace} "
                f"-l {names.RUN_LABEL}={self.run_id}"
            )
            if self.own_namespace:
                finish += f" && kubectl delete namespace {self.namespace}"
            self.warn(
                f"teardown incomplete: {'; '.join(result.failures[:3])} -- finish with: {finish}"
            )

    # -- deploy ------------------------------------------------------------------------

    async def create(self) -> None:
        self._began = time.perf_counter()
        # A run in a namespace of the user's renders no Namespace object.
        namespace = self.objects[0] if self.objects[0]["kind"] == "Namespace" else None
        rest = self.objects[1:] if namespace is not None else list(self.objects)
        shared = [o for o in rest if o["kind"] in ("Secret", "ConfigMap", "NetworkPolicy")]
        agents = [o for o in rest if _role(o) == names.AGENT]
        home = [o for o in rest if _role(o) == names.HOME]
        assert len(shared) + len(agents) + len(home) == len(rest)
        self.progress.phase("creating objects", len(self.objects))
        # From here on something of the run may exist, so the way out deletes it (a create
        # that is interrupted may still have been carried out).
        self._touched = True
        if namespace is not None:
            await self._create_namespace(namespace)
        for manifest in shared:
            await self._create(manifest)
        self.timings.deploy["shared"] = time.perf_counter() - self._began
        self._tracker = await PodTracker(self.client, self.namespace, self.run_id).__aenter__()
        self._role_began[names.AGENT] = time.perf_counter()
        limit = asyncio.Semaphore(PARALLEL_CREATES)

        async def one(manifest: dict[str, Any]) -> None:
            async with limit:
                await self._create(manifest)

        # Every create has finished, one way or the other, before an error goes on to the
        # teardown: one still in flight could land after its kind was listed for deletion.
        outcomes = await asyncio.gather(*(one(m) for m in agents), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        self._role_began[names.HOME] = time.perf_counter()
        for manifest in home:
            await self._create(manifest)

    async def _create_namespace(self, manifest: dict[str, Any]) -> None:
        try:
            await self._create(manifest)
            self.own_namespace = True
        except ApiFailure as error:
            # An existing namespace is used as it is, and left in place afterwards.
            if error.code == 409:
                self._advance()
                return
            self._touched = False  # refused: nothing of the run exists
            if error.code == 403:
                raise RunError(f"{error}; pass --namespace with one you may use") from None
            raise

    async def _create(self, manifest: dict[str, Any]) -> None:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        obj = to_resource(manifest)
        with api_errors(f"creating {kind} {name}"):
            await self.client.create(obj)
        self.created.append(f"{kind}/{name}")
        self._advance()

    def _advance(self) -> None:
        self._done += 1
        self.progress.advance(self._done)

    # -- wait --------------------------------------------------------------------------

    async def wait_ready(self, timeout: float) -> None:
        """Until every pod is ready (or the home has already ended: its log will say why)."""
        tracker = self._require_tracker()
        expected = sum(1 for o in self.objects if o["kind"] == "Pod")
        self.progress.phase("agent pods ready", expected)

        def deployed() -> bool:
            agents = tracker.of_role(names.AGENT)
            ready = [pod for pod in agents if pods.is_ready(pod)]
            self.progress.advance(len(ready))
            home = tracker.of_role(names.HOME)
            if any(pods.has_ended(pod) for pod in home):
                return True  # its log says why; follow_home reads it
            return len(ready) == expected and any(pods.is_ready(pod) for pod in home)

        await self._with_log_tail(tracker.until(deployed, timeout, "the run's pods to start"))
        self.timings.deploy[names.AGENT] = (
            _last(tracker.ready_at, tracker.of_role(names.AGENT)) - self._role_began[names.AGENT]
        )
        home_marks = {**tracker.started_at, **tracker.ready_at}
        self.timings.deploy[names.HOME] = (
            _last(home_marks, tracker.of_role(names.HOME)) - self._role_began[names.HOME]
        )
        self.timings.deploy["total"] = time.perf_counter() - self._began

    # -- follow ------------------------------------------------------------------------

    async def follow_home(
        self, timeout: float, on_progress: Callable[[dict[str, Any]], None] = lambda e: None
    ) -> Result:
        """Streams the home's log until its result (or its error) has arrived."""
        tracker = self._require_tracker()
        home = tracker.of_role(names.HOME)
        if not home:
            raise RunError("the home's pod disappeared")
        name = pods.name(home[0])
        reader = LogReader(on_progress)
        for _ in range(FOLLOW_ATTEMPTS):
            reader = LogReader(on_progress)
            follow = asyncio.ensure_future(self._follow(name, reader))
            # Agents failing stops the wait at once; the home's own end shows in its log.
            guard = asyncio.ensure_future(
                tracker.until(lambda: False, timeout, "the run to finish", frozenset({names.AGENT}))
            )
            try:
                done, _ = await asyncio.wait({follow, guard}, return_when=asyncio.FIRST_COMPLETED)
                if guard in done:
                    await self._with_log_tail(guard)
                await follow
            finally:
                for task in (follow, guard):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, RunError):
                        await task
            if reader.result is not None or reader.error is not None:
                break
            current = tracker.pods.get(name)
            if current is None or pods.has_ended(current):
                break
            await asyncio.sleep(REFOLLOW_DELAY_S)  # the stream dropped; the home runs on
        if reader.error is not None:
            raise RunError(f"the run failed in the cluster: {reader.error}")
        if reader.result is None:
            tail = "\n".join(reader.tail[-LOG_TAIL_LINES:])
            raise RunError(
                "the home ended without a result" + (f"; its log ends:\n{tail}" if tail else "")
            )
        return reader.result

    async def _follow(self, pod: str, reader: LogReader) -> None:
        with api_errors(f"reading the log of {pod}"):
            async for line in self.client.log(pod, namespace=self.namespace, follow=True):
                reader.feed(line)
                if reader.result is not None or reader.error is not None:
                    return

    # -- helpers -----------------------------------------------------------------------

    def _require_tracker(self) -> PodTracker:
        if self._tracker is None:
            raise RunError("create() must come first")
        return self._tracker

    async def _with_log_tail(self, waiting: Any) -> None:
        try:
            await waiting
        except PodFailed as failed:
            raise RunError(f"{failed}{await self._log_tail(failed.pod)}") from None

    async def _log_tail(self, pod: str) -> str:
        lines: list[str] = []
        with contextlib.suppress(RunError), api_errors(f"reading the log of {pod}"):
            async for line in self.client.log(
                pod, namespace=self.namespace, tail_lines=LOG_TAIL_LINES
            ):
                lines.append(line.rstrip("\n"))
        return ("; its log ends:\n" + "\n".join(lines)) if lines else ""


def _role(manifest: dict[str, Any]) -> str | None:
    return (manifest["metadata"].get("labels") or {}).get(names.ROLE_LABEL)


def _last(marks: dict[str, float], role_pods: list[pods.Pod]) -> float:
    times = [marks[pods.name(pod)] for pod in role_pods if pods.name(pod) in marks]
    return max(times) if times else time.perf_counter()
