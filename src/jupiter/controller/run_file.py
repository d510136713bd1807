"""The run file: where a running `jupiter run` tells other commands on this machine how to
reach its home (`jupiter emulate` reads it).

It holds the home's URL, the run id, the run token and, with TLS, where the home's
certificate files are. The token is what every route but
/health demands: whoever holds it can change the run (slow its nodes, stop its agents), so
the file is created mode 600 in a folder of mode 700, readable by the user who started the
run and nobody else, like an SSH key; it is written whole (a temporary file renamed into
place, never a half-written one) and removed at teardown. A file left by a run that died is
recognised by its pid and replaced; one of a run still alive is left alone (the second run
then publishes none, and says so).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupiter.api.tls import TlsFiles
from jupiter.errors import SpecError
from jupiter.specfile import read_spec_text

log = logging.getLogger(__name__)

DEFAULT_RUN_FILE = Path(".jupiter") / "run.json"


class RunFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    home_url: str = Field(pattern=r"^https?://", max_length=2048)
    run_id: str = Field(min_length=1, max_length=256)
    token: str = Field(min_length=1, max_length=1024)
    # The `jupiter run` process, to tell a live run's file from a dead one's.
    pid: int = Field(ge=1)
    # With TLS: the home's certificate files (in its private work dir), which a client on
    # this machine shows to the home; None: plain HTTP.
    tls: TlsFiles | None = None


@contextlib.contextmanager
def published(path: Path, run: RunFile) -> Iterator[Path | None]:
    """`run` written to `path` (mode 600) for as long as the block runs, then removed (and
    its folder, if this made it and it is left empty). Yields the path, or None if a run
    still alive holds it: that run keeps it, and this one runs unpublished."""
    existing = _read_quietly(path)
    if existing is not None and existing.pid != run.pid and _alive(existing.pid):
        log.warning(
            "run file %s belongs to run %s (pid %d), still running: this run publishes none "
            "(give it another with --control)",
            path,
            existing.run_id,
            existing.pid,
        )
        yield None
        return
    made_folder = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    # O_EXCL with the mode given at creation: the token is never readable by others, not
    # even between a create and a chmod.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(run.model_dump_json(indent=1))
    os.replace(staging, path)
    try:
        yield path
    finally:
        # Only our own: a later run may have replaced it after this one was presumed dead.
        mine = _read_quietly(path)
        if mine is not None and mine.run_id == run.run_id and mine.pid == run.pid:
            path.unlink(missing_ok=True)
        if made_folder:
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only if empty


def read_run_file(path: Path) -> RunFile:
    """The run file at `path`; one SpecError line if there is none or it is not one."""
    if not path.exists():
        raise SpecError(
            str(path), None, "no run file: is `jupiter run` running here? (--run FILE names one)"
        )
    text = read_spec_text(path)
    try:
        return RunFile.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as error:
        raise SpecError(str(path), None, f"not a run file: {str(error).splitlines()[0]}") from None


def _read_quietly(path: Path) -> RunFile | None:
    try:
        return RunFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as error:
        log.warning("ignoring the unreadable run file %s: %s", path, error)
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
