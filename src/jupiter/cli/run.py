"""`jupiter run` and `jupiter demo`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import click
from rich.console import Console

from jupiter.backends.hosts import HostsBackend, node_addresses
from jupiter.backends.local import LocalBackend
from jupiter.cli.bars import phase_bars
from jupiter.cli.config import (
    ChosenSettings,
    ConfiguredCommand,
    apply_file_settings,
    current_settings,
)
from jupiter.cli.outdir import DEMO, claim_out_dir, claimed_out_dir
from jupiter.cli.tokens import read_token_file
from jupiter.cluster.spec import Cluster, load_cluster
from jupiter.controller.deliveries import OnError
from jupiter.controller.run import RunOptions, RunResult, partial_result, run
from jupiter.controller.run_file import DEFAULT_RUN_FILE
from jupiter.errors import RunError, SpecError
from jupiter.k8s.settings import RunSettings
from jupiter.logs import DEFAULT_LEVEL, LEVELS, configure
from jupiter.mapper.registry import BUILTIN
from jupiter.planning.settings import ControllerMode, ExecutionModel
from jupiter.profiler.cache import CacheMode
from jupiter.profiler.home import ProfileSettings
from jupiter.profiler.model import Profile
from jupiter.profiler.sizes import parse_sizes
from jupiter.progress import Progress
from jupiter.report.html import write_html_report
from jupiter.report.report import build_report, print_summary, write_report
from jupiter.report.tasklogs import TASK_LOGS_DIR, write_task_logs

DEMO_APP = "anomaly-detection"
FORCE_OPTION = click.option(
    "--force", is_flag=True, help="Clear --out first if it holds outputs of an earlier run."
)
DEMO_NODES = 8
MAPPER_HELP = (
    f"Mapping algorithm: {', '.join(BUILTIN)}, or a plugin's name (the jupiter.mappers "
    "entry point; docs/mappers.md)."
)


MAX_EMULATED_NODES = 1024


def check_stream_options(
    inputs: int, interval: float, max_in_flight: int | None, timeout: float
) -> None:
    """The checks `jupiter k8s render` makes, for every backend: one line naming the flag."""
    RunSettings.from_options(
        inputs=inputs, interval=interval, max_in_flight=max_in_flight, timeout=timeout
    )


def cluster_from_options(nodes: int | None, cluster_file: Path | None, emulate: bool) -> Cluster:
    if nodes is not None and cluster_file is not None:
        raise SpecError(None, "--nodes/--cluster", "give one of them, not both")
    if cluster_file is not None:
        cluster = load_cluster(cluster_file)
    else:
        if nodes is not None and nodes < 1:
            raise SpecError(None, "--nodes", "must be at least 1")
        if nodes is not None and nodes > MAX_EMULATED_NODES:
            raise SpecError(
                None,
                "--nodes",
                f"at most {MAX_EMULATED_NODES} emulated nodes on one machine, not {nodes}: "
                "each is a process, and the scheduling problem grows with their square",
            )
        cluster = Cluster.default(nodes or DEMO_NODES)
    if not emulate:
        cluster = cluster.model_copy(update={"emulate": False})
    return cluster


def execute(
    options: RunOptions, report_dir: Path | None, quiet: bool, log_level: str = DEFAULT_LEVEL
) -> None:
    configure(log_level)
    options.log_level = log_level
    if report_dir is not None:
        options.logs_dir = report_dir / "logs"
    # A run that fails or is interrupted still leaves what it observed on its exception.
    partial: list[RunResult] = []

    async def running(bars: Progress) -> RunResult:
        try:
            return await run(options, bars)
        except BaseException as error:
            partial.extend(filter(None, [partial_result(error)]))
            raise

    try:
        with phase_bars(quiet) as bars:
            result = asyncio.run(running(bars))
    except BaseException:
        if options.logs_dir is not None and any(options.logs_dir.glob("*.log")):
            click.echo(f"agent logs: {options.logs_dir}", err=True)
        if partial:
            report_run(partial[0], options, report_dir, quiet)
        raise  # the one-line error comes last
    report_run(result, options, report_dir, quiet)
    if result.status != "completed":
        # --on-error skip: every input was tried, some failed; CI must see it.
        raise RunError(result.error or "the run did not complete")


def report_run(
    result: RunResult, options: RunOptions, report_dir: Path | None, quiet: bool
) -> None:
    """The summary, and with --report the report (of a completed run or of what a failed one
    got to)."""
    report = build_report(result, options.mapper)
    out = Console(quiet=quiet)
    print_summary(report, out, report_dir)
    out.print(f"outputs: {result.out_dir}")
    if report_dir is not None:
        write_report(report, report_dir)
        # Before the page, which links them.
        write_task_logs(result.task_logs, report_dir)
        out.print(f"report: {write_html_report(report, report_dir)} (and report.json)")
        out.print(f"task logs: {report_dir / TASK_LOGS_DIR} (jupiter logs {report_dir} TASK)")


def run_options(function: click.decorators.FC) -> click.decorators.FC:
    decorators = [
        click.option(
            "--nodes",
            type=int,
            help=f"Emulate N nodes over the 8 default regions (default: {DEMO_NODES}, unless "
            "--cluster is given).",
        ),
        click.option(
            "--cluster", "cluster_file", type=click.Path(path_type=Path), help="cluster.yaml"
        ),
        click.option("--mapper", default="heft", show_default=True, help=MAPPER_HELP),
        click.option("--inputs", default=10, show_default=True, help="Inputs to stream."),
        click.option(
            "--out",
            "out_dir",
            type=click.Path(path_type=Path),
            default=Path("jupiter-out"),
            show_default=True,
            help="Exit-task outputs land in OUT/<input id>/.",
        ),
        FORCE_OPTION,
        click.option(
            "--report",
            "report_dir",
            type=click.Path(path_type=Path),
            help="Write report.json, report.html and the task logs into this folder "
            "(default: none; the summary is printed either way).",
        ),
        click.option(
            "--interval",
            default=0.0,
            show_default=True,
            help="Seconds between injected inputs (0: as fast as --max-in-flight allows).",
        ),
        click.option(
            "--max-in-flight",
            type=int,
            help="Inputs in the DAG at once (default: no limit).",
        ),
        click.option("--timeout", default=600.0, show_default=True, help="Streaming timeout (s)."),
        click.option(
            "--task-timeout",
            type=float,
            help="Seconds one run of a task may take; replaces app.yaml's `defaults: timeout` "
            "(a task's own `timeout:` still wins).",
        ),
        click.option(
            "--retries",
            type=int,
            help="Retries of a failed task run (0.5 s, 1 s, 2 s... apart); replaces app.yaml's "
            "`defaults: retries` (a task's own `retries:` still wins).",
        ),
        click.option(
            "--on-error",
            type=click.Choice(["stop", "skip"]),
            default="stop",
            show_default=True,
            help="stop: the first failed task fails the run; skip: it fails that input only, "
            "the others go on (exit status 1 if any input failed).",
        ),
        click.option(
            "--profile-timeout",
            type=float,
            help="Seconds profiling may take in all (default: 120, plus 2 a node, plus "
            "0.25 a task on each node).",
        ),
        click.option("--emulation/--no-emulation", default=True, help="Apply the link model."),
        click.option("--quiet", is_flag=True, help="Print nothing but errors."),
        click.option(
            "--log-level",
            type=click.Choice(LEVELS),
            default=DEFAULT_LEVEL,
            show_default=True,
            help="Log level of the home and the agents (agent logs go to --report DIR/logs/ "
            "when a run fails).",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.command("run", cls=ConfiguredCommand)
@click.argument("app", type=click.Path(path_type=Path))
@run_options
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Settings file (default: ./jupiter.yaml, else APP/jupiter.yaml, if present); "
    "flags given here override it (docs/configuration.md).",
)
@click.option("--no-config", is_flag=True, help="Read no jupiter.yaml, only flags and defaults.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check everything, map, print the mapping, the predictions and the settings with "
    "where each came from; start nothing, write nothing.",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "hosts", "kubernetes"]),
    default="local",
    show_default=True,
    help="local: agents on this machine; hosts: agents started by hand with `jupiter agent` "
    "at the addresses in --cluster; kubernetes: pods on a cluster (docs/kubernetes.md).",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    help="hosts: the file holding the token the agents were started with.",
)
@click.option(
    "--home-address",
    help="hosts: the address agents reach this machine at (default: the one routed to them).",
)
@click.option("--image", help="kubernetes: the app image (see `jupiter k8s dockerfile`).")
@click.option("--kubeconfig", type=click.Path(path_type=Path), help="kubernetes: kubeconfig.")
@click.option("--namespace", help="kubernetes: namespace (default: a new one per run).")
@click.option(
    "--profile",
    "profile_file",
    type=click.Path(path_type=Path),
    metavar="fresh|cached|FILE",
    help="fresh: profile now; cached: reuse this app's cached profile of this cluster, "
    "whatever its age; FILE: a saved profile (`jupiter profile --save`). Default: the cached "
    "one if at most 24 h old, else fresh (docs/profiling.md).",
)
@click.option(
    "--no-profile", is_flag=True, help="Map from the app's declared estimates, not a profile."
)
@click.option(
    "--sizes",
    help="Probe sizes, e.g. 4K,64K (default: spanning the app's own transfers).",
)
@click.option(
    "--tls/--no-tls",
    default=None,
    help="Mutual TLS between the home and the agents, with a CA made for the run (the token "
    "stays as a second factor). Default: on for hosts and kubernetes, off for local.",
)
@click.option(
    "--recovery/--no-recovery",
    default=True,
    show_default=True,
    help="Re-map around an agent lost while streaming (dead, hung or stopped), replaying what "
    "it held; --no-recovery: a lost agent fails the run.",
)
@click.option(
    "--controller",
    type=click.Choice(["none", "lazy", "active"]),
    default="none",
    show_default=True,
    help="The task controller: lazy re-maps when makespans drift above the prediction; "
    "active re-maps periodically from refreshed figures (docs/configuration.md).",
)
@click.option(
    "--execution-model",
    type=click.Choice(["all", "mapped"]),
    default="all",
    show_default=True,
    help="all: an executor on every node; mapped: executors only on the nodes the mapping "
    "uses, started after mapping and stopped after the stream.",
)
@click.option(
    "--time-dilation",
    "time_dilation",
    default="1",
    metavar="auto|K",
    help="Run the emulated clock K (>= 1) times slower than this machine's, so that the "
    "emulated nodes' CPU fits its cores; auto: K from the mapping's CPU demand. Every "
    "figure is reported in emulated time (docs/emulation.md).",
)
@click.option(
    "--control",
    "control_file",
    type=click.Path(path_type=Path),
    default=DEFAULT_RUN_FILE,
    show_default=True,
    help="While running, write the home's URL and token here (mode 600) for `jupiter "
    "emulate`; removed at the end.",
)
def run_command(
    app: Path,
    nodes: int | None,
    cluster_file: Path | None,
    mapper: str,
    inputs: int,
    out_dir: Path,
    report_dir: Path | None,
    interval: float,
    max_in_flight: int | None,
    timeout: float,
    task_timeout: float | None,
    retries: int | None,
    on_error: OnError,
    profile_timeout: float | None,
    emulation: bool,
    quiet: bool,
    log_level: str,
    force: bool,
    backend: str,
    image: str | None,
    kubeconfig: Path | None,
    namespace: str | None,
    profile_file: Path | None,
    no_profile: bool,
    sizes: str | None,
    token_file: Path | None,
    home_address: str | None,
    tls: bool | None,
    recovery: bool,
    controller: ControllerMode,
    execution_model: ExecutionModel,
    time_dilation: str,
    control_file: Path,
    config_file: Path | None,
    no_config: bool,
    dry_run: bool,
) -> None:
    """Map APP's tasks onto the nodes and stream its inputs through them."""
    settings = current_settings()
    profile_cache, profile_file = profile_choice(profile_file)
    chosen_sizes = None if sizes is None else parse_sizes(sizes, "--sizes")
    check_stream_options(inputs, interval, max_in_flight, timeout)
    dilation = parse_time_dilation(time_dilation)
    if dilation != 1.0 and not emulation:
        raise SpecError(None, "--time-dilation", "needs emulation: not with --no-emulation")
    if backend == "kubernetes":
        from jupiter.cli.k8s_run import CliRun, run_from_cli

        not_on_k8s = {
            "--task-timeout": task_timeout is not None,
            "--retries": retries is not None,
            "--on-error": on_error != "stop",
            "--profile-timeout": profile_timeout is not None,
            "--time-dilation": dilation != 1.0,
            "--sizes": sizes is not None,
            "--profile cached": profile_cache == "cached",
            "--controller": controller != "none",
            "--execution-model": execution_model != "all",
        }
        for flag, given_flag in not_on_k8s.items():
            if given_flag:
                _refuse_from_file(settings, flag)
                # The home's Job does not take these yet; app.yaml's timeout/retries do apply.
                raise SpecError(None, flag, "not available with --backend kubernetes yet")
        # The home's Job takes only the flags above; the file's other settings would be lost.
        settings.refuse_file_only("not available with --backend kubernetes yet")
        if dry_run:
            show_dry_run(
                RunOptions(
                    app=app,
                    cluster=cluster_from_options(nodes, cluster_file, emulation),
                    backend=LocalBackend(),
                    profiling=not no_profile,
                    profile=None if profile_file is None else Profile.load(profile_file),
                    profile_source=None if profile_file is None else str(profile_file),
                    mapper=mapper,
                    inputs=inputs,
                    interval=interval,
                    max_in_flight=max_in_flight,
                ),
                settings,
            )
            return
        # Emulation given on the command line or in jupiter.yaml overrides cluster.yaml's.
        given = settings.source("emulation.enabled") != "default"
        # Kept even if the pipeline then refuses its input: a mark alone counts as empty.
        claim_out_dir(out_dir, force=force, app=app, command="run")
        run_from_cli(
            CliRun(
                app=app,
                image=image,
                kubeconfig=kubeconfig,
                namespace=namespace,
                nodes=nodes,
                cluster_file=cluster_file,
                emulation=emulation if given else None,
                mapper=mapper,
                inputs=inputs,
                out_dir=out_dir,
                report_dir=report_dir,
                interval=interval,
                max_in_flight=max_in_flight,
                timeout=timeout,
                quiet=quiet,
                profiling=not no_profile,
                profile_file=profile_file,
                tls=tls,
            )
        )
        return
    only = {
        "--image": (image, "kubernetes"),
        "--kubeconfig": (kubeconfig, "kubernetes"),
        "--namespace": (namespace, "kubernetes"),
        "--token-file": (token_file, "hosts"),
        "--home-address": (home_address, "hosts"),
    }
    for flag, (value, needs) in only.items():
        if value is not None and backend != needs:
            raise SpecError(None, flag, f"only with --backend {needs}")
    token = None
    if backend == "hosts":
        if cluster_file is None:
            raise SpecError(
                None, "--cluster", "required with --backend hosts: the agents' addresses"
            )
        if token_file is None:
            raise SpecError(None, "--token-file", "required with --backend hosts")
        token = read_token_file(token_file)
        node_addresses(load_cluster(cluster_file), str(cluster_file))
    if profile_file is not None and no_profile:
        raise SpecError(None, "--profile/--no-profile", "give one of them, not both")
    if profile_timeout is not None and profile_timeout <= 0:
        raise SpecError(None, "--profile-timeout", f"must be > 0, got {profile_timeout:g}")
    options = RunOptions(
        app=app,
        cluster=cluster_from_options(nodes, cluster_file, emulation),
        backend=HostsBackend(home_address) if backend == "hosts" else LocalBackend(),
        token=token,
        profiling=not no_profile,
        profile=None if profile_file is None else Profile.load(profile_file),
        profile_source=None if profile_file is None else str(profile_file),
        mapper=mapper,
        inputs=inputs,
        out_dir=out_dir,
        interval=interval,
        max_in_flight=max_in_flight,
        timeout=timeout,
        task_timeout=task_timeout,
        retries=retries,
        on_error=on_error,
        recovery=recovery,
        tls=(backend == "hosts") if tls is None else tls,
        profile_settings=ProfileSettings(timeout=profile_timeout),
        profile_cache=profile_cache,
        time_dilation=dilation,
        control_file=control_file,
    )
    options = apply_file_settings(options, settings)
    if chosen_sizes is not None:  # the flag wins over jupiter.yaml's profiler.sizes
        options.profile_settings.sizes = chosen_sizes
    if dry_run:
        show_dry_run(options, settings)  # before --out is claimed: a dry run writes nothing
        return
    with claimed_out_dir(out_dir, force=force, app=app, command="run"):
        execute(options, report_dir, quiet, log_level)


