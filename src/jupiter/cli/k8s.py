"""`jupiter k8s render | dockerfile | result | nodes`: the Kubernetes backend by hand.

`jupiter run --backend kubernetes` does render, deploy, collect and teardown in one go; these
commands are the same steps for users who apply manifests themselves (GitOps, review).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path

import click

from jupiter.agent.auth import new_token
from jupiter.app.spec import load_app
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.errors import RunError, SpecError
from jupiter.k8s import names
from jupiter.k8s.dockerfile import DEFAULT_BASE_IMAGE, app_dockerfile, app_dockerignore
from jupiter.k8s.logchannel import LogReader, save_outputs
from jupiter.k8s.manifest_files import write_manifests
from jupiter.k8s.render import RenderOptions, Resources, render
from jupiter.k8s.settings import RunSettings
from jupiter.mapper.registry import BUILTIN, get_mapper
from jupiter.planning.problem import build_problem
from jupiter.report.model import parse_report
from jupiter.report.report import write_report


@click.group("k8s")
def k8s_group() -> None:
    """Kubernetes: manifests, app images, results, nodes (docs/kubernetes.md)."""


@k8s_group.command("render")
@click.argument("app_path", metavar="APP", type=click.Path(path_type=Path))
@click.option(
    "--cluster",
    "cluster_file",
    required=True,
    type=click.Path(path_type=Path),
    help="cluster.yaml; each node's `host` is its Kubernetes node.",
)
@click.option("--image", required=True, help="The app image (see `jupiter k8s dockerfile`).")
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the YAML files.",
)
@click.option("--namespace", help="Default: jupiter-<run id>.")
@click.option("--run-id", help="Default: random. Lower-case letters and digits.")
@click.option(
    "--mapper", default="heft", show_default=True, help=f"Mapping algorithm: {', '.join(BUILTIN)}."
)
@click.option("--inputs", default=10, show_default=True)
@click.option("--interval", default=0.0, show_default=True)
@click.option("--max-in-flight", type=int)
@click.option("--timeout", default=600.0, show_default=True, help="Streaming timeout (s).")
@click.option(
    "--emulation/--no-emulation",
    default=False,
    show_default=True,
    help="Apply the link model on top of the real network.",
)
@click.option(
    "--agent-cpu", default=Resources.cpu_limit, show_default=True, help="CPU limit of each agent."
)
@click.option(
    "--agent-memory",
    default=Resources.memory_limit,
    show_default=True,
    help="Memory limit of each agent.",
)
@click.option(
    "--tls/--no-tls",
    default=True,
    show_default=True,
    help="Mutual TLS between the run's pods: a CA made now, each pod's key and certificate "
    "in a Secret of its own, mounted as files.",
)
@click.option(
    "--allow-egress",
    is_flag=True,
    help="Let the run's pods connect anywhere (default: only each other and DNS).",
)
def render_command(
    app_path: Path,
    cluster_file: Path,
    image: str,
    out_dir: Path,
    namespace: str | None,
    run_id: str | None,
    mapper: str,
    inputs: int,
    interval: float,
    max_in_flight: int | None,
    timeout: float,
    emulation: bool,
    agent_cpu: str,
    agent_memory: str,
    tls: bool,
    allow_egress: bool,
) -> None:
    """Write the YAML of one run of APP, for `kubectl apply -f OUT`."""
    settings = RunSettings.from_options(
        mapper=mapper,
        inputs=inputs,
        interval=interval,
        max_in_flight=max_in_flight,
        timeout=timeout,
    )
    app = load_app(app_path)
    get_mapper(mapper)
    cluster = load_cluster(cluster_file).model_copy(update={"emulate": emulation})
    build_problem(app, cluster)
    run_id = names.check_run_id(run_id or secrets.token_hex(4))
    own_namespace = namespace is None
    namespace = names.check_namespace(namespace or names.default_namespace(run_id))
    options = RenderOptions(
        image=image,
        run_id=run_id,
        token=new_token(),
        namespace=namespace,
        settings=settings,
        agent=Resources(cpu_limit=agent_cpu, memory_limit=agent_memory),
        own_namespace=own_namespace,
        allow_egress=allow_egress,
        tls=tls,
    )
    objects = render(app, cluster, options, str(cluster_file))
    paths = write_manifests(objects, out_dir)
    home = names.home_name(run_id)
    click.echo(
        f"wrote {len(objects)} objects of run {run_id} to {out_dir}/ "
        f"({', '.join(p.name for p in paths)})"
    )
    click.echo(f"  apply:    kubectl apply -f {out_dir}")
    click.echo(f"  follow:   kubectl logs -n {namespace} -f job/{home} > home.log")
    click.echo("  collect:  jupiter k8s result home.log --out jupiter-out --report jupiter-report")
    if own_namespace:
        click.echo(f"  delete:   kubectl delete -f {out_dir}")
    else:
        # Not -f: the files hold no Namespace, but a delete by label is what cannot reach
        # anything but this run's objects in a namespace that is not Jupiter's.
        click.echo(
            f"  delete:   kubectl delete all,cm,secret,netpol -n {namespace} "
            f"-l {names.RUN_LABEL}={run_id}"
        )


@k8s_group.command("dockerfile")
@click.argument("app_path", metavar="APP", type=click.Path(path_type=Path))
@click.option(
    "--base",
    default=DEFAULT_BASE_IMAGE,
    show_default=True,
    help="The Jupiter agent image to build on.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Default: APP/Dockerfile (the app folder is the build context).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def dockerfile_command(app_path: Path, base: str, output: Path | None, force: bool) -> None:
    """Write the Dockerfile of APP's image: the agent image plus the app at /app."""
    app = load_app(app_path)
    target = output or app.root / "Dockerfile"
    if target.exists() and not force:
        raise SpecError(target, None, "exists; pass --force to overwrite it")
    target.write_text(app_dockerfile(app, base))
    ignore = app.root / ".dockerignore"
    if output is None and not ignore.exists():
        ignore.write_text(app_dockerignore())
    tag = f"REGISTRY/jupiter-{app.name.lower()}:TAG"
    click.echo(f"wrote {target}")
    click.echo(f"  build:  docker build -t {tag} -f {target} {app.root}")
    click.echo(f"  push:   docker push {tag}")


