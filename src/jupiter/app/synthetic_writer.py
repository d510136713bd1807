"""Write an AppPlan as an app folder: app.yaml, tasks/dag.py, samples/, expected.json.

The folder is assembled next to OUT and renamed into place, so a failure leaves OUT as it
was. Everything written is a function of the plan (no time stamps, fixed orders), so the same
plan always gives byte-identical files.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from jupiter.app import synthetic_task
from jupiter.app.synthetic_plan import AppPlan, PlannedTask, expected_outputs
from jupiter.errors import SpecError

TASK_FILE = "tasks/dag.py"
EXPECTED_FILE = "expected.json"
LINE_LENGTH = 100


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse, before anything is computed, to write where it would destroy something."""
    if out.exists() and not out.is_dir():
        raise SpecError(out, None, "exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise SpecError(out, None, "folder is not empty; pass --force to replace it")
        if not (out / "app.yaml").is_file():
            # --force replaces a previous app, never an arbitrary folder given by mistake.
            raise SpecError(
                out, None, "folder is not empty and holds no app.yaml; refusing to replace it"
            )


def write_app(plan: AppPlan, out: Path, *, force: bool = False) -> None:
    """Write the plan as the app folder `out`; with `force`, replace a previous app there."""
    out = out.resolve()  # `.` and `..` have no name to stage a sibling folder under
    check_out_dir(out, force)
    with _staging(out) as staging:
        write_files(plan, staging)


def write_files(plan: AppPlan, root: Path, *, sparse_samples: bool = False) -> None:
    """The app's files under an existing folder `root`.

    `sparse_samples` writes samples of the right size without their content (holes on
    disk); only for reading sizes, e.g. to build a scheduling problem from a huge trace.
    """
    (root / "app.yaml").write_text(render_app_yaml(plan), encoding="utf-8")
    (root / "tasks").mkdir()
    (root / TASK_FILE).write_text(render_task_file(plan), encoding="utf-8")
    for source in plan.sources:
        folder = root / "samples" / source.name
        folder.mkdir(parents=True)
        for k in range(plan.samples):
            path = folder / f"{k}.bin"
            if sparse_samples:
                with open(path, "wb") as stream:
                    stream.truncate(source.sample_bytes)
            else:
                path.write_bytes(source.sample(k))
    if not sparse_samples:
        (root / EXPECTED_FILE).write_text(render_expected(plan), encoding="utf-8")


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A fresh sibling folder of `out` that replaces `out` if the block succeeds, and
    vanishes if it fails: `out` is never left half written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


# ---- app.yaml --------------------------------------------------------------------------------


def _scalar(text: str) -> str:
    """A YAML scalar that reads back as exactly `text` (`null`, `1e3`, `yes` get quoted)."""
    return text if yaml.safe_load(text) == text and text.strip() == text else json.dumps(text)


def _one_line(comment: str) -> str:
    # A line break inside a comment would turn the rest of it into YAML.
    return " ".join(comment.splitlines())


def _quoted(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar, but YAML reads JSON's surrogate-pair
    # escapes as two characters, so only control characters are escaped.
    return json.dumps(text, ensure_ascii=False)


def _seconds(value: float) -> str:
    # Fixed-point with a decimal point: PyYAML reads `1e-05` as a string, not a float.
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _name_list(key: str, names: tuple[str, ...], indent: str) -> list[str]:
    """`key: [a, b]`, or one name a line when that would make a long line."""
    inline = f"{indent}{key}: [{', '.join(_scalar(name) for name in names)}]"
    if len(inline) <= LINE_LENGTH:
        return [inline]
    return [f"{indent}{key}:", *(f"{indent}  - {_scalar(name)}" for name in names)]


def render_app_yaml(plan: AppPlan) -> str:
    lines = [f"# {_one_line(line)}" if line else "#" for line in plan.header]
    lines += [
        f"name: {_scalar(plan.name)}",
        f"description: {_quoted(plan.description)}",
        "",
        "sources:",
    ]
    for source in plan.sources:
        lines += [
            f"  - name: {_scalar(source.name)}",
            *_name_list("feeds", source.feeds, "    "),
            f"    inputs: [{json.dumps(f'samples/{source.name}/*.bin')}]",
        ]
    lines += ["", "tasks:"]
    for task in plan.tasks:
        lines += _render_task(task)
    return "\n".join(lines) + "\n"


def _render_task(task: PlannedTask) -> list[str]:
    lines = [f"  # {_one_line(task.comment)}"] if task.comment else []
    lines.append(f"  {_scalar(task.name)}:")
    lines.append(f"    python: {TASK_FILE}:{task.function}")
    if task.parents:
        lines += _name_list("parents", task.parents, "    ")
    lines.append(
        f"    estimate: {{seconds: {_seconds(task.seconds)}, output_bytes: {task.output_bytes}}}"
    )
    return lines


# ---- tasks/dag.py ------------------------------------------------------------------------------


def render_task_file(plan: AppPlan) -> str:
    runtime = Path(synthetic_task.__file__).read_text(encoding="utf-8").rstrip("\n")
    lines = [
        runtime,
        "",
        "",
        f"# ---- the tasks of {plan.name}: CPU seconds and output bytes of each ----",
        "",
    ]
    lines += [
        f"{t.function} = task({json.dumps(t.name)}, seconds={t.seconds!r}, "
        f"output_bytes={t.output_bytes})"
        for t in plan.tasks
    ]
    return "\n".join(lines) + "\n"


# ---- expected.json ---------------------------------------------------------------------------


def render_expected(plan: AppPlan) -> str:
    data = {
        "about": (
            f"sha256 of each exit task's output. Input id k uses sample k mod {plan.samples} "
            "of every source, so its outputs are those listed under str(k mod "
            f"{plan.samples})."
        ),
        "samples": plan.samples,
        "outputs": {str(k): digests for k, digests in expected_outputs(plan).items()},
    }
    return json.dumps(data, indent=2) + "\n"
