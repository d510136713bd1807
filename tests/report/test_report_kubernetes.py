"""The Kubernetes-only part of report.json: what the client adds to the home's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_samples import sample_document

from jupiter.cli import main
from jupiter.k8s.deploy import Timings
from jupiter.k8s.logchannel import result_lines
from jupiter.k8s.pipeline import ROLES_NOTE, with_kubernetes_timings
from jupiter.report.model import Report, load_report, parse_report

SCHEMA = Path(__file__).parents[2] / "docs" / "report.schema.json"


def test_the_client_replaces_deploy_and_teardown_and_keeps_the_homes_own() -> None:
    document = sample_document()
    # What the home's log carries when the outputs were too large (logchannel.save_outputs).
    document["outputs_omitted"] = "the outputs take 20 MB encoded"
    for entry in document["inputs"]:
        entry["outputs"] = {"d": None}
    home = parse_report(document, "home")
    timings = Timings(
        deploy={"total": 9.0, "agent": 8.0, "home": 3.0, "shared": 0.5},
        teardown={"total": 4.0, "agent": 3.5},
    )
    report = with_kubernetes_timings(home, timings, "jupiter-ab12", "r.example.com/d:1", 12)
    written = report.document()
    assert list(written)[-4:] == ["stats", "outputs_omitted", "backend", "kubernetes"]
    assert written["backend"] == "kubernetes"
    assert written["phases"] == {**document["phases"], "deploy": 9.0, "teardown": 4.0}
    assert written["kubernetes"] == {
        "namespace": "jupiter-ab12",
        "image": "r.example.com/d:1",
        "objects": 12,
        "roles": {
            "agent": {"pods": 2, "deploy": 8.0, "teardown": 3.5},
            "home": {"pods": 1, "deploy": 3.0, "teardown": 0.0},
            "shared": {"deploy": 0.5, "teardown": 0.0},
        },
        "home_phases": document["phases"],
        "note": ROLES_NOTE,
    }
    # What `jupiter k8s` writes reads back through the model and the published schema.
    assert parse_report(json.loads(report.to_json()), "written") == report
    jsonschema.validate(written, json.loads(SCHEMA.read_text()))


def jupiter(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def home_log(tmp_path: Path, document: dict[str, Any]) -> Path:
    """A saved home log carrying `document` and input 0's output, as `jupiter k8s` reads it."""
    out = tmp_path / "home-out"
    (out / "0").mkdir(parents=True)
    (out / "0" / "d").write_text("24\n")
    for entry in document["inputs"]:
        entry["outputs"] = {"d": str(out / "0" / "d")}
    log = tmp_path / "home.log"
    log.write_text("\n".join(result_lines(document, out, 1 << 20)) + "\n")
    return log


def test_k8s_result_writes_the_report_it_read_with_local_output_paths(tmp_path: Path) -> None:
    log = home_log(tmp_path, sample_document())
    got, rep = tmp_path / "got", tmp_path / "rep"
    assert jupiter(["k8s", "result", str(log), "--out", str(got), "--report", str(rep)]) == 0
    written = load_report(rep / "report.json")
    local = str((got / "0" / "d").resolve())
    assert [entry.outputs for entry in written.inputs] == [{"d": local}, {"d": local}]
    assert written.model_dump(exclude={"inputs"}) == Report.model_validate(
        sample_document()
    ).model_dump(exclude={"inputs"})


def test_k8s_result_refuses_a_report_that_breaks_the_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = sample_document()
    del document["throughput"]
    log = home_log(tmp_path, document)
    assert jupiter(["k8s", "result", str(log), "--out", str(tmp_path / "got")]) == 2
    assert capsys.readouterr().err == (
        f"error: {log}: throughput: not a Jupiter report: Field required\n"
    )
