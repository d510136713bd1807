"""A synthetic app before it is written: tasks with CPU budgets and output sizes, sources
with generated samples. The generator and the WfCommons importer build one; the writer turns
it into a folder; `expected_outputs` says what a correct run returns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from jupiter.app import synthetic_task

# Outputs carry at least one digest, so every task's output still depends on its inputs.
MIN_OUTPUT_BYTES = 32
SAMPLES_PER_SOURCE = 3


@dataclass(frozen=True)
class PlannedTask:
    name: str
    parents: tuple[str, ...]
    seconds: float  # CPU budget of one call; also the declared estimate
    output_bytes: int
    function: str  # the Python name bound in tasks/dag.py
    comment: str = ""  # one line shown above the task in app.yaml


@dataclass(frozen=True)
class PlannedSource:
    name: str
    feeds: tuple[str, ...]
    sample_bytes: int
    salt: str  # makes this source's samples differ from every other app's and source's

    def sample(self, k: int) -> bytes:
        return synthetic_task.sample_content(f"{self.salt}/{self.name}/{k}", self.sample_bytes)


@dataclass
class AppPlan:
    name: str
    description: str
    tasks: list[PlannedTask]  # in topological order
    sources: list[PlannedSource]
    header: list[str] = field(default_factory=list)  # comment lines atop app.yaml
    samples: int = SAMPLES_PER_SOURCE

    def children(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {t.name: [] for t in self.tasks}
        for t in self.tasks:
            for parent in t.parents:
                found[parent].append(t.name)
        return found

    def exits(self) -> list[str]:
        children = self.children()
        return [t.name for t in self.tasks if not children[t.name]]

    def edges(self) -> list[tuple[str, str]]:
        return [(parent, t.name) for t in self.tasks for parent in t.parents]


def expected_outputs(plan: AppPlan) -> dict[int, dict[str, str]]:
    """For each sample index k: the sha256 (hex) of every exit's output for input id k.

    Input id k uses sample k mod `plan.samples` at every source, so this covers every input
    id. It runs the same functions as the tasks, minus the CPU burn.
    """
    exits = plan.exits()
    feeds: dict[str, list[str]] = {}
    for source in plan.sources:
        for fed in source.feeds:
            feeds.setdefault(fed, []).append(source.name)
    result: dict[int, dict[str, str]] = {}
    for k in range(plan.samples):
        digests = {s.name: hashlib.sha256(s.sample(k)).digest() for s in plan.sources}
        for t in plan.tasks:
            upstream = {name: digests[name] for name in (*t.parents, *feeds.get(t.name, []))}
            content = synthetic_task.output_content(
                synthetic_task.mix(t.name, upstream), t.output_bytes
            )
            digests[t.name] = hashlib.sha256(content).digest()
        result[k] = {name: digests[name].hex() for name in exits}
    return result
