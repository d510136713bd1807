"""report.json (the contract in model.py) and the summary table printed after a run."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jupiter.controller.run import RunResult
from jupiter.controller.wave_home import WaveOutcome
from jupiter.profiler.summary import execution_comparison
from jupiter.report.dilation import in_emulated_time
from jupiter.report.emulation import emulation_line, emulation_section
from jupiter.report.execution_profile import execution_profile_line, execution_profile_section
from jupiter.report.model import (
    REPORT_VERSION,
    ConditionRecord,
    Duplicate,
    EpochRecord,
    ExecutionSection,
    ExecutorStartRecord,
    FailedInputRecord,
    InputRecord,
    MakespanSummary,
    MovedTask,
    NodeEntry,
    PlannedRun,
    RecoverySection,
    Report,
    TaskExecution,
    TaskStats,
    Throughput,
    WaveMessagesSection,
    WaveSection,
)
from jupiter.report.prediction import stream_section
from jupiter.report.summary import (
    comparison_lines,
    mapping_lines,
    result_lines,
    say,
    width_of,
    wrapped,
)


def build_report(result: RunResult, mapper: str) -> Report:
    emulation = emulation_section(result)
    # Under time dilation every figure below is converted back to emulated time, here.
    result = in_emulated_time(result)
    makespans = result.makespans
    values = list(makespans.values())
    schedule = result.schedule
    assignments = schedule.assignments.values() if schedule is not None else []
    # Profiled seconds per (task, node) beside the durations the executors measured.
    execution = execution_comparison(result.app.tasks, result.profile, result.stats)
    nodes_by_input: dict[int, list[str]] = {}
    for record in result.stats:
        nodes = nodes_by_input.setdefault(record["input_id"], [])
        if record["node"] not in nodes:
            nodes.append(record["node"])
    for nodes in nodes_by_input.values():
        nodes.sort()
    return Report(
        version=REPORT_VERSION,
        status=result.status,
        error=result.error,
        run_id=result.run_id,
        app=result.app.name,
        mapper=mapper,
        nodes=[
            NodeEntry(name=n.name, region=n.region, speed=n.speed) for n in result.cluster.nodes
        ],
        emulated=result.cluster.emulate,
        emulation=emulation,
        sources=list(result.app.sources),
        mapping=schedule.mapping if schedule is not None else {},
        dag={
            **{source: [] for source in result.app.sources},
            **{task: result.app.upstream(task) for task in result.app.tasks},
        },
        predicted_makespan=schedule.makespan if schedule is not None else None,
        predicted_schedule=[
            PlannedRun(task=a.task, node=a.node, start=a.start, finish=a.finish)
            for a in sorted(assignments, key=lambda a: (a.start, a.task))
        ],
        figure_sources=result.figure_sources,
        execution={task: TaskExecution.model_validate(row) for task, row in execution.items()},
        profile=result.profile,
        execution_profile=execution_profile_section(result.profile, result.figures),
        inputs=[
            InputRecord(
                id=k,
                injected_at=result.injected_at[k],
                completed_at=result.completed_at[k],
                makespan=makespans[k],
                outputs=result.outputs[k],
                nodes=nodes_by_input.get(k, []),
            )
            for k in makespans
        ],
        failed_inputs=[
            FailedInputRecord(
                id=f.input_id,
                task=f.task,
                node=f.node,
                message=f.message,
                failed_at=f.failed_at,
                outputs=result.outputs.get(f.input_id, {}),
            )
            for f in result.failed
        ],
        makespan=MakespanSummary(
            mean=statistics.fmean(values),
            median=statistics.median(values),
            min=min(values),
            max=max(values),
        )
        if values
        else None,
        recovery=RecoverySection(
            epochs=[
                EpochRecord(
                    epoch=c.epoch,
                    at=c.at,
                    decided_at=c.decided_at,
                    reason=c.reason,
                    lost=c.lost,
                    detection_s=c.detection_s,
                    remap_s=c.remap_s,
                    moved={
                        t: MovedTask.model_validate({"from": a, "to": b})
                        for t, (a, b) in c.moved.items()
                    },
                    in_flight=c.in_flight,
                    reinjected=c.reinjected,
                    trigger=c.trigger,
                    predicted_gain=c.predicted_gain,
                    first_input=c.first_input,
                    **_effect(result, i),
                )
                for i, c in enumerate(result.recovery)
            ],
            replayed_inputs=sorted({k for c in result.recovery for k in c.in_flight}),
        ),
        conditions=[
            ConditionRecord(
                at=c.at,
                stream_s=c.stream_s,
                change=c.change.describe(),
                kind=c.change.kind,
                node=c.change.node,
                to=c.change.to,
                factor=c.change.value,
                source=c.source,
            )
            for c in result.conditions
        ]
        or None,
        wave=wave_section(result.wave),
        executors=ExecutionSection(
            model=result.execution_model,
            started=[
                ExecutorStartRecord(node=s.node, at=s.at, epoch=s.epoch)
                for s in result.executors_started
            ],
        )
        if result.stream_done
        else None,
        throughput=throughput(result.injected_at, result.completed_at),
        stream_prediction=stream_section(
            result, throughput(result.injected_at, result.completed_at).per_second
        ),
        phases=result.phases,
        duplicates=[Duplicate(input_id=k, task=t) for k, t in result.duplicates],
        # The executors' records came as JSON from /circe/stats: checked against the contract.
        stats=[TaskStats.model_validate(record) for record in result.stats],
    )


def wave_section(outcome: WaveOutcome | None) -> WaveSection | None:
    if outcome is None:
        return None
    m = outcome.messages
    return WaveSection(
        decisions=len(outcome.decisions),
        by_agents=sum(d.decider is not None for d in outcome.decisions),
        seconds=outcome.seconds,
        same_as_in_process=outcome.same_as_in_process,
        messages=WaveMessagesSection(
            start=m.start,
            appointments=m.appointments,
            local_appointments=m.local_appointments,
            turns=m.turns,
            announcements=m.announcements,
            total=m.total,
        ),
    )


def _effect(result: RunResult, index: int) -> dict[str, float | None]:
    """The measured effect of the `index`-th mapping change: mean makespans of the inputs
    of the epoch before it and of its own (each epoch's inputs run from its first input up
    to the next epoch's)."""
    firsts = [0] + [c.first_input or 0 for c in result.recovery] + [len(result.injected_at)]
    spans = result.makespans
    # Epoch index+1 is change `index`; its inputs: [firsts[index+1], firsts[index+2]).
    before = [m for k, m in spans.items() if firsts[index] <= k < firsts[index + 1]]
    after = [m for k, m in spans.items() if firsts[index + 1] <= k < firsts[index + 2]]
    return {
        "makespan_before": statistics.fmean(before) if before else None,
        "makespan_after": statistics.fmean(after) if after else None,
    }


def throughput(injected_at: dict[int, float], completed_at: dict[int, float]) -> Throughput:
    """How fast the stream went through, as opposed to how long one input took.

    With many inputs in flight, an input's makespan includes its wait behind the others;
    what a streaming user sizes a deployment by is the rate: inputs completed over the time
    from the first injection to the last completion, and the typical gap between two
    completions (the steady-state period, which the busiest node sets).
    """
    done = sorted(completed_at.values())
    span = done[-1] - min(injected_at[k] for k in completed_at) if done else 0.0
    gaps = [b - a for a, b in itertools.pairwise(done)]
    return Throughput(
        inputs=len(done),
        seconds=span,
        per_second=len(done) / span if span > 0 else None,
        median_completion_gap=statistics.median(gaps) if gaps else None,
    )


def write_report(report: Report, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(report.to_json())
    return path


# Lines of a failure message the summary shows: its end, where the cause is.
SUMMARY_TAIL_LINES = 3


# Inputs the summary table lists one by one; past it, the first and last few.
SUMMARY_INPUTS = 12
SUMMARY_ENDS = 5


def print_summary(report: Report, console: Console, report_dir: Path | None = None) -> None:
    """What a run did, in lines that fit 80 columns: the inputs' makespans, the phases, the
    mapping, measured against predicted and why (pointing into `report_dir`'s report.html),
    and what the app computed."""
    width = width_of(console)
    title = f"{report.app}: {len(report.inputs)} inputs, mapper {report.mapper}"
    if report.status != "completed":
        title += f" ({report.status})"
    say(console, wrapped("", title, width))
    table = Table()
    table.add_column("input", justify="right")
    table.add_column("makespan (s)", justify="right")
    entries = report.inputs
    if len(entries) > SUMMARY_INPUTS:
        hidden = len(entries) - 2 * SUMMARY_ENDS
        entries = [*entries[:SUMMARY_ENDS], None, *entries[-SUMMARY_ENDS:]]
    for entry in entries:
        if entry is None:
            table.add_row("...", f"{hidden} more")
        else:
            table.add_row(str(entry.id), f"{entry.makespan:.3f}")
    table.add_section()
    if report.makespan is not None:
        table.add_row("mean", f"{report.makespan.mean:.3f}")
    if report.predicted_makespan is not None:
        table.add_row("predicted", f"{report.predicted_makespan:.3f}")
    if report.throughput.per_second is not None:
        table.add_section()
        table.add_row("throughput", f"{report.throughput.per_second:.2f}/s")
    console.print(table)
    phases = "  ".join(f"{name} {seconds:.2f}s" for name, seconds in report.phases.items())
    say(console, wrapped("phases: ", phases, width))
    line = emulation_line(report.emulation)
    if line is not None:
        say(console, wrapped("", line, width))
    line = execution_profile_line(report.execution_profile)
    if line is not None:
        say(console, wrapped("", line, width))
    print_failures(report, console)
    print_recovery(report, console)
    if report.conditions:
        applied = "; ".join(
            f"{'before the stream' if c.stream_s is None else f'{c.stream_s:.1f} s'} {c.change}"
            for c in report.conditions
        )
        say(console, wrapped("conditions: ", applied, width))
    if report.wave is not None:
        say(console, wrapped("wave: ", wave_line(report.wave), width))
    say(console, mapping_lines(report, width))
    say(console, comparison_lines(report, report_dir, width))
    say(console, result_lines(report, width))


def wave_line(section: WaveSection) -> str:
    m = section.messages
    same = "same as in process" if section.same_as_in_process else "DIFFERS from in process"
    return (
        f"on the agents: {section.decisions} appointments ({section.by_agents} by agents) "
        f"in {section.seconds:.2f} s, {m.total} messages ({m.start} start, {m.turns} turns, "
        f"{m.announcements} announcements, {m.appointments} appointments; "
        f"{m.local_appointments} kept local); {same}"
    )


def print_recovery(report: Report, console: Console) -> None:
    """Each re-mapping in one line: what was lost, how fast, what moved and what replayed."""
    for epoch in report.recovery.epochs:
        if epoch.trigger != "recovery":
            gain = epoch.predicted_gain or 0.0
            text = (
                f"epoch {epoch.epoch}: moved {len(epoch.moved)} tasks, predicted "
                f"{gain:.0%} less makespan; {epoch.reason}"
            )
            say(console, wrapped(f"controller ({epoch.trigger}): ", text, width_of(console)))
            continue
        text = (
            f"epoch {epoch.epoch}: {epoch.reason}; detected in "
            f"{epoch.detection_s:.2f} s, re-mapped in {epoch.remap_s * 1000:.0f} ms; moved "
            f"{len(epoch.moved)} tasks; {len(epoch.in_flight)} inputs in flight replayed"
        )
        say(console, wrapped("recovery: ", text, width_of(console)))


def print_failures(report: Report, console: Console) -> None:
    """The failed inputs, each with task, node and the tail of its message."""
    if report.failed_inputs:
        console.print(f"failed inputs: {len(report.failed_inputs)}", markup=False)
    for failed in report.failed_inputs:
        tail = failed.message.strip().splitlines()[-SUMMARY_TAIL_LINES:]
        console.print(f"  input {failed.id}: task {failed.task} on {failed.node}", markup=False)
        for line in tail:
            say(console, wrapped("    ", line, width_of(console)))
