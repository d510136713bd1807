"""The stream prediction in the report: measured breakdowns, the explanation, the summary
lines and report.html, on records written by hand (times in the comments)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.report.report_samples import sample_document, stats_record

from jupiter.mapper.stream_sim import InputPrediction, StreamParameters, StreamPrediction
from jupiter.report.html import render
from jupiter.report.model import InputBreakdown, Report, StreamInput, StreamPredictionSection
from jupiter.report.prediction import explain, measured_breakdowns
from jupiter.report.summary import comparison_lines

# The diamond src -> a -> (b, c) -> d, exit d.
PARENTS = {"a": ["src"], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def record(task: str, node: str, ready: float, start: float, finish: float, enter: float = 0.0):
    made = stats_record(task, 0, node, enter or ready, start, finish)
    made["ready"] = ready
    return made


# Input 0 enters at 100.0 and its d output is home at 100.52.
STATS = [
    record("src", "n0", 100.01, 100.01, 100.01),
    record("a", "n0", 100.01, 100.02, 100.12),  # waits 0.01 for n0
    record("b", "n1", 100.17, 100.17, 100.27),
    record("c", "n2", 100.18, 100.20, 100.30),  # waits 0.02 for n2
    record("d", "n0", 100.35, 100.40, 100.50, enter=100.32),  # c's data last; waits 0.05
]


def test_a_measured_input_splits_along_its_critical_path() -> None:
    # d <- c (finished last) <- a <- src: compute 0.1 x 3; queueing 0.05 + 0.02 + 0.01;
    # transfer c->d 0.05, a->c 0.06; host overhead: 0.01 in, 0.02 home.
    found = measured_breakdowns(STATS, PARENTS, ["d"], {0: 100.0}, {0: 100.52})
    entry = found[0]
    assert entry.makespan == pytest.approx(0.52)
    assert entry.compute == pytest.approx(0.3)
    assert entry.queueing == pytest.approx(0.08)
    assert entry.transfer == pytest.approx(0.11)
    assert entry.host_overhead == pytest.approx(0.03)
    assert entry.queued_at == "n0"


def test_an_input_without_its_exit_record_has_no_breakdown() -> None:
    assert measured_breakdowns(STATS[:-1], PARENTS, ["d"], {0: 100.0}, {0: 100.52}) == {}


def prediction(*entries: InputPrediction) -> StreamPrediction:
    return StreamPrediction(StreamParameters(len(entries)), list(entries), {"n0": 0.2}, {})


def test_the_explanation_names_the_part_that_grew_most_and_where() -> None:
    # Predicted 0.4 (compute 0.3, transfer 0.1), measured 0.52: of the 0.12 more, 0.08 is
    # queueing (mostly at n0), 0.01 transfer, 0.03 host overhead.
    measured = measured_breakdowns(STATS, PARENTS, ["d"], {0: 100.0}, {0: 100.52})
    predicted = prediction(InputPrediction(0, 0.0, 0.4, 0.3, 0.1, 0.0, 0.0, None))
    line = explain(predicted, measured, STATS, {0: 100.0})
    assert line == (
        "measured 0.520 s vs predicted 0.400 s per input: 67% queueing at n0 "
        "(n0 was busy with other inputs)"
    )
    close = prediction(InputPrediction(0, 0.0, 0.5, 0.3, 0.2, 0.0, 0.0, None))
    assert explain(close, measured, STATS, {0: 100.0}) == (
        "measured 0.520 s vs predicted 0.500 s per input: within 15%"
    )


def test_a_node_with_more_work_than_time_between_inputs_is_named_as_too_slow() -> None:
    # Two inputs 0.1 s apart; n0 ran 0.4 s of their tasks: 0.2 s of work per input.
    stats = [
        record("src", "n0", 100.0, 100.0, 100.0),
        record("a", "n0", 100.0, 100.0, 100.2),
        record("d", "n0", 100.3, 100.5, 100.7),
    ]
    stats[2]["input_id"] = 1
    measured = {
        0: InputBreakdown(
            makespan=1.0, compute=0.4, transfer=0.0, queueing=0.6, host_overhead=0.0, queued_at="n0"
        )
    }
    predicted = prediction(InputPrediction(0, 0.0, 0.4, 0.4, 0.0, 0.0, 0.0, None))
    line = explain(predicted, measured, stats, {0: 100.0, 1: 100.1})
    assert line == (
        "measured 1.000 s vs predicted 0.400 s per input: 100% queueing at n0 (the stream is "
        "faster than n0: 0.200 s of work per input, one input every 0.100 s)"
    )


def with_section() -> Report:
    document = sample_document()
    breakdown = InputBreakdown(
        makespan=0.4, compute=0.3, transfer=0.1, queueing=0.0, host_overhead=0.0, queued_at=None
    )
    measured = breakdown.model_copy(update={"makespan": 0.5, "host_overhead": 0.1})
    document["stream_prediction"] = StreamPredictionSection(
        inputs_planned=2,
        interval=0.25,
        max_in_flight=None,
        mean_makespan=0.4,
        measured_mean_makespan=0.625,
        throughput=2.5,
        measured_throughput=2.0,
        bottleneck="n00",
        bottleneck_period=0.1,
        explanation="measured 0.625 s vs predicted 0.400 s per input: 80% host overhead",
        inputs=[
            StreamInput(id=0, predicted=breakdown, measured=measured),
            StreamInput(id=1, predicted=breakdown, measured=None),
        ],
    ).model_dump(mode="json")
    return Report.model_validate(document)


def test_the_summary_prints_predicted_beside_measured_why_and_where_to_look() -> None:
    assert comparison_lines(with_section(), Path("runs/r1")) == [
        "makespan: 0.625 s measured, 0.400 s predicted (mean per input)",
        "throughput: 2.00/s measured, 2.50/s predicted; bottleneck n00 (0.100 s/input)",
        "why: 80% host overhead",
        "see: runs/r1/report.html, 'Stream: predicted vs measured'",
    ]
    # Without --report, the line says how to get the page.
    assert comparison_lines(with_section(), None)[-1] == (
        "see: --report DIR writes report.html, 'Stream: predicted vs measured'"
    )


def test_a_long_cause_wraps_under_itself_within_80_columns() -> None:
    report = with_section()
    assert report.stream_prediction is not None
    report.stream_prediction.explanation = (
        "measured 0.411 s vs predicted 0.114 s per input: 72% queueing at n00 (the stream is "
        "faster than n00: 0.132 s of work per input, one input every 0.065 s)"
    )
    lines = comparison_lines(report, Path("r"))
    assert lines[2:] == [
        "why: 72% queueing at n00 (the stream is faster than n00: 0.132 s of work per",
        "     input, one input every 0.065 s)",
        "see: r/report.html, 'Timeline'",
    ]


def test_report_html_has_the_per_input_table() -> None:
    page = render(with_section())
    assert "<h2>Stream: predicted vs measured</h2>" in page
    assert "<td>0</td><td>0.400</td><td>0.300</td><td>0.100</td><td>0.000</td>" in page
    assert "<td>0.500</td><td>0.300</td><td>0.100</td><td>0.000</td><td>0.100</td>" in page
    assert "80% host overhead" in page


def test_a_report_without_the_section_still_loads() -> None:
    assert Report.model_validate(sample_document()).stream_prediction is None
