"""Logging for every Jupiter process: one line per record, with the run id, node, task and
input id as fields, so that the logs of a hundred agents can be merged and filtered.

Code logs through `logging.getLogger(__name__)` and passes what it knows as `extra`, e.g.
`log.warning("send failed", extra={"task": "t07", "input_id": 3})`; the process's own run id
and node are stamped on every record by `configure`.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

FIELDS = ("run_id", "node", "task", "input_id")
LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "warning"


class _Stamp(logging.Filter):
    """Fills the process-wide fields, and '-' for what a record does not say."""

    def __init__(self, run_id: str | None, node: str | None) -> None:
        super().__init__()
        self.defaults = {"run_id": run_id, "node": node}

    def filter(self, record: logging.LogRecord) -> bool:
        for field in FIELDS:
            if getattr(record, field, None) is None:
                setattr(record, field, self.defaults.get(field) or "-")
        return True


FORMAT = (
    "%(asctime)s %(levelname)s %(name)s run=%(run_id)s node=%(node)s task=%(task)s "
    "input=%(input_id)s: %(message)s"
)


def configure(
    level: str = DEFAULT_LEVEL,
    run_id: str | None = None,
    node: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Route the `jupiter` loggers to `stream` (stderr) at `level`, replacing any earlier set-up."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_Stamp(run_id, node))
    root = logging.getLogger("jupiter")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
