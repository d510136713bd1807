"""table1.csv and table1.md: the rows of a Table 1 experiment, and the page that explains them
beside the published figures (experiment/reference.py)."""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from jupiter.experiment.machine import Machine
from jupiter.experiment.reference import REFERENCES, Reference
from jupiter.experiment.table1 import CCR, MAPPER, MAX_WIDTH, MIN_WIDTH, TIME_SCALE, Table1Row

CSV_NAME = "table1.csv"
MD_NAME = "table1.md"

# Every field of a row, in order: the CSV's header.
CSV_COLUMNS = tuple(f.name for f in dataclasses.fields(Table1Row))

# The timed modules, in the paper's order: (row field, heading in the md).
MODULES: tuple[tuple[str, str], ...] = (
    ("profiler_deploy_s", "profiler deploy"),
    ("network_profile_s", "first network profile"),
    ("execution_profile_s", "execution profile"),
    ("mapping_s", "mapping"),
    ("executor_deploy_s", "executor deploy"),
    ("makespan_s", "makespan (mean per input)"),
    ("stream_s", "stream (all inputs)"),
    ("teardown_s", "teardown"),
    ("whole_run_s", "whole run"),
)
HEADINGS = dict(MODULES) | {"profile_s": "profile (whole phase)"}
MD_COLUMNS = (
    "M",
    "depth",
    "nodes",
    "inputs",
    *(heading for _, heading in MODULES),
    "agents lost",
    "host load",
    "status",
)

WHAT_EACH_IS = """\
What each column is (all seconds, wall clock, from the run's own report.json):

- **profiler deploy**: `phases.deploy`, from starting the home until every node's agent has
  registered. One agent per node holds every role (network and execution profilers, executor),
  so the paper's profiler and executor containers are deployed together here.
- **first network profile**: `profile.timings.network`, the profiler's first fit of every
  link (latency and bandwidth) from the home's request to the last agent's answer.
- **execution profile**: `profile.timings.execution`, every task timed on the nodes.
- **mapping**: `phases.map`, the mapper (HEFT) on the profiled problem.
- **executor deploy**: `phases.dispatch`, the mapping and addresses pushed to every agent
  (the executor role is already running in them).
- **makespan (mean per input)**: `makespan.mean`, from an input's injection to its last exit
  output; **stream (all inputs)**: `phases.stream`, the whole stream of K inputs.
- **teardown**: `phases.teardown`, every agent stopped and its work dir removed.
- **whole run**: the sum of the run's phases (deploy, profile, map, dispatch, stream,
  teardown); `profile` also holds the resource probe and is in the CSV as `profile_s`.
- **agents lost**: agents the home lost while streaming and re-mapped around (on an
  overloaded host, agents whose heartbeats were starved); the stream's figures include the
  recovery. **host load**: the host's 1-minute load average when the run ended.
"""


@dataclass(frozen=True)
class Provenance:
    """Where and when the figures were measured, and by what command."""

    date: str
    machine: Machine
    version: str
    command: str


