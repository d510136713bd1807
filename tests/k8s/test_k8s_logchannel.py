"""The home's log as the result channel: round trip, damage, limits, hostile archives."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

import pytest

from jupiter.errors import RunError
from jupiter.k8s.logchannel import (
    BEGIN,
    CHUNK_CHARS,
    DATA,
    END,
    LogReader,
    progress_line,
    result_lines,
    save_outputs,
)


def home_output(tmp_path: Path, sizes: dict[int, int]) -> tuple[dict, Path]:
    out = tmp_path / "out"
    inputs = []
    for k, size in sizes.items():
        (out / str(k)).mkdir(parents=True)
        # Incompressible, so the limits below are about real sizes.
        (out / str(k) / "merge").write_bytes(random.Random(k).randbytes(size))
        inputs.append({"id": k, "outputs": {"merge": str(out / str(k) / "merge")}})
    return {"app": "x", "inputs": inputs}, out


def read(lines: list[str]) -> LogReader:
    reader = LogReader()
    for line in lines:
        reader.feed(line + "\n")
    return reader


def test_round_trip_with_stray_lines_between_chunks(tmp_path: Path) -> None:
    report, out = home_output(tmp_path, {0: 64 * 1024, 1: 10})
    lines = list(result_lines(report, out, 1 << 20))
    assert all(len(line) < 16 * 1024 for line in lines)  # below the runtimes' line split
    assert len([line for line in lines if line.startswith(DATA)]) > 1
    lines.insert(3, "WARNING: a stray line on stderr")
    events: list[dict] = []
    reader = LogReader(on_progress=events.append)
    for line in [progress_line(phase="stream", total=2), *lines]:
        reader.feed(line)
    assert events == [{"phase": "stream", "total": 2}]
    assert reader.result is not None and reader.result.omitted is None
    saved = save_outputs(reader.result, tmp_path / "got")
    for k in (0, 1):
        got = Path(saved["inputs"][k]["outputs"]["merge"])
        assert got.read_bytes() == (out / str(k) / "merge").read_bytes()
    assert reader.tail == ["WARNING: a stray line on stderr"]


def test_a_damaged_result_is_refused(tmp_path: Path) -> None:
    report, out = home_output(tmp_path, {0: 1000})
    lines = list(result_lines(report, out, 1 << 20))
    data = next(i for i, line in enumerate(lines) if line.startswith(DATA))
    payload = lines[data].split(" ", 1)[1]
    flipped = ("A" if payload[10] != "A" else "B").join((payload[:10], payload[11:]))
    lines[data] = f"{DATA} {flipped}"
    with pytest.raises(RunError, match="damaged"):
        read(lines)


def test_outputs_over_the_limit_stay_behind_and_the_report_says_so(tmp_path: Path) -> None:
    report, out = home_output(tmp_path, {0: 200_000, 1: 200_000})
    limit = 100_000
    lines = list(result_lines(report, out, limit))
    assert sum(len(line) for line in lines if line.startswith(DATA)) < limit + CHUNK_CHARS
    result = read(lines).result
    assert result is not None and result.files == {}
    assert result.omitted is not None and "more than the 100000" in result.omitted
    assert result.report["outputs_omitted"] == result.omitted
    saved = save_outputs(result, tmp_path / "got")
    assert saved["inputs"][0]["outputs"] == {"merge": None}


def test_a_report_alone_over_the_limit_is_an_error(tmp_path: Path) -> None:
    report, out = home_output(tmp_path, {0: 10})
    report["stats"] = [{"note": hashlib.sha256(str(i).encode()).hexdigest()} for i in range(5000)]
    with pytest.raises(RunError, match="the report alone takes"):
        list(result_lines(report, out, 50_000))


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "outputs/../../escape"])
def test_an_archive_cannot_write_outside_the_output_folder(name: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in (("report.json", b"{}"), (name, b"gotcha")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    payload = buffer.getvalue()
    header = {
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "outputs": True,
        "omitted": None,
    }
    lines = [f"{BEGIN} {json.dumps(header)}", f"{DATA} {base64.b64encode(payload).decode()}", END]
    with pytest.raises(RunError, match="unexpected entry"):
        read(lines)
