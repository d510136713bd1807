"""report.json through its model: round trip, refusals, the summary table and the page."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from report_samples import sample_document
from rich.console import Console

from jupiter.errors import SpecError
from jupiter.report.html import render
from jupiter.report.model import Report, load_report, parse_report
from jupiter.report.report import print_summary, write_report


def test_a_local_report_is_written_exactly_as_read(tmp_path: Path) -> None:
    document = sample_document()
    report = parse_report(document, "sample")
    path = write_report(report, tmp_path / "rep")
    # Same keys in the same order, and no Kubernetes-only keys on a local run.
    assert path.read_text() == json.dumps(document, indent=2)
    assert load_report(path) == report
    assert report.stats[2].waiting == pytest.approx(0.05)
    assert report.execution["a"].measured["n00"].runs == 2


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    *parents, last = path
    for key in parents:
        document = document[key]
    document[last] = value


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("version",), 2, "r.json: version: not a Jupiter report: Input should be 1"),
        (("inputs", 1, "makespan"), "slow", "r.json: inputs.1.makespan: not a Jupiter report"),
        (("stats", 0, "note"), "x", "r.json: stats.0.note: not a Jupiter report: Extra inputs"),
        (("backend",), "local", "r.json: backend: not a Jupiter report: Input should be"),
        (("kubernetes",), {"namespace": "ns"}, "r.json: kubernetes.image: not a Jupiter"),
    ],
)
def test_a_report_that_breaks_the_contract_is_one_line_naming_the_field(
    path: tuple[Any, ...], value: Any, expected: str
) -> None:
    document = sample_document()
    _set(document, path, value)
    with pytest.raises(SpecError) as caught:
        parse_report(document, "r.json")
    assert str(caught.value).startswith(expected)


def test_a_report_without_a_required_part_is_refused() -> None:
    document = sample_document()
    del document["makespan"]
    with pytest.raises(SpecError, match=r"^r.json: makespan: not a Jupiter report: Field required"):
        parse_report(document, "r.json")


def test_loading_a_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{\n  "version": 1,\n  oops\n}')
    with pytest.raises(SpecError, match=r"report.json: line 3: invalid JSON"):
        load_report(path)


def summary(report: Report) -> list[str]:
    buffer = io.StringIO()
    print_summary(report, Console(file=buffer, width=200))
    return [line.strip() for line in buffer.getvalue().splitlines()]


def test_the_summary_table_shows_each_input_the_mean_prediction_rate_and_phases() -> None:
    lines = summary(Report.model_validate(sample_document()))
    assert lines[0] == "diamond: 2 inputs, mapper heft"
    # Header cells are separated by ┃, body cells by │.
    cells = [[c.strip() for c in re.split("[│┃]", line.strip("│┃"))] for line in lines]
    rows = [row for row in cells if len(row) == 2]
    assert rows == [
        ["input", "makespan (s)"],
        ["0", "0.500"],
        ["1", "0.750"],
        ["mean", "0.625"],
        ["predicted", "0.250"],
        ["throughput", "2.00/s"],
    ]
    # At most 80 columns even on a wide terminal: continued under the first phase.
    phases = lines.index(
        "phases: deploy 0.50s  profile 0.00s  map 0.01s  dispatch 0.02s  stream 1.00s"
    )
    assert lines[phases + 1] == "teardown 0.25s"
    # Then which task ran where (sources included), in predicted order.
    assert lines[phases + 2 :] == [
        "mapping (3 tasks and sources on 2 of 2 nodes):",
        "n00: numbers, a",
        "n01: d",
    ]


def test_the_summary_leaves_out_a_rate_it_could_not_measure() -> None:
    document = sample_document()
    document["throughput"].update(per_second=None, median_completion_gap=None)
    assert not any("throughput" in line for line in summary(Report.model_validate(document)))


def test_the_page_summarises_the_run_and_draws_every_finished_task_run() -> None:
    document = sample_document()
    document["stats"][3].update(finish=None, duration=None, elapse=None)  # a1 never finished
    page = render(Report.model_validate(document))
    assert "<title>Jupiter run ab12cd34: diamond</title>" in page
    assert "<td>makespan min / max</td><td>0.500 / 0.750 s</td>" in page
    assert "<td>throughput</td><td>2.00 inputs/s over 1.00 s</td>" in page
    assert "<td>median gap between completions</td><td>0.500 s</td>" in page
    assert "<td>link emulation</td><td>on</td>" in page
    assert "<td>d</td><td>n01</td><td>nyc</td><td>0.150</td><td>0.250</td>" in page
    assert "<td>compute</td><td>app.yaml estimates</td>" in page
    # a0, d0 and d1 ran (the source takes no time, a1 has no finish); d waited both times.
    assert page.count(f"height='{22 - 6}'") == 3
    assert page.count("opacity='0.25'") == 2
    assert "d input 1 on n01: waited 0.250 s, ran 0.250 s" in page
    assert ">n00 sfo</text>" in page and ">n01 nyc</text>" in page


def test_a_report_from_before_status_and_attempts_still_reads() -> None:
    document = sample_document()
    for key in ("status", "error", "failed_inputs"):
        del document[key]
    for record in document["stats"]:
        del record["attempts"]
    report = parse_report(document, "old.json")
    assert (report.status, report.error, report.failed_inputs) == ("completed", None, [])
    assert {record.attempts for record in report.stats} == {1}


def test_a_failed_report_shows_its_status_error_and_failed_inputs() -> None:
    document = sample_document()
    document.update(
        status="failed",
        error="1 of 3 inputs failed",
        inputs=document["inputs"][:1],
        failed_inputs=[
            {
                "id": 2,
                "task": "d",
                "node": "n01",
                "message": "Traceback (most recent call last):\nValueError: bad <input>",
                "failed_at": 101.5,
                "outputs": {},
            }
        ],
        predicted_makespan=None,
    )
    report = parse_report(document, "failed.json")
    console = Console(file=io.StringIO(), width=120)
    print_summary(report, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "(failed)" in text
    assert "input 2: task d on n01" in text
    assert "ValueError: bad <input>" in text
    page = render(report)
    assert "ValueError: bad &lt;input&gt;" in page
    assert "1 of 3 inputs failed" in page


def test_a_report_of_a_run_that_failed_before_mapping_renders() -> None:
    document = sample_document()
    document.update(
        status="interrupted",
        error="interrupted",
        mapping={},
        predicted_makespan=None,
        predicted_schedule=[],
        inputs=[],
        makespan=None,
        stats=[],
    )
    document["throughput"] = {
        "inputs": 0,
        "seconds": 0.0,
        "per_second": None,
        "median_completion_gap": None,
    }
    report = parse_report(document, "early.json")
    console = Console(file=io.StringIO(), width=120)
    print_summary(report, console)
    assert "(interrupted)" in console.file.getvalue()  # type: ignore[attr-defined]
    assert "No task ran." in render(report)
