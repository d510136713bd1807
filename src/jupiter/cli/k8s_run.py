"""The Kubernetes backend, beside local.py: the same agent, home and mapper code, run as pods.

`jupiter run APP --backend kubernetes --image IMG` lands here; the work is done by the
`jupiter.k8s` package (manifests, deploy and teardown with lightkube, node discovery), which
needs the optional extra `jupiter-dispersed[k8s]`. See docs/kubernetes.md.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from jupiter.cli.bars import phase_bars
from jupiter.errors import SpecError
from jupiter.report.html import write_html_report
from jupiter.report.report import print_summary, write_report


@dataclass
class CliRun:
    """`jupiter run` options as given, for the kubernetes backend."""

    app: Path
    image: str | None
    kubeconfig: Path | None
    namespace: str | None
    nodes: int | None
    cluster_file: Path | None
    # None: not given, so off on a real cluster.
    emulation: bool | None
    mapper: str
    inputs: int
    out_dir: Path
    report_dir: Path | None
    interval: float
    max_in_flight: int | None
    timeout: float
    quiet: bool
    profiling: bool = True
    profile_file: Path | None = None
    # --tls/--no-tls (None: not given, so on).
    tls: bool | None = None


def run_from_cli(options: CliRun) -> None:
    from jupiter.k8s.client import lightkube
    from jupiter.k8s.pipeline import KubernetesRun, run_on_kubernetes
    from jupiter.k8s.settings import RunSettings

    if options.image is None:
        raise SpecError(None, "--image", "required with --backend kubernetes: the app image to run")
    if options.nodes is not None:
        raise SpecError(
            None,
            "--nodes",
            "not with --backend kubernetes: the nodes come from --cluster FILE or from the "
            "cluster's nodes labelled jupiter.io/node=true",
        )
    if options.profile_file is not None:
        raise SpecError(
            None,
            "--profile",
            "not with --backend kubernetes: a run there profiles the cluster itself "
            "(or maps from the declared estimates with --no-profile)",
        )
    settings = RunSettings.from_options(
        profiling=options.profiling,
        mapper=options.mapper,
        inputs=options.inputs,
        interval=options.interval,
        max_in_flight=options.max_in_flight,
        timeout=options.timeout,
    )
    lightkube()  # before anything else: without the extra, say so at once
    run = KubernetesRun(
        app=options.app,
        image=options.image,
        out_dir=options.out_dir,
        settings=settings,
        cluster_file=options.cluster_file,
        kubeconfig=options.kubeconfig,
        namespace=options.namespace,
        emulate=bool(options.emulation),
        tls=options.tls is not False,
    )
    console = Console(stderr=True, quiet=options.quiet)
    with phase_bars(options.quiet) as bars:
        report = asyncio.run(
            run_on_kubernetes(run, bars, lambda message: console.print(f"warning: {message}"))
        )
    out = Console(quiet=options.quiet)
    print_summary(report, out, options.report_dir)
    assert report.kubernetes is not None  # run_on_kubernetes always adds it
    roles = report.kubernetes.roles.model_dump()
    out.print(
        "kubernetes: "
        + "  ".join(
            f"{role} deploy {roles[role]['deploy']:.2f}s teardown {roles[role]['teardown']:.2f}s"
            for role in ("agent", "home", "shared")
        )
    )
    out.print(f"outputs: {options.out_dir}")
    if options.report_dir is not None:
        write_report(report, options.report_dir)
        html = write_html_report(report, options.report_dir)
        out.print(f"report: {html} (and report.json)")
