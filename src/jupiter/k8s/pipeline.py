"""`jupiter run --backend kubernetes`: the run's steps on the user's machine.

1. load + validate  app, mapper, image; the cluster from --cluster or the labelled nodes;
                    every `host` must be a node of the cluster   -> SpecError, nothing made
2. render           render.py: the objects, labelled with a fresh run id
3. deploy           deploy.py: create, wait for readiness (bars), follow the home's log
4. collect          the result from the log: report.json and the outputs, saved locally
5. teardown         delete everything labelled with the run id, also on error and Ctrl-C
6. report           the home's report plus deploy/teardown seconds per role
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupiter.agent.auth import new_token
from jupiter.app.spec import load_app
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.errors import SpecError
from jupiter.k8s import names
from jupiter.k8s.client import ApiFailure, api_errors, connect, resource
from jupiter.k8s.deploy import ClusterRun, Timings
from jupiter.k8s.discover import discover_cluster
from jupiter.k8s.logchannel import save_outputs
from jupiter.k8s.render import RenderOptions, check_image, render
from jupiter.k8s.settings import RunSettings
from jupiter.mapper.registry import get_mapper
from jupiter.planning.problem import build_problem
from jupiter.progress import NoProgress, Progress
from jupiter.report.model import (
    KubernetesSection,
    PodRole,
    Report,
    Roles,
    SharedObjects,
    parse_report,
)

ROLES_NOTE = (
    "The paper's roles (profiler, execution profiler, mapper, dispatcher/executor) share one "
    "agent image and one pod per node here, so deployment and teardown are timed per pod "
    "role: 'agent' (all agent pods, until the last is ready / gone) and 'home' (the Job's "
    "pod); 'shared' is the namespace, Secret, ConfigMap and NetworkPolicy."
)


@dataclass
class KubernetesRun:
    app: Path
    image: str
    out_dir: Path
    settings: RunSettings = field(default_factory=RunSettings)
    cluster_file: Path | None = None
    kubeconfig: Path | None = None
    namespace: str | None = None
    # The link emulator is for clusters that are not really dispersed; off unless asked for.
    emulate: bool = False
    # Mutual TLS between the run's pods (render.py); on unless turned off.
    tls: bool = True


async def run_on_kubernetes(
    spec: KubernetesRun,
    progress: Progress | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> Report:
    """Runs the app on the cluster; returns its report (outputs saved locally)."""
    progress = progress or NoProgress()
    app = load_app(spec.app)
    get_mapper(spec.settings.mapper)
    check_image(spec.image)
    if spec.namespace is not None:
        names.check_namespace(spec.namespace)
    local_cluster = load_cluster(spec.cluster_file) if spec.cluster_file is not None else None
    client = connect(spec.kubeconfig)
    try:
        if local_cluster is None:
            cluster, notes = await discover_cluster(client)
            for note in notes:
                warn(note)
            source = "Kubernetes nodes"
        else:
            cluster, source = local_cluster, str(spec.cluster_file)
            await _check_hosts(client, cluster, source)
        cluster = cluster.model_copy(update={"emulate": spec.emulate})
        build_problem(app, cluster)
        run_id = secrets.token_hex(4)
        namespace = spec.namespace or names.default_namespace(run_id)
        options = RenderOptions(
            image=spec.image,
            run_id=run_id,
            token=new_token(),
            namespace=namespace,
            settings=spec.settings,
            own_namespace=spec.namespace is None,
            tls=spec.tls,
        )
        objects = render(app, cluster, options, source)
        deployment = ClusterRun(client, objects, namespace, run_id, progress, warn)
        async with deployment:
            await deployment.create()
            await deployment.wait_ready(spec.settings.register_timeout)
            result = await deployment.follow_home(
                _follow_timeout(spec.settings), _home_progress(progress)
            )
    finally:
        await client.close()
    if result.omitted:
        warn(result.omitted)
    report = parse_report(save_outputs(result, spec.out_dir), "the home's report")
    return with_kubernetes_timings(report, deployment.timings, namespace, spec.image, len(objects))


def with_kubernetes_timings(
    report: Report, timings: Timings, namespace: str, image: str, objects: int
) -> Report:
    """The home's report, with deploy and teardown as the client measured them."""
    home_phases = dict(report.phases)
    phases = {
        **home_phases,
        "deploy": timings.deploy.get("total", 0.0),
        "teardown": timings.teardown.get("total", 0.0),
    }
    roles = Roles(
        agent=PodRole(
            pods=len(report.nodes),
            deploy=timings.deploy.get(names.AGENT, 0.0),
            teardown=timings.teardown.get(names.AGENT, 0.0),
        ),
        home=PodRole(
            pods=1,
            deploy=timings.deploy.get(names.HOME, 0.0),
            teardown=timings.teardown.get(names.HOME, 0.0),
        ),
        shared=SharedObjects(
            deploy=timings.deploy.get("shared", 0.0),
            teardown=timings.teardown.get("shared", 0.0),
        ),
    )
    kubernetes = KubernetesSection(
        namespace=namespace,
        image=image,
        objects=objects,
        roles=roles,
        home_phases=home_phases,
        note=ROLES_NOTE,
    )
    return report.model_copy(
        update={"backend": "kubernetes", "phases": phases, "kubernetes": kubernetes}
    )


def _follow_timeout(settings: RunSettings) -> float:
    # The home enforces the run's own timeouts; this only bounds waiting on agents that
    # never fail and a home that never speaks.
    return settings.register_timeout + settings.timeout + settings.inputs * settings.interval + 600


def _home_progress(progress: Progress) -> Callable[[dict[str, Any]], None]:
    labels = {"deploy": "agents registered with the home", "stream": "streaming inputs"}

    def on_event(event: dict[str, Any]) -> None:
        if "phase" in event:
            progress.phase(labels.get(event["phase"], event["phase"]), int(event["total"]))
        elif "done" in event:
            progress.advance(int(event["done"]))

    return on_event


async def _check_hosts(client: Any, cluster: Cluster, source: str) -> None:
    """Every `host` names a node of the cluster; skipped if the user may not list nodes."""
    try:
        with api_errors("listing the cluster's nodes"):
            known = {obj.metadata.name async for obj in client.list(resource("Node"))}
    except ApiFailure as error:
        if error.code == 403:
            return
        raise
    for i, node in enumerate(cluster.nodes):
        if node.host is not None and node.host not in known:
            raise SpecError(
                source,
                f"nodes[{i}].host",
                f"the cluster has no node named {node.host!r} (kubectl get nodes)",
            )
