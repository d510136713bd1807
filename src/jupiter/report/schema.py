"""report.json's JSON Schema, generated from the model: committed as docs/report.schema.json.

After a change to the model, regenerate it and commit both:

    python -m jupiter.report.schema > docs/report.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from jupiter.report.model import Report

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def report_schema() -> dict[str, Any]:
    # Pydantic writes draft 2020-12 without saying so; the dialect makes the file standalone.
    return {"$schema": DIALECT, **Report.model_json_schema()}


def schema_text() -> str:
    return json.dumps(report_schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())