def write_csv(rows: list[Table1Row], out: Path) -> Path:
    path = out / CSV_NAME
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(_csv_cell(getattr(row, name)) for name in CSV_COLUMNS)
    return path


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def ours_table(rows: list[Table1Row]) -> list[str]:
    lines = [
        "| " + " | ".join(MD_COLUMNS) + " |",
        "|" + "|".join("---:" for _ in MD_COLUMNS[:-1]) + "|---|",
    ]
    for row in rows:
        cells = [str(row.tasks), str(row.depth), str(row.nodes), str(row.inputs)]
        cells += [seconds(getattr(row, name)) for name, _ in MODULES]
        cells += [str(row.agents_lost), "–" if row.host_load is None else f"{row.host_load:.1f}"]
        cells.append(row.status if row.error is None else f"{row.status}: {row.error}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def reference_section(reference: Reference, rows: list[Table1Row]) -> list[str]:
    lines = [f"### Beside {reference.label}", "", f"Source: {reference.source}.", ""]
    if not reference.figures:
        lines += [
            f"Not shown: no figures of {reference.label} are recorded in "
            "`src/jupiter/experiment/reference.py`. No copy of the paper's text was reachable "
            "from the machine this was written on, and no figure is printed without its "
            "source; add them there (seconds, per M) and they appear here beside ours.",
            "",
        ]
        return lines
    ours = {row.tasks: row for row in rows if comparable(reference, row)}
    if not ours:
        setups = sorted({(row.nodes, row.inputs) for row in rows})
        lines += [
            "Not compared: its figures are for "
            + setup_text(reference.nodes, reference.inputs)
            + "; these runs used "
            + ", ".join(setup_text(n, k) for n, k in setups)
            + ".",
            "",
        ]
        return lines
    lines += [
        "| M | module | ours (s) | " + reference.label + " (s) | ours / theirs |",
        "|---:|---|---:|---:|---:|",
    ]
    for tasks in sorted(reference.figures):
        row = ours.get(tasks)
        for name, theirs in reference.figures[tasks].items():
            mine = getattr(row, name) if row is not None else None
            ratio = f"{mine / theirs:.2f}" if mine is not None and theirs else "–"
            lines.append(
                f"| {tasks} | {HEADINGS[name]} | {seconds(mine)} | {seconds(theirs)} | {ratio} |"
            )
    missing = sorted(set(reference.figures) - set(ours))
    if missing:
        lines += ["", f"M = {', '.join(map(str, missing))}: not measured in this experiment."]
    lines.append("")
    return lines


def comparable(reference: Reference, row: Table1Row) -> bool:
    return reference.nodes in (None, row.nodes) and reference.inputs in (None, row.inputs)


def setup_text(nodes: int | None, inputs: int | None) -> str:
    return (
        f"{nodes if nodes is not None else 'an unstated number of'} nodes, "
        f"{inputs if inputs is not None else 'an unstated number of'} inputs"
    )


def markdown(rows: list[Table1Row], provenance: Provenance) -> str:
    first = rows[0] if rows else None
    setup = (
        f"{first.nodes} emulated nodes (`Cluster.default({first.nodes})`), {first.inputs} inputs"
        if first is not None
        else "no runs"
    )
    lines = [
        "# Table 1, reproduced: the time of each module of Jupiter",
        "",
        "The paper's Table 1 (Ghosh, Nguyen, Krishnamachari, \"Container Orchestration for "
        "Dispersed Computing\", WOC '19) times each module of Jupiter for dummy apps of M "
        "tasks on 106 nodes. Here: dummy apps from `jupiter generate-app` with the paper's "
        f"parameters (M/10 levels of {MIN_WIDTH} to {MAX_WIDTH} tasks, at least 2 levels; "
        f"CCR {CCR}; time scale {TIME_SCALE} CPU seconds per cost unit; seed 0), each run "
        f"end to end in-process on {setup}, mapper {MAPPER}, every other setting at its "
        "default.",
        "",
        f"- date: {provenance.date}",
        f"- machine: {provenance.machine.line()}",
        f"- Jupiter: {provenance.version}",
        f"- command: `{provenance.command}`",
        "",
        "## Our figures (seconds)",
        "",
        *ours_table(rows),
        "",
        WHAT_EACH_IS,
        "## Beside published figures",
        "",
    ]
    for reference in REFERENCES:
        lines += reference_section(reference, rows)
    lines += [
        "Each run's report (report.json, report.html, task logs) is in `runs/M<M>/`; the "
        "generated apps are in `apps/M<M>/`.",
        "",
    ]
    return "\n".join(lines)


def write_markdown(rows: list[Table1Row], provenance: Provenance, out: Path) -> Path:
    path = out / MD_NAME
    path.write_text(markdown(rows, provenance))
    return path
