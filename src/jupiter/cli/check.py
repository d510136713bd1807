"""`jupiter check APP`: validate an app folder without running any of it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from jupiter.app.spec import App, load_app


@click.command("check")
@click.argument("app_path", metavar="APP", type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the validated app as JSON (what agents receive)."
)
def check_command(app_path: Path, as_json: bool) -> None:
    """Validate the app in folder APP: app.yaml, task code and sample inputs.

    Task code is parsed, never executed. Problems are reported as one line naming the file
    and field, with exit status 2.
    """
    app = load_app(app_path)
    if as_json:
        click.echo(json.dumps(app.to_dict(), indent=2))
        return
    click.echo(_summary(app, app_path))


def _summary(app: App, given: Path) -> str:
    kinds = [task.kind for task in app.tasks.values()]
    counts = ", ".join(
        f"{kinds.count(kind)} {kind}" for kind in ("python", "command") if kind in kinds
    )
    lines = [
        f"ok: {app.name} ({given})",
        f"  tasks:   {len(app.tasks)} ({counts}), in order: {' '.join(app.topological_order())}",
    ]
    for source in app.sources.values():
        samples = len(app.sample_inputs(source.name))
        pin = f" at node {source.node}" if source.node else ""
        lines.append(
            f"  source:  {source.name}{pin}: {samples} sample input(s) -> {', '.join(source.feeds)}"
        )
    lines.append(f"  exits:   {', '.join(app.exits)}")
    missing = [task.name for task in app.tasks.values() if not task.has_estimate]
    if missing:
        lines.append(f"  estimates missing for: {', '.join(missing)} (a run will profile them)")
    else:
        lines.append("  estimates: every task (a run may skip execution profiling)")
    pins = [f"{task.name}@{task.node}" for task in app.tasks.values() if task.node]
    if pins:
        lines.append(f"  pinned:  {', '.join(pins)}")
    return "\n".join(lines)
