"""`--out DIR`: one run's outputs per folder.

Outputs land in DIR/<input id>/<exit task>; a second run into the same folder would mix its
files with the first's, and nothing would tell them apart. So a folder that holds anything is
refused (one line, exit 2, nothing started) unless `--force` clears it, with one exception:
`jupiter demo` clears the outputs of an earlier demo, so a newcomer can run it twice.
Every run leaves a marker saying which command and app wrote the folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from jupiter.errors import SpecError

log = logging.getLogger(__name__)

MARKER = ".jupiter-run.json"
INCOMING = ".incoming"
DEMO = "demo"


@contextlib.contextmanager
def claimed_out_dir(out_dir: Path, *, force: bool, app: Path, command: str) -> Iterator[None]:
    """Make `out_dir` an empty folder marked as this run's, or refuse with a SpecError; for
    the run inside. If the run finds bad input itself (nothing started), the mark goes."""
    created = not out_dir.exists()
    claim_out_dir(out_dir, force=force, app=app, command=command)
    try:
        yield
    except SpecError:
        (out_dir / MARKER).unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):  # not empty after all: keep it
                out_dir.rmdir()
        raise


def claim_out_dir(out_dir: Path, *, force: bool, app: Path, command: str) -> None:
    """Make `out_dir` an empty folder marked as this run's, or refuse with a SpecError."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError(None, "--out", f"{out_dir} is not a folder")
    entries = sorted(out_dir.iterdir()) if out_dir.is_dir() else []
    # Our own mark and outputs left in transit are not outputs: a run that failed before
    # delivering any leaves the folder as good as empty.
    outputs = [entry for entry in entries if entry.name not in (MARKER, INCOMING)]
    if outputs:
        if force:
            _refuse_to_clear_around(out_dir, app)
        elif not (command == DEMO and _earlier_demo(out_dir, entries)):
            raise SpecError(
                None,
                "--out",
                f"{out_dir} already holds outputs of an earlier run; give another folder "
                "or --force to clear it",
            )
        log.info("clearing %s: %d entries of an earlier run", out_dir, len(entries))
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = {"command": command, "app": str(app.resolve()), "started": time.time()}
    (out_dir / MARKER).write_text(json.dumps(marker) + "\n")


def _earlier_demo(out_dir: Path, entries: list[Path]) -> bool:
    """True if everything in the folder is what a demo run writes, and its marker says so."""
    try:
        marker = json.loads((out_dir / MARKER).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("command") != DEMO:
        return False
    return all(
        entry.name in (MARKER, INCOMING) or (entry.name.isdigit() and entry.is_dir())
        for entry in entries
    )


def _refuse_to_clear_around(out_dir: Path, app: Path) -> None:
    # `--out . --force` from the wrong folder must not take the app or the user's files.
    resolved = out_dir.resolve()
    for what, inside in (
        ("the current folder", Path.cwd()),
        ("your home folder", Path.home()),
        ("the app", app),
    ):
        if inside.resolve().is_relative_to(resolved):
            raise SpecError(None, "--out", f"{out_dir} holds {what}; --force will not clear it")
