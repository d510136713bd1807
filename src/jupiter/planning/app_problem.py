"""The scheduling problem of a generated or imported app, without running it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from jupiter.app.spec import load_app
from jupiter.app.synthetic_plan import AppPlan
from jupiter.app.synthetic_writer import write_files
from jupiter.cluster.spec import Cluster
from jupiter.mapper.problem import SchedulingProblem
from jupiter.planning.problem import build_problem


def plan_problem(plan: AppPlan, cluster: Cluster) -> SchedulingProblem:
    """The problem `jupiter run` would map for this app on this cluster (declared estimates).

    The app is written to a temporary folder for the controller's own `build_problem`, with
    samples as holes of the right size: no data is written, however large the trace's.
    """
    with tempfile.TemporaryDirectory(prefix="jupiter-import-") as folder:
        write_files(plan, Path(folder), sparse_samples=True)
        return build_problem(load_app(folder), cluster).problem


def app_problem(app_folder: Path, cluster: Cluster) -> SchedulingProblem:
    return build_problem(load_app(app_folder), cluster).problem
