"""report.json's `execution_profile`: every (task, node) figure, and where it came from."""

from __future__ import annotations

from jupiter.profiler.classes import members
from jupiter.profiler.model import Profile
from jupiter.profiler.refine import RuntimeFigures, from_profile
from jupiter.report.model import ExecutionFigure, ExecutionProfileSection


def execution_profile_section(
    profile: Profile | None, figures: RuntimeFigures | None
) -> ExecutionProfileSection | None:
    """The section from the profile and the run's refined figures (None: no execution
    profile)."""
    if profile is None or not profile.compute:
        return None
    learned = figures is not None and any(figures.samples.values())
    figures = figures if figures is not None else from_profile(profile)
    if figures is None:
        return None
    settings = profile.settings.get("execution", {})
    return ExecutionProfileSection(
        nodes=settings.get("nodes"),
        classes=members(profile.classes),
        timed=settings.get("timed", {}),
        runs=settings.get("runs"),
        alpha=figures.alpha if learned else None,
        counts=dict(figures.counts()),
        figures={
            task: {
                node: ExecutionFigure(
                    seconds=seconds,
                    source=figures.sources[task][node],
                    profiled=figures.profiled[task][node],
                    profiled_source=profile.source_of(task, node),
                    samples=figures.samples.get(task, {}).get(node, 0),
                )
                for node, seconds in row.items()
            }
            for task, row in figures.seconds.items()
        },
    )


def execution_profile_line(section: ExecutionProfileSection | None) -> str | None:
    """One line for the summary: how the execution profile was taken and what the run
    learned (None: no execution profile)."""
    if section is None:
        return None
    timed = sum(len(nodes) for nodes in section.timed.values())
    nodes = sum(len(members) for members in section.classes.values())
    counts = ", ".join(f"{count} {source}" for source, count in sorted(section.counts.items()))
    classes = len(section.classes)
    taken = (
        f"{section.nodes}, {timed} of {nodes} nodes timed "
        f"({classes} {'class' if classes == 1 else 'classes'})"
        if section.nodes is not None
        else "every node"
    )
    runs = f", {section.runs} runs" if section.runs is not None else ""
    return f"execution profile: {taken}{runs}; figures: {counts}"
