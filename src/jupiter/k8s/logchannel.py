"""The home's log as its only channel back to the user: progress, errors and the result.

The home pod needs no API access (no ServiceAccount token, no RBAC) and the client needs only
`pods/log`, which any user who can run pods can read. Lines the client acts on:

    JUPITER-PROGRESS {"phase": "stream", "total": 10}     a new bar
    JUPITER-PROGRESS {"done": 3}                           the bar moves
    JUPITER-ERROR {"message": "..."}                       the run failed
    JUPITER-RESULT-BEGIN {"bytes": N, "sha256": H, "outputs": true, "omitted": null}
    JUPITER-RESULT-DATA <base64>                           N bytes of tar.gz, in chunks
    JUPITER-RESULT-END

The result is a tar.gz of report.json and outputs/<input id>/<exit task>. Every data line
carries its prefix, so stray lines (warnings on stderr) may fall between them harmlessly.
Limits: the encoded result must fit in what the kubelet keeps of a container's log (10 MiB by
default, containerLogMaxSize); past `limit` bytes the outputs are left out and the report
says so, and a report alone past the limit is an error.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from jupiter.errors import RunError

PROGRESS = "JUPITER-PROGRESS"
ERROR = "JUPITER-ERROR"
BEGIN = "JUPITER-RESULT-BEGIN"
DATA = "JUPITER-RESULT-DATA"
END = "JUPITER-RESULT-END"

# Well below the 16 KiB at which container runtimes split a log line.
CHUNK_CHARS = 8000
REPORT_MEMBER = "report.json"
OUTPUTS_DIR = "outputs"


def progress_line(**fields: Any) -> str:
    return f"{PROGRESS} {json.dumps(fields)}"


def error_line(message: str) -> str:
    return f"{ERROR} {json.dumps({'message': message})}"


def result_lines(report: dict[str, Any], out_dir: Path, limit: int) -> Iterator[str]:
    """The report (with output paths made relative to out_dir) and the output files."""
    report = _relative_outputs(report, out_dir)
    omitted: str | None = None
    payload = _tar(report, out_dir)
    if _encoded_size(payload) > limit:
        omitted = (
            f"the outputs take {_encoded_size(payload)} bytes encoded, more than the "
            f"{limit} the home's log can carry; they stayed in the cluster"
        )
        payload = _tar({**report, "outputs_omitted": omitted}, None)
        if _encoded_size(payload) > limit:
            raise RunError(
                f"the report alone takes {_encoded_size(payload)} bytes encoded, more than the "
                f"{limit} the home's log can carry; stream fewer inputs"
            )
    header = {
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "outputs": omitted is None,
        "omitted": omitted,
    }
    yield f"{BEGIN} {json.dumps(header)}"
    text = base64.b64encode(payload).decode("ascii")
    for start in range(0, len(text), CHUNK_CHARS):
        yield f"{DATA} {text[start : start + CHUNK_CHARS]}"
    yield END


def _encoded_size(payload: bytes) -> int:
    return (len(payload) + 2) // 3 * 4


def _relative_outputs(report: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    inputs = []
    for entry in report.get("inputs", []):
        outputs = {
            task: str(Path(path).relative_to(out_dir)) for task, path in entry["outputs"].items()
        }
        inputs.append({**entry, "outputs": outputs})
    return {**report, "inputs": inputs}


def _tar(report: dict[str, Any], out_dir: Path | None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        _add_bytes(tar, REPORT_MEMBER, json.dumps(report, indent=2).encode())
        if out_dir is not None:
            for entry in report.get("inputs", []):
                for relative in entry["outputs"].values():
                    tar.add(out_dir / relative, f"{OUTPUTS_DIR}/{relative}", recursive=False)
    return buffer.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


@dataclass
class Result:
    report: dict[str, Any]
    # Relative path (as in the report's outputs) -> file content.
    files: dict[str, bytes]
    omitted: str | None


@dataclass
class LogReader:
    """Reads the home's log line by line; `result` is set once the result has arrived whole."""

    on_progress: Callable[[dict[str, Any]], None] = lambda event: None
    error: str | None = None
    result: Result | None = None
    tail: list[str] = field(default_factory=list)
    _header: dict[str, Any] | None = None
    _chunks: list[str] = field(default_factory=list)

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        word, _, rest = line.partition(" ")
        if word == DATA and self._header is not None:
            self._chunks.append(rest)
        elif word == PROGRESS:
            self.on_progress(json.loads(rest))
        elif word == ERROR:
            self.error = str(json.loads(rest)["message"])
        elif word == BEGIN:
            self._header = json.loads(rest)
            self._chunks = []
        elif word == END and self._header is not None:
            self.result = _decode(self._header, "".join(self._chunks))
            self._header = None
        elif line:
            # Anything else is the home talking: kept for error messages.
            self.tail = [*self.tail[-29:], line]


def _decode(header: dict[str, Any], text: str) -> Result:
    payload = base64.b64decode(text, validate=True)
    if len(payload) != header["bytes"] or hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise RunError("the result in the home's log is damaged (size or checksum mismatch)")
    report: dict[str, Any] | None = None
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        for member in tar:
            path = PurePosixPath(member.name)
            # Only plain files at plain relative paths: nothing in the log may write elsewhere.
            if not member.isfile() or path.is_absolute() or ".." in path.parts:
                raise RunError(f"unexpected entry {member.name!r} in the home's result")
            extracted = tar.extractfile(member)
            assert extracted is not None
            data = extracted.read()
            if member.name == REPORT_MEMBER:
                report = json.loads(data)
            elif path.parts[0] == OUTPUTS_DIR and len(path.parts) > 1:
                files[str(PurePosixPath(*path.parts[1:]))] = data
    if report is None:
        raise RunError("the home's result has no report.json")
    return Result(report, files, header.get("omitted"))


def save_outputs(result: Result, out_dir: Path) -> dict[str, Any]:
    """Writes the outputs under out_dir; returns the report with their local paths."""
    root = out_dir.resolve()
    for relative, data in result.files.items():
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise RunError(f"output path {relative!r} leaves the output folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    report = result.report
    inputs = []
    for entry in report.get("inputs", []):
        outputs = {
            task: str(root / relative) if relative in result.files else None
            for task, relative in entry["outputs"].items()
        }
        inputs.append({**entry, "outputs": outputs})
    return {**report, "inputs": inputs}
