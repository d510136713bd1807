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
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBar

from jupiter.controller.run import Progress
from jupiter.errors import SpecError
from jupiter.report.html import write_html_report
from jupiter.report.report import print_summary, write_report


class _Bars(Progress):
    """One bar per phase; the display starts with the first phase, so that an error in the
    input (found before anything is deployed) prints as its one line and nothing else."""

    def __init__(self, bar: RichBar) -> None:
        self.bar = bar
        self.task: object | None = None
        self.started = False

    def phase(self, name: str, total: int) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        if self.task is not None:
            self.bar.update(self.task, visible=False)  # type: ignore[arg-type]
        self.task = self.bar.add_task(name, total=total)

    def stop(self) -> None:
        if self.started:
            self.bar.stop()

    def advance(self, done: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=done)  # type: ignore[arg-type]


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
    )
    console = Console(stderr=True, quiet=options.quiet)
    bar = RichBar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    bars = _Bars(bar)
    try:
        report = asyncio.run(
            run_on_kubernetes(run, bars, lambda message: console.print(f"warning: {message}"))
        )
    finally:
        bars.stop()
    out = Console(quiet=options.quiet)
    print_summary(report, out)
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