@k8s_group.command("result")
@click.argument("log_file", metavar="LOG", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("jupiter-out"),
    show_default=True,
)
@click.option("--report", "report_dir", type=click.Path(path_type=Path))
def result_command(log_file: Path, out_dir: Path, report_dir: Path | None) -> None:
    """Unpack report.json and the outputs from a saved home log (`-` reads stdin)."""
    reader = LogReader()
    try:
        stream = sys.stdin if str(log_file) == "-" else log_file.open(encoding="utf-8")
    except OSError as error:
        raise SpecError(log_file, None, f"cannot read: {error.strerror or error}") from None
    with stream:
        for line in stream:
            reader.feed(line)
            if reader.result is not None:
                break
    if reader.error is not None:
        raise RunError(f"the run failed in the cluster: {reader.error}")
    if reader.result is None:
        raise SpecError(log_file, None, "no complete result in this log (has the home finished?)")
    report = parse_report(save_outputs(reader.result, out_dir), log_file)
    if reader.result.omitted:
        click.echo(f"warning: {reader.result.omitted}", err=True)
    click.echo(f"outputs: {out_dir}")
    if report_dir is not None:
        click.echo(f"report: {write_report(report, report_dir)}")
    else:
        click.echo(json.dumps(report.makespan.model_dump()))


@k8s_group.command("nodes")
@click.option("--kubeconfig", type=click.Path(path_type=Path))
def nodes_command(kubeconfig: Path | None) -> None:
    """Show the nodes a run without --cluster would use (labelled jupiter.io/node=true)."""
    from jupiter.k8s.client import connect
    from jupiter.k8s.discover import discover_cluster

    async def discover() -> tuple[Cluster, list[str]]:
        client = connect(kubeconfig)
        try:
            return await discover_cluster(client)
        finally:
            await client.close()

    cluster, notes = asyncio.run(discover())
    for node in cluster.nodes:
        click.echo(f"{node.name}\thost={node.host}\tregion={node.region}\tspeed={node.speed}")
    for note in notes:
        click.echo(f"# {note}")
