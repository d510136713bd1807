"""Published figures to set beside a reproduction of Table 1, each with where it came from.

WOC '19, "Container Orchestration for Dispersed Computing" (Ghosh, Nguyen, Krishnamachari),
Table 1, times each module of Jupiter for dummy apps of M tasks on 106 nodes. Its figures
are not in this module: no copy of the paper's text was reachable when this was written,
and a figure is only printed here with its source. `PAPER` is where they go, per M, in the
same columns as ours (seconds), with `PAPER_SOURCE` naming the page.

`EARLIER` is this project's own first measurement of the same experiment (issue 14, on a
shared 2-core machine, before the profiler was reworked): the baseline a change is judged by.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    label: str
    source: str
    # The setup its figures were measured on (None: not stated); ours are set beside them
    # only when they match.
    nodes: int | None
    inputs: int | None
    # figures[M][column]: seconds, in the columns of table1.COLUMNS (a subset).
    figures: dict[int, dict[str, float]]


PAPER_SOURCE = (
    'Ghosh, Nguyen, Krishnamachari, "Container Orchestration for Dispersed Computing", '
    "Proc. 5th Int. Workshop on Container Technologies and Container Clouds (WOC '19), "
    "pp. 19-24, Table 1"
)
PAPER = Reference(
    label="the paper (WOC '19)", source=PAPER_SOURCE, nodes=106, inputs=None, figures={}
)

EARLIER = Reference(
    label="issue 14",
    nodes=106,
    inputs=10,
    source="this project's issue 14 (106 emulated nodes, 10 inputs, default settings, "
    "measured on a shared 2-core machine before the profiler was reworked)",
    figures={
        30: {"whole_run_s": 142.0, "profile_s": 133.0, "stream_s": 3.9, "teardown_s": 2.2},
        200: {"whole_run_s": 920.0, "profile_s": 802.0, "stream_s": 47.0, "teardown_s": 66.0},
    },
)

REFERENCES = (PAPER, EARLIER)
