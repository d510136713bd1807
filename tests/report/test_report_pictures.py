"""report.html's drawings and per-task table on reports built by hand: the DAG, the predicted
schedule beside the measured one, colours and legend at 200 tasks, phase labels that fit."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from tests.report.report_samples import sample_document, stats_record
from tests.report.synthetic_report import large_report

from jupiter.report.dag_svg import dag_svg, layers
from jupiter.report.html import render
from jupiter.report.model import Report
from jupiter.report.palette import KELLY, MAX_NODE_COLOURS, colour, node_colouring
from jupiter.report.schedule_svg import MAX_TIMELINE_RUNS
from jupiter.report.task_times import task_times

DIAMOND_DAG = {"numbers": [], "a": ["numbers"], "d": ["a"]}


def with_dag() -> Report:
    document = sample_document()
    document["dag"] = DIAMOND_DAG
    # d's input 0 arrived 0.05 s after a finished, and waited 0.05 s for n01.
    document["stats"][2] = stats_record("d", 0, "n01", 100.3, 100.35, 100.5)
    return Report.model_validate(document)


def test_a_report_with_a_dag_reads_and_writes_back_and_one_without_leaves_it_out() -> None:
    report = with_dag()
    assert Report.model_validate_json(report.to_json()) == report
    assert '"dag"' not in Report.model_validate(sample_document()).to_json()


def test_per_task_predicted_and_measured_run_transfer_and_queueing() -> None:
    rows = {row.task: row for row in task_times(with_dag())}
    assert list(rows) == ["a", "d"]  # by predicted start; the source is not a task
    a, d = rows["a"], rows["d"]
    assert (a.node, a.runs) == ("n00", 2)
    assert a.predicted_run == pytest.approx(0.1)
    assert a.measured_run == pytest.approx(0.25)
    assert a.ratio == pytest.approx(2.5)
    assert a.predicted_transfer == pytest.approx(0.0)
    assert d.predicted_run == pytest.approx(0.1)
    assert d.predicted_transfer == pytest.approx(0.05)  # planned 0.15, a done at 0.1
    assert d.measured_run == pytest.approx((0.15 + 0.25) / 2)
    assert d.measured_transfer == pytest.approx((0.05 + 0.0) / 2)
    assert d.measured_queueing == pytest.approx((0.05 + 0.25) / 2)
    page = render(with_dag())
    assert (
        "<td>d</td><td>n01</td><td>0.100</td><td>0.200</td><td>2.0x</td><td>0.050</td>"
        "<td>0.025</td><td>0.150</td><td>2</td>" in page
    )


def test_without_a_dag_the_page_says_so_and_leaves_transfers_blank() -> None:
    report = Report.model_validate(sample_document())
    page = render(report)
    assert "This report has no DAG" in page
    assert all(row.measured_transfer is None for row in task_times(report))


def test_the_dag_is_drawn_in_layers_coloured_by_node() -> None:
    report = with_dag()
    svg = dag_svg(report, node_colouring(report))
    assert layers(DIAMOND_DAG) == [["numbers"], ["a"], ["d"]]
    drawn = re.findall(r"data-task='(\w+)' data-node='(\w+)' fill='(#\w+)'", svg)
    assert drawn == [("numbers", "n00", KELLY[0]), ("a", "n00", KELLY[0]), ("d", "n01", KELLY[1])]
    assert svg.count("class='dag-edge'") == 2
    assert "<title>d on n01</title>" in svg and "<title>source numbers on n00</title>" in svg


def test_a_layer_is_ordered_by_its_parents_positions() -> None:
    dag = {"s": [], "x": ["s"], "y": ["s"], "b": ["y"], "a": ["x"]}
    # a's parent x comes before b's parent y, so a goes above b whatever their names.
    assert layers(dag) == [["s"], ["x", "y"], ["a", "b"]]
    assert layers({**dag, "a": ["y"], "b": ["x"]})[2] == ["b", "a"]


def test_the_predicted_lane_sits_beside_the_measured_lane_of_each_node() -> None:
    page = render(with_dag())
    comparison = page[page.index("<svg class='comparison'") :]
    comparison = comparison[: comparison.index("</svg>")]
    lanes = re.findall(r"<g class='lane-(predicted|measured)' data-node='(\w+)'>", comparison)
    assert lanes == [
        ("predicted", "n00"),
        ("measured", "n00"),
        ("predicted", "n01"),
        ("measured", "n01"),
    ]
    assert "d on n01, predicted: 0.150 -&gt; 0.250 s" in comparison
    # Input 0 was injected at 100.0: d ran 100.35 -> 100.5.
    assert "d on n01, measured for input 0: 0.350 -&gt; 0.500 s" in comparison


def test_phase_labels_are_written_only_where_they_fit_and_all_listed() -> None:
    page = render(with_dag())
    bar = page[page.index("<div class='phases'>") :]
    bar = bar[: bar.index("</div></div>")]
    # stream (1.0 of 1.78 s) has room for its label; map (0.01 s) has not.
    assert ">stream 1.00 s</div>" in bar
    assert "title='map: 0.010 s'></div>" in bar
    assert "<li>map 0.01 s</li>" in page


def test_colours_are_distinct_for_any_number_of_groups() -> None:
    colours = [colour(i) for i in range(300)]
    assert len(set(colours)) == 300
    assert colours[:20] == list(KELLY)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)


@pytest.mark.parametrize("nodes", [8, 12, 106])
def test_200_tasks_a_colour_per_node_or_region_and_every_node_once_in_the_legend(
    nodes: int,
) -> None:
    report = large_report(tasks=200, nodes=nodes)
    colouring = node_colouring(report)
    page = render(report)
    legend = page[page.index("<ul class='legend' data-by=") :]
    legend = legend[: legend.index("</ul>")]
    keys = re.findall(
        r"<li data-key='([^']+)'><span class='key' style='background:(#\w+)'>", legend
    )
    colours = [c for _, c in keys]
    assert len(set(colours)) == len(colours)  # one distinct colour per legend entry
    names = [n.name for n in report.nodes]
    if nodes <= MAX_NODE_COLOURS:
        assert colouring.by == "node"
        assert [k for k, _ in keys] == names
    else:
        assert colouring.by == "region"
        assert len(keys) == 8
        listed = re.findall(r"n\d{3}", legend)
        assert sorted(listed) == names  # every node once, under its region
    # The DAG: every task and source once, in its node's (or region's) colour; at 200 tasks
    # the names are on hover only.
    drawn = re.findall(r"data-task='(\w+)' data-node='(\w+)' fill='(#\w+)'", page)
    assert Counter(task for task, _, _ in drawn) == Counter(list(report.mapping))
    assert all(fill == colouring.of(node) for _, node, fill in drawn)
    assert len({fill for _, _, fill in drawn}) == min(nodes, 12 if nodes <= 12 else 8)
    dag = page[page.index("<svg class='dag'") :]
    assert "<text" not in dag[: dag.index("</svg>")]
    # 202 tasks and sources, 3 inputs: a page one can still mail.
    assert len(page.encode()) < 1_500_000


def test_a_long_stream_of_a_large_app_draws_the_first_inputs_runs_and_says_so() -> None:
    report = large_report(tasks=200, nodes=8, inputs=60)  # 12,000 task runs
    page = render(report)
    timeline = page[page.index("<svg class='timeline'") :]
    timeline = timeline[: timeline.index("</svg>")]
    drawn = timeline.count("<rect")
    assert drawn == MAX_TIMELINE_RUNS  # 20 inputs of 200 runs
    assert "The runs of the first 20 of 60 inputs (4000 of 12000 task runs)" in page
    assert "input 19 on" in timeline and "input 20 on" not in timeline
    assert len(page.encode()) < 2_000_000


def test_nodes_the_run_did_not_use_share_a_grey_and_the_used_ones_get_a_colour_each() -> None:
    # 30 nodes, all tasks on 4 of them in one region: colour by node, not by that region.
    document = large_report(tasks=40, nodes=4).model_dump(mode="json")
    document["nodes"] += [{"name": f"m{i:02d}", "region": "sfo", "speed": 1.0} for i in range(26)]
    report = Report.model_validate(document)
    colouring = node_colouring(report)
    assert colouring.by == "node"
    assert [g.key for g in colouring.groups] == ["n000", "n001", "n002", "n003", "not used"]
    assert len({g.colour for g in colouring.groups}) == 5
    legend = colouring.legend()
    assert "not used: m00, m01," in legend and legend.count("m25") == 1
    assert colouring.of("m07") == colouring.groups[-1].colour