# The flags whose value may come from jupiter.yaml: refused there, the file's field is named.
_FILE_FIELDS = {"--controller": "controller.mode", "--execution-model": "execution_model"}


def _refuse_from_file(settings: ChosenSettings, flag: str) -> None:
    name = _FILE_FIELDS.get(flag)
    if name is not None and settings.source(name) not in ("default", "flag"):
        raise SpecError(settings.path, name, "not available with --backend kubernetes yet")


def show_dry_run(options: RunOptions, settings: ChosenSettings) -> None:
    from jupiter.cli.dry_run import dry_run

    dry_run(options, settings)


def profile_choice(given: Path | None) -> tuple[CacheMode, Path | None]:
    """`--profile fresh|cached|FILE`: (how to use the profile cache, the saved profile)."""
    if given is None:
        return "auto", None
    if str(given) in ("fresh", "cached"):  # a file of that name: ./fresh
        return ("fresh" if str(given) == "fresh" else "cached"), None
    return "off", given


def parse_time_dilation(text: str) -> float | Literal["auto"]:
    """`--time-dilation`: "auto" or a number K >= 1."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        factor = float(text)
    except ValueError:
        message = f"expected auto or a number >= 1, got {text!r}"
        raise SpecError(None, "--time-dilation", message) from None
    if not 1.0 <= factor < float("inf"):
        raise SpecError(None, "--time-dilation", f"must be >= 1 (or auto), got {text!r}")
    return factor


@click.command("demo")
@click.option("--inputs", default=10, show_default=True)
@click.option(
    "--report", "report_dir", type=click.Path(path_type=Path), default=Path("jupiter-report")
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("jupiter-out"))
@FORCE_OPTION
def demo_command(inputs: int, report_dir: Path, out_dir: Path, force: bool) -> None:
    """Run the bundled anomaly-detection app on 8 emulated nodes."""
    options = RunOptions(
        app=example_path(DEMO_APP),
        cluster=Cluster.default(DEMO_NODES),
        backend=LocalBackend(),
        inputs=inputs,
        out_dir=out_dir,
        # Two inputs in flight: pipelined, yet each input's makespan stays readable.
        max_in_flight=2,
    )
    with claimed_out_dir(out_dir, force=force, app=options.app, command=DEMO):
        execute(options, report_dir, quiet=False)


def example_path(name: str) -> Path:
    """Bundled examples: inside the installed package, or beside src/ in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "examples" / name, package.parents[1] / "examples" / name):
        if candidate.is_dir():
            return candidate
    raise SpecError(None, "example", f"bundled example {name!r} not found")
