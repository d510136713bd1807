"""The terminal summary's explaining parts (report/summary.py): the mapping per node, the
app's result from its exit outputs, and a layout that fits 80 columns at any scale."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from tests.report.report_samples import sample_document
from tests.report.synthetic_report import large_report

from jupiter.report.model import Report, StreamPredictionSection
from jupiter.report.report import print_summary
from jupiter.report.summary import MAX_NODE_LINES, mapping_lines, result_lines


def test_the_mapping_is_one_line_per_node_cut_to_the_width_at_scale() -> None:
    report = large_report(tasks=200, nodes=106)
    lines = mapping_lines(report)
    assert lines[0] == "mapping (202 tasks and sources on 106 of 106 nodes):"
    assert len(lines) == 1 + MAX_NODE_LINES + 1
    # n000 has src0 and every 106th task: src0 and t104, by predicted start.
    assert lines[1] == "  n000: src0, t104"
    rest = sum(1 for node in report.mapping.values() if node >= f"n{MAX_NODE_LINES:03d}")
    assert lines[-1] == f"  ... 96 more nodes with {rest} tasks (report.html: Mapping)"
    crowded = large_report(tasks=200, nodes=2)
    first = mapping_lines(crowded)[1]
    assert first.startswith("  n000: src0, t000, t002,") and first.endswith(" more")
    assert len(first) <= 80
    shown = first.split(": ", 1)[1].split(", ")
    # The tasks named plus the ones counted are all of n000's.
    assert len(shown) - 1 + int(shown[-1].split()[0]) == 101
    assert all(len(line) <= 40 for line in mapping_lines(crowded, width=40))


def report_with_outputs(tmp_path: Path, contents: list[bytes]) -> Report:
    document = sample_document()
    entries = []
    for k, content in enumerate(contents):
        path = tmp_path / str(k) / "d"
        path.parent.mkdir()
        path.write_bytes(content)
        entry = dict(document["inputs"][0], id=k, outputs={"d": str(path)})
        entries.append(entry)
    document["inputs"] = entries
    return Report.model_validate(document)


def verdict(value: str) -> bytes:
    return json.dumps({"verdict": value, "sites": {"oregon": {"flows": 10}}}).encode()


def test_json_verdicts_are_grouped_by_verdict_with_their_inputs(tmp_path: Path) -> None:
    outputs = [verdict(v) for v in ["alert", "alert", "normal", "alert", "alert", "alert"]]
    lines = result_lines(report_with_outputs(tmp_path, outputs))
    assert lines == ["result (d verdict): alert for inputs 0, 1, 3-5; normal for input 2"]


def test_other_outputs_are_previewed_from_the_last_input(tmp_path: Path) -> None:
    report = report_with_outputs(tmp_path, [b"3\n8\n", b"15\n24\n" + b"x" * 500])
    (line, *more) = result_lines(report)
    assert line.startswith("result (d, input 1): 15 24 xxx")
    assert "".join(part.strip() for part in [line, *more]).endswith("x...")
    assert all(len(part) <= 80 for part in [line, *more])
    # At most 200 characters of output in all.
    shown = " ".join(part.strip() for part in [line, *more])
    assert len(shown) - len("result (d, input 1): ") <= 200 + len(more)


def test_at_most_three_exit_outputs_are_previewed_and_the_others_counted(
    tmp_path: Path,
) -> None:
    document = sample_document()
    outputs = {}
    for name in ("e1", "e2", "e3", "e4", "e5"):
        outputs[name] = str(tmp_path / name)
        (tmp_path / name).write_text(f"{name} says hi\n")
    document["inputs"] = [dict(document["inputs"][0], outputs=outputs)]
    assert result_lines(Report.model_validate(document)) == [
        "result (e1, input 0): e1 says hi",
        "result (e2, input 0): e2 says hi",
        "result (e3, input 0): e3 says hi",
        "  ... 2 more exit outputs",
    ]


def test_a_large_text_output_is_previewed_from_its_start(tmp_path: Path) -> None:
    # Only its first 4 KiB are read, which here end inside a two-byte character.
    report = report_with_outputs(tmp_path, [("a" + "é" * 100_000).encode()])
    lines = result_lines(report)
    assert lines[0].startswith("result (d, input 0): aéééé")
    assert lines[-1].endswith("é...")


def test_a_binary_output_says_so_and_a_missing_one_says_nothing(tmp_path: Path) -> None:
    report = report_with_outputs(tmp_path, [b"\xff\xfe\x00binary"])
    assert result_lines(report) == ["result (d, input 0): (9 bytes, not text)"]
    assert result_lines(Report.model_validate(sample_document())) == []


def explained(tmp_path: Path) -> Report:
    report = report_with_outputs(tmp_path, [verdict("alert")] * 20)
    report.stream_prediction = StreamPredictionSection(
        inputs_planned=20,
        interval=0.0,
        max_in_flight=None,
        mean_makespan=0.114,
        measured_mean_makespan=0.411,
        throughput=25.87,
        measured_throughput=6.1,
        bottleneck="aggregate_frankfurt->score_frankfurt",
        bottleneck_period=0.012,
        explanation="measured 0.411 s vs predicted 0.114 s per input: 72% queueing at n00 (the "
        "stream is faster than n00: 0.132 s of work per input, one input every 0.065 s)",
        inputs=[],
    )
    return report


@pytest.mark.parametrize("width", [80, 200])
def test_the_whole_summary_fits_80_columns_on_any_terminal(tmp_path: Path, width: int) -> None:
    big = large_report(tasks=200, nodes=106, inputs=40)
    small = explained(tmp_path)
    for report in (big, small):
        buffer = io.StringIO()
        print_summary(report, Console(file=buffer, width=width), Path("runs/r1"))
        lines = buffer.getvalue().splitlines()
        assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    # 40 inputs: the first and last five, the others counted.
    buffer = io.StringIO()
    print_summary(big, Console(file=buffer, width=width))
    assert "│        ... │      30 more │" in buffer.getvalue()
    buffer = io.StringIO()
    print_summary(small, Console(file=buffer, width=width), Path("runs/r1"))
    text = buffer.getvalue()
    assert "why: 72% queueing at n00" in text
    assert "see: runs/r1/report.html, 'Timeline'" in text
    assert "result (d verdict): alert for inputs 0-19" in text
