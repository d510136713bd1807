"""A Kubernetes API server for exactly the calls Jupiter's lightkube client makes.

aiohttp on 127.0.0.1, in its own thread and event loop, so the code under test can run in
the test's loop or in a subprocess. It speaks the real wire format: REST paths per group and
version, label selectors, Status objects for errors, watch streams of JSON lines resumable by
resourceVersion, pod logs with follow, and Bearer authentication.

What a cluster would do by itself is scripted by a `Scenario`: pods go through their phases
on a timer, the Job's pod is created by a "job controller", the home's pod writes the
scenario's log lines and then ends. Every create and delete is recorded, so a test can
assert that everything created was deleted.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

TOKEN = "fake-cluster-token"

# plural -> (group/version, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "namespaces": ("v1", "Namespace", False),
    "nodes": ("v1", "Node", False),
    "secrets": ("v1", "Secret", True),
    "configmaps": ("v1", "ConfigMap", True),
    "services": ("v1", "Service", True),
    "pods": ("v1", "Pod", True),
    "jobs": ("batch/v1", "Job", True),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True),
}

Key = tuple[str, str | None, str]  # plural, namespace, name


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- pod statuses, as a kubelet would report them ------------------------------------------


def _container(pod: dict[str, Any], state: dict[str, Any], ready: bool) -> list[dict[str, Any]]:
    (spec,) = pod["spec"]["containers"]
    return [
        {
            "name": spec["name"],
            "image": spec["image"],
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "state": state,
        }
    ]


def status(pod: dict[str, Any], state: str) -> dict[str, Any]:
    scheduled = {"type": "PodScheduled", "status": "True"}
    if state == "creating":
        waiting = {"waiting": {"reason": "ContainerCreating"}}
        return {
            "phase": "Pending",
            "conditions": [scheduled],
            "containerStatuses": _container(pod, waiting, False),
        }
    if state == "unschedulable":
        return {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }
            ],
        }
    if state == "err-image-pull":
        waiting = {
            "waiting": {
                "reason": "ErrImagePull",
                "message": "pull access denied, repository does not exist",
            }
        }
        return {
            "phase": "Pending",
            "conditions": [scheduled],
            "containerStatuses": _container(pod, waiting, False),
        }
    if state == "ready":
        running = {"running": {"startedAt": now()}}
        return {
            "phase": "Running",
            "startTime": now(),
            "conditions": [scheduled, {"type": "Ready", "status": "True"}],
            "containerStatuses": _container(pod, running, True),
        }
    if state in ("succeeded", "failed"):
        code = 0 if state == "succeeded" else 1
        ended = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}}
        return {
            "phase": "Succeeded" if code == 0 else "Failed",
            "conditions": [scheduled, {"type": "Ready", "status": "False"}],
            "containerStatuses": _container(pod, ended, False),
        }
    raise ValueError(state)


@dataclass
class Scenario:
    # Steps (delay in seconds, state) each agent pod goes through, by pod name.
    agent_steps: Callable[[str], list[tuple[float, str]]] = lambda name: [
        (0.01, "creating"),
        (0.02, "ready"),
    ]
    home_steps: list[tuple[float, str]] = field(
        default_factory=lambda: [(0.01, "creating"), (0.05, "ready")]
    )
    # Written to the home's log once it is ready, one line per millisecond.
    home_log: list[str] = field(default_factory=list)
    # After the log: the home ends with this exit code; None keeps it running until deleted.
    home_exit: int | None = 0
    # Log lines of every agent pod (shown when one fails).
    agent_log: list[str] = field(default_factory=lambda: ["agent: serving"])
    # The first follow of the home's log is cut after this many lines (a dropped stream).
    drop_follow_after: int | None = None
    # (kind, name) -> HTTP status to refuse that create with.
    refuse_create: Callable[[str, str], int | None] = lambda kind, name: None
    # (kind, name) -> HTTP status to refuse that delete with.
    refuse_delete: Callable[[str, str], int | None] = lambda kind, name: None


class FakeKube:
    def __init__(self, scenario: Scenario | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.store: dict[Key, dict[str, Any]] = {}
        self.created: list[str] = []  # "Kind/name"
        self.deleted: list[str] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.events: list[tuple[int, str, str, str | None, dict[str, Any]]] = []
        self.logs: dict[str, list[str]] = {}
        self.log_ended: set[str] = set()
        self.following = threading.Event()  # set once the home's log is being followed
        self._rv = itertools.count(1)
        self._changed: asyncio.Condition | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._dropped = False
        self.url = ""

    # -- lifetime (called from the test's thread) --------------------------------------

    def start(self) -> FakeKube:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def call(self, function: Callable[[], Any]) -> Any:
        """Runs `function` in the server's loop (for state the server also touches)."""

        async def run() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def add_node(
        self, name: str, labels: dict[str, str], ready: bool = True, cordoned: bool = False
    ) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"unschedulable": True} if cordoned else {},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
        }
        self.call(lambda: self._put("nodes", None, node))

    def add_namespace(self, name: str) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self.call(lambda: self._put("namespaces", None, namespace))

    def objects(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.call(
            lambda: [
                copy.deepcopy(o)
                for (plural, _, _), o in self.store.items()
                if kind is None or RESOURCES[plural][1] == kind
            ]
        )

    def left_over(self) -> list[str]:
        """Objects created through the API that are still there."""
        return self.call(
            lambda: sorted(
                f"{o['kind']}/{o['metadata']['name']}"
                for o in self.store.values()
                if o["metadata"].get("annotations", {}).get("fake/created-by-api") == "yes"
            )
        )

    # -- server --------------------------------------------------------------------------

    async def _start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application(middlewares=[self._auth])
        for prefix in ("/api/{version}", "/apis/{group}/{version}"):
            app.router.add_route("*", prefix + "/namespaces/{ns}/pods/{name}/log", self._log)
            app.router.add_route("*", prefix + "/namespaces/{ns}/{plural}/{name}", self._one)
            app.router.add_route("*", prefix + "/namespaces/{ns}/{plural}", self._collection)
            app.router.add_route("*", prefix + "/{plural}/{name}", self._one)
            app.router.add_route("*", prefix + "/{plural}", self._collection)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        # Streams (watches, followed logs) end when they see this, so shutdown is prompt.
        self._closing = True
        await self._notify()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        assert self._runner is not None
        await self._runner.shutdown()
        await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _status(401, "Unauthorized", "no or wrong bearer token")
        return await handler(request)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    def _put(
        self, plural: str, ns: str | None, obj: dict[str, Any], event: str = "ADDED"
    ) -> dict[str, Any]:
        rv = next(self._rv)
        obj["metadata"]["resourceVersion"] = str(rv)
        self.store[(plural, ns, obj["metadata"]["name"])] = obj
        self.events.append((rv, event, plural, ns, copy.deepcopy(obj)))
        self._spawn(self._notify())
        return obj

    def _remove(self, key: Key) -> dict[str, Any]:
        obj = self.store.pop(key)
        rv = next(self._rv)
        obj["metadata"]["resourceVersion"] = str(rv)
        self.events.append((rv, "DELETED", key[0], key[1], copy.deepcopy(obj)))
        if key[0] == "pods":
            self.log_ended.add(obj["metadata"]["name"])
        self._spawn(self._notify())
        return obj

    # -- REST ----------------------------------------------------------------------------

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        plural, ns = request.match_info["plural"], request.match_info.get("ns")
        if plural not in RESOURCES:
            return _status(404, "NotFound", f"the server could not find the resource {plural}")
        if request.method == "POST":
            return await self._create(plural, ns, await request.json())
        if request.method == "GET":
            if request.query.get("watch") == "true":
                return await self._watch(request, plural, ns)
            return self._list(request, plural, ns)
        return _status(405, "MethodNotAllowed", request.method)

    async def _one(self, request: web.Request) -> web.StreamResponse:
        plural, ns = request.match_info["plural"], request.match_info.get("ns")
        name = request.match_info["name"]
        key = (plural, ns, name)
        if plural not in RESOURCES:
            return _status(404, "NotFound", f"the server could not find the resource {plural}")
        if key not in self.store:
            return _status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return _json(self.store[key])
        if request.method == "DELETE":
            kind = RESOURCES[plural][1]
            refused = self.scenario.refuse_delete(kind, name)
            if refused:
                return _status(refused, "InternalError", f"refusing to delete {kind} {name}")
            obj = self._remove(key)
            self.deleted.append(f"{kind}/{name}")
            policy = request.query.get("propagationPolicy")
            if kind == "Job" and policy in ("Background", "Foreground"):
                uid = obj["metadata"]["uid"]
                for pod_key, pod in list(self.store.items()):
                    owners = pod["metadata"].get("ownerReferences", [])
                    if pod_key[0] == "pods" and any(o["uid"] == uid for o in owners):
                        self._remove(pod_key)
            return _json({"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return _status(405, "MethodNotAllowed", request.method)

    async def _create(self, plural: str, ns: str | None, obj: dict[str, Any]) -> web.Response:
        version, kind, namespaced = RESOURCES[plural]
        name = obj["metadata"]["name"]
        if obj.get("kind") != kind or obj.get("apiVersion") != version:
            return _status(400, "BadRequest", f"wrong kind/apiVersion for {plural}")
        if namespaced and ("namespaces", None, ns) not in self.store:
            return _status(404, "NotFound", f'namespaces "{ns}" not found')
        if obj["metadata"].get("namespace", ns) != ns:
            return _status(400, "BadRequest", "the namespace of the object does not match")
        if (plural, ns, name) in self.store:
            return _status(409, "AlreadyExists", f'{plural} "{name}" already exists')
        refused = self.scenario.refuse_create(kind, name)
        if refused:
            return _status(refused, "InternalError", f"refusing to create {kind} {name}")
        metadata = obj["metadata"]
        metadata.update(uid=str(uuid.uuid4()), creationTimestamp=now())
        metadata.setdefault("annotations", {})["fake/created-by-api"] = "yes"
        if namespaced:
            metadata["namespace"] = ns
        if kind == "Secret" and "stringData" in obj:
            data = {
                k: base64.b64encode(v.encode()).decode() for k, v in obj.pop("stringData").items()
            }
            obj["data"] = {**obj.get("data", {}), **data}
        if kind == "Pod":
            obj["status"] = {"phase": "Pending"}
        self._put(plural, ns, obj)
        self.created.append(f"{kind}/{name}")
        if kind == "Pod":
            role = metadata["labels"].get("app.kubernetes.io/component")
            if role == "agent":
                self.logs[name] = list(self.scenario.agent_log)
                self._spawn(self._kubelet(ns, name, self.scenario.agent_steps(name)))
        if kind == "Job":
            self._spawn(self._job_controller(ns, obj))
        return _json(obj, status=201)

    def _matching(self, request: web.Request, plural: str, ns: str | None) -> list[dict[str, Any]]:
        selector = _parse_selector(request.query.get("labelSelector", ""))
        return [
            obj
            for (p, n, _), obj in self.store.items()
            if p == plural and (ns is None or n == ns) and _selects(selector, obj)
        ]

    def _list(self, request: web.Request, plural: str, ns: str | None) -> web.Response:
        version, kind, _ = RESOURCES[plural]
        return _json(
            {
                "kind": f"{kind}List",
                "apiVersion": version,
                "metadata": {"resourceVersion": str(self.events[-1][0] if self.events else 0)},
                "items": self._matching(request, plural, ns),
            }
        )

    async def _watch(self, request: web.Request, plural: str, ns: str | None) -> web.StreamResponse:
        assert self._changed is not None
        selector = _parse_selector(request.query.get("labelSelector", ""))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        since = request.query.get("resourceVersion")
        if since is None:
            # No resourceVersion: the current objects as ADDED, then the changes.
            for obj in self._matching(request, plural, ns):
                await _send(response, "ADDED", obj)
            position = self.events[-1][0] if self.events else 0
        else:
            position = int(since)
        while not self._closing:
            for rv, kind, p, n, obj in [e for e in self.events if e[0] > position]:
                position = rv
                wanted = p == plural and (ns is None or n == ns) and _selects(selector, obj)
                if wanted and not await _send(response, kind, obj):
                    return response
            # wait_for checks first: a change made while we were writing is not missed.
            async with self._changed:
                await self._changed.wait_for(
                    lambda seen=position: (
                        self._closing or (bool(self.events) and self.events[-1][0] > seen)
                    )
                )
        return response

    async def _log(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if ("pods", request.match_info["ns"], name) not in self.store and name not in self.logs:
            return _status(404, "NotFound", f'pods "{name}" not found')
        lines = self.logs.get(name, [])
        if request.query.get("follow") != "true":
            tail = request.query.get("tailLines")
            shown = lines[-int(tail) :] if tail else lines
            return web.Response(text="".join(f"{line}\n" for line in shown))
        pod = self.store.get(("pods", request.match_info["ns"], name), {})
        if pod.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") == "home":
            self.following.set()
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        sent = 0
        cut = self.scenario.drop_follow_after if not self._dropped else None
        assert self._changed is not None
        while True:
            current = self.logs.get(name, [])
            while sent < len(current):
                await response.write((current[sent] + "\n").encode())
                sent += 1
                if cut is not None and sent >= cut and "home" in name:
                    self._dropped = True
                    await response.write_eof()
                    return response
            if name in self.log_ended or self._closing:
                await response.write_eof()
                return response
            async with self._changed:
                await self._changed.wait_for(
                    lambda sent=sent: (
                        len(self.logs.get(name, [])) > sent
                        or name in self.log_ended
                        or self._closing
                    )
                )

    # -- what the cluster does by itself ------------------------------------------------

    def _set_status(self, ns: str | None, name: str, state: str) -> None:
        key = ("pods", ns, name)
        if key in self.store:
            pod = self.store[key]
            pod["status"] = status(pod, state)
            self._put("pods", ns, pod, event="MODIFIED")
            if state in ("succeeded", "failed"):
                self.log_ended.add(name)

    async def _kubelet(self, ns: str | None, name: str, steps: list[tuple[float, str]]) -> None:
        for delay, state in steps:
            await asyncio.sleep(delay)
            self._set_status(ns, name, state)

    async def _job_controller(self, ns: str | None, job: dict[str, Any]) -> None:
        await asyncio.sleep(0.01)
        template = job["spec"]["template"]
        name = f"{job['metadata']['name']}-x"
        labels = {**template["metadata"]["labels"], "job-name": job["metadata"]["name"]}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "uid": str(uuid.uuid4()),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "controller": True,
                        "name": job["metadata"]["name"],
                        "uid": job["metadata"]["uid"],
                    }
                ],
            },
            "spec": copy.deepcopy(template["spec"]),
            "status": {"phase": "Pending"},
        }
        if ("jobs", ns, job["metadata"]["name"]) not in self.store:
            return
        self._put("pods", ns, pod)
        self.logs[name] = []
        await self._kubelet(ns, name, self.scenario.home_steps)
        if self.store.get(("pods", ns, name), {}).get("status", {}).get("phase") != "Running":
            return
        for line in self.scenario.home_log:
            await asyncio.sleep(0.001)
            self.logs[name].append(line)
            await self._notify()
        if self.scenario.home_exit is not None:
            self._set_status(ns, name, "succeeded" if self.scenario.home_exit == 0 else "failed")


async def _send(response: web.StreamResponse, kind: str, obj: dict[str, Any]) -> bool:
    """False once the client has gone."""
    try:
        await response.write((json.dumps({"type": kind, "object": obj}) + "\n").encode())
    except ConnectionError:
        return False
    return True


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return _json(body, code)


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    # Exactly "application/json", as the API server sends: lightkube decodes error Status
    # objects only under that content type.
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _parse_selector(text: str) -> list[tuple[str, str, str | None]]:
    terms: list[tuple[str, str, str | None]] = []
    for term in filter(None, text.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key, "!=", value))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            terms.append((key, "=", value))
        else:
            terms.append((term, "exists", None))
    return terms


def _selects(terms: list[tuple[str, str, str | None]], obj: dict[str, Any]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for key, op, value in terms:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
    return True
