"""`jupiter experiment table1`: the paper's Table 1 on the emulated cluster (experiment/)."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar
from rich.table import Table

from jupiter.cli.bars import PhaseBars
from jupiter.errors import RunError, SpecError
from jupiter.experiment.machine import describe_machine, jupiter_version
from jupiter.experiment.table1 import QUICK, Table1Row, Table1Run, Table1Settings, check_settings
from jupiter.experiment.table1_files import (
    CSV_NAME,
    MD_NAME,
    MODULES,
    Provenance,
    seconds,
    write_csv,
    write_markdown,
)
from jupiter.experiment.table1_plot import PNG_NAME, plotting_available, write_plot
from jupiter.logs import DEFAULT_LEVEL, configure

# What an earlier experiment leaves in --out, and what --force replaces.
RESULTS = (CSV_NAME, MD_NAME, PNG_NAME, "runs", "apps")


@click.group("experiment")
def experiment_group() -> None:
    """Reproduce the paper's experiments on the emulated cluster."""


@experiment_group.command("table1")
@click.option(
    "--tasks",
    metavar="M,M,...",
    help=f"Numbers of tasks of the dummy apps.  [default: "
    f"{','.join(map(str, Table1Settings().tasks))}; --quick: {','.join(map(str, QUICK.tasks))}]",
)
@click.option(
    "--nodes",
    metavar="N",
    help=f"Emulated nodes.  [default: {Table1Settings().nodes}; --quick: {QUICK.nodes}]",
)
@click.option(
    "--inputs",
    metavar="K",
    help=f"Inputs streamed per run.  [default: {Table1Settings().inputs}; --quick: {QUICK.inputs}]",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("table1"),
    show_default=True,
    help="Folder for table1.csv, table1.md, table1.png, runs/M<M>/ (reports) and apps/.",
)
@click.option("--quick", is_flag=True, help="Small M and N (a minute or less), for tests and CI.")
@click.option("--force", is_flag=True, help="Replace an earlier experiment's results in --out.")
@click.option("--quiet", is_flag=True, help="No progress bars and no summary table.")
def table1_command(
    tasks: str | None,
    nodes: str | None,
    inputs: str | None,
    out_dir: Path,
    quick: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Time each module of Jupiter (profiler deploy, network and execution profiles,
    mapping, executor deploy, makespan, teardown) for dummy apps of M tasks, as the paper's
    Table 1 does on 106 nodes."""
    base = QUICK if quick else Table1Settings()
    settings = Table1Settings(
        tasks=base.tasks if tasks is None else parse_tasks(tasks),
        nodes=base.nodes if nodes is None else parse_count("--nodes", nodes),
        inputs=base.inputs if inputs is None else parse_count("--inputs", inputs),
    )
    check_settings(settings)
    claim(out_dir, force)
    configure(DEFAULT_LEVEL)
    provenance = Provenance(
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=describe_machine(),
        version=jupiter_version(),
        command=command_line(settings),
    )
    plotting = plotting_available()
    title = (
        f"Jupiter, Table 1 reproduced: {settings.nodes} emulated nodes, {settings.inputs} "
        f"inputs ({provenance.date})"
    )

    def write(rows: list[Table1Row]) -> None:
        write_csv(rows, out_dir)
        write_markdown(rows, provenance, out_dir)
        if plotting:
            write_plot(rows, out_dir, title)

    with experiment_bars(settings, quiet) as bars:
        experiment = Table1Run(settings, out_dir, on_rows=write, phases=bars, runs=bars)
        rows = experiment.execute()
    if not quiet:
        Console().print(summary_table(rows))
    # Paths whole, never wrapped: people copy them.
    click.echo(f"wrote {out_dir / CSV_NAME}, {out_dir / MD_NAME}; reports in {out_dir / 'runs'}")
    if plotting:
        click.echo(f"wrote {out_dir / PNG_NAME}")
    else:
        click.echo(
            f"no {PNG_NAME}: matplotlib is not installed "
            "(from a checkout: pip install -e '.[plot]')"
        )
    failed = [row for row in rows if row.status != "completed"]
    if failed:
        raise RunError(
            "; ".join(f"M={row.tasks}: {row.error or row.status}" for row in failed)
            + f" (see {out_dir / MD_NAME})"
        )


def parse_tasks(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    return tuple(parse_count("--tasks", part) for part in parts)


def parse_count(option: str, text: str) -> int:
    """A whole number >= 1, else one line naming the option."""
    try:
        value = int(text)
    except ValueError:
        raise SpecError(None, option, f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise SpecError(None, option, f"must be at least 1, got {value}")
    return value


def claim(out: Path, force: bool) -> None:
    """--out is empty or new; with --force, an earlier experiment's results are removed (and
    nothing else: a folder that holds other files is never emptied by mistake)."""
    if out.exists() and not out.is_dir():
        raise SpecError(out, None, "not a folder")
    present = [name for name in RESULTS if (out / name).exists()]
    others = [p.name for p in out.iterdir() if p.name not in RESULTS] if out.is_dir() else []
    if others:
        raise SpecError(out, None, f"holds other files ({others[0]}, ...); choose an empty --out")
    if present and not force:
        raise SpecError(out, None, "holds an earlier experiment's results; pass --force")
    for name in present:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def command_line(settings: Table1Settings) -> str:
    return (
        f"jupiter experiment table1 --tasks {','.join(map(str, settings.tasks))} "
        f"--nodes {settings.nodes} --inputs {settings.inputs}"
    )


# The terminal's table: the md's columns under short headings, to fit 80 columns.
SHORT_HEADINGS = {
    "profiler_deploy_s": "deploy",
    "network_profile_s": "network",
    "execution_profile_s": "exec",
    "mapping_s": "map",
    "executor_deploy_s": "dispatch",
    "makespan_s": "makespan",
    "stream_s": "stream",
    "teardown_s": "teardown",
    "whole_run_s": "total",
}


def summary_table(rows: list[Table1Row]) -> Table:
    table = Table(
        title="Table 1, seconds (table1.md says what each column is)",
        box=None,
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("M", justify="right")
    for name, _ in MODULES:
        table.add_column(SHORT_HEADINGS[name], justify="right")
    for row in rows:
        table.add_row(
            str(row.tasks),
            *(seconds(getattr(row, name)) for name, _ in MODULES),
            style=None if row.status == "completed" else "red",
        )
    return table


class ExperimentBars(PhaseBars):
    """One bar for the whole experiment (in tasks, so that its ETA weighs each run by its M)
    above the current run's phase bar."""

    def __init__(self, bar: RichBar, total: int) -> None:
        super().__init__(bar)
        self.overall = bar.add_task("table 1", total=total, start=False)

    def run_begins(self, tasks: int, index: int, count: int) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        self.bar.start_task(self.overall)
        self.bar.update(self.overall, description=f"table 1: M={tasks} ({index + 1}/{count})")

    def run_ends(self, done_weight: int) -> None:
        self.bar.update(self.overall, completed=done_weight)


@contextmanager
def experiment_bars(settings: Table1Settings, quiet: bool) -> Iterator[ExperimentBars]:
    console = Console(stderr=True)
    console.quiet = quiet or not console.is_terminal
    bar = RichBar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    bars = ExperimentBars(bar, sum(settings.tasks))
    try:
        yield bars
    finally:
        bars.stop()
