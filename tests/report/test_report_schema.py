"""docs/report.schema.json is the model's schema, and a schema other tools can use."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from report_samples import sample_document

from jupiter.report.schema import report_schema, schema_text

SCHEMA = Path(__file__).parents[2] / "docs" / "report.schema.json"
PROFILER_MODELS = {"Profile", "LinkProfile", "ResourceSample"}


def test_the_committed_schema_is_the_models() -> None:
    # A change to the contract must show up in review as a change to this file.
    assert SCHEMA.read_text() == schema_text(), (
        "report.json's model changed: python -m jupiter.report.schema > docs/report.schema.json"
    )


def test_the_schema_is_draft_2020_12_and_documents_every_field() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == report_schema()
    # The profile section is the profiler's own model (docs/profiling.md), embedded as is.
    ours = [d for d in [schema, *schema["$defs"].values()] if d["title"] not in PROFILER_MODELS]
    assert {d["title"] for d in ours} >= {"Jupiter report.json", "TaskStats", "KubernetesSection"}
    for model in ours:
        assert model.get("description"), f"{model['title']} has no description"
        for name, field in model["properties"].items():
            assert field.get("description"), f"{model['title']}.{name} has no description"


def test_the_schema_accepts_a_report_and_refuses_unknown_or_missing_fields() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    document = sample_document()
    validator.validate(document)
    with pytest.raises(jsonschema.ValidationError, match="'note' was unexpected"):
        validator.validate({**document, "stats": [{**document["stats"][0], "note": 1}]})
    with pytest.raises(jsonschema.ValidationError, match="'makespan' is a required property"):
        validator.validate({k: v for k, v in document.items() if k != "makespan"})
