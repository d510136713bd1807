"""The scheduling problem: tasks, nodes, profiled compute times, data edges and link models.

PROBLEM.json is the contract between the profilers, the controller and `jupiter schedule`
(see DESIGN.md, "Contracts"); its pydantic models are in problem_file.py. Construction never
validates, so a caller can assemble a problem piece by piece and then call `validate()`;
`load` and `from_dict` validate unless told not to (then each field is still checked on its
own, but not the rules that tie fields together: names, completeness, cycles, the cap).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupiter.errors import SpecError
from jupiter.mapper.problem_file import ProblemShape, parse_document, read_json
from jupiter.specfile import read_spec_text

# A problem file lists every pair of nodes: 1,000 nodes make a file of about 60 MB.
MAX_PROBLEM_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class LinkModel:
    """Transfer time of one directed link: `p + q*bytes + r*bytes^2` seconds."""

    p: float
    q: float
    r: float = 0.0

    def seconds(self, nbytes: float) -> float:
        return self.p + self.q * nbytes + self.r * nbytes * nbytes

    def to_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "r": self.r}


ZERO_LINK = LinkModel(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Edge:
    """A DAG edge: `src` sends `bytes` to `dst`, which cannot start before they arrive."""

    src: str
    dst: str
    bytes: float


@dataclass
class SchedulingProblem:
    tasks: list[str]
    nodes: list[str]
    compute: dict[str, dict[str, float]]
    edges: list[Edge]
    links: dict[str, dict[str, LinkModel]]
    pinned: dict[str, str] = field(default_factory=dict)
    max_tasks_per_node: int | None = None
    load: dict[str, dict[str, float]] = field(default_factory=dict)
    # Where the problem came from, so that error messages can name the file.
    source: str | None = field(default=None, compare=False, repr=False)

    # ---- queries -------------------------------------------------------------------------

    def transfer_seconds(self, src_node: str, dst_node: str, nbytes: float) -> float:
        if src_node == dst_node:
            return 0.0
        return self.links[src_node][dst_node].seconds(nbytes)

    def node_load(self, node: str) -> tuple[float, float]:
        """(cpu percent, memory percent) of a node; 0 where the problem says nothing."""
        figures = self.load.get(node, {})
        return float(figures.get("cpu", 0.0)), float(figures.get("memory", 0.0))

    # ---- validation ----------------------------------------------------------------------

    def validate(self) -> None:
        """Raise SpecError naming the first bad field; return quietly on a sound problem."""
        parse_document(self._document(), self.source)

    def _document(self) -> dict[str, Any]:
        # As given, unlike to_dict: nothing filled in or dropped, so that validation sees
        # what is missing or extra. Anything but a LinkModel goes through as it is and is
        # refused by the model.
        return {
            "tasks": self.tasks,
            "nodes": self.nodes,
            "compute": self.compute,
            "edges": [{"from": e.src, "to": e.dst, "bytes": e.bytes} for e in self.edges],
            "links": {
                src: {
                    dst: model.to_dict() if isinstance(model, LinkModel) else model
                    for dst, model in row.items()
                }
                for src, row in self.links.items()
            },
            "pinned": self.pinned,
            "max_tasks_per_node": self.max_tasks_per_node,
            "load": self.load,
        }

    # ---- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tasks": list(self.tasks),
            "nodes": list(self.nodes),
            "compute": {t: {n: self.compute[t][n] for n in self.nodes} for t in self.tasks},
            "edges": [{"from": e.src, "to": e.dst, "bytes": e.bytes} for e in self.edges],
            "links": {
                a: {b: self.links[a][b].to_dict() for b in self.nodes if b != a} for a in self.nodes
            },
        }
        if self.pinned:
            data["pinned"] = dict(self.pinned)
        if self.max_tasks_per_node is not None:
            data["max_tasks_per_node"] = self.max_tasks_per_node
        if self.load:
            data["load"] = {node: dict(figures) for node, figures in self.load.items()}
        return data

    @classmethod
    def from_dict(
        cls, data: Any, file: str | Path | None = None, *, validate: bool = True
    ) -> SchedulingProblem:
        source = str(file) if file is not None else None
        return cls._from_document(parse_document(data, source, rules=validate), source)

    @classmethod
    def _from_document(cls, doc: ProblemShape, source: str | None) -> SchedulingProblem:
        return cls(
            tasks=list(doc.tasks),
            nodes=list(doc.nodes),
            compute={task: dict(row) for task, row in doc.compute.items()},
            edges=[Edge(e.src, e.dst, e.bytes) for e in doc.edges],
            links={
                src: {dst: LinkModel(m["p"], m["q"], m.get("r", 0.0)) for dst, m in row.items()}
                for src, row in doc.links.items()
            },
            pinned=dict(doc.pinned),
            max_tasks_per_node=doc.max_tasks_per_node,
            # Only the figures the file gives: a figure left out is unknown, not 0.
            load={
                node: figures.model_dump(include=figures.model_fields_set)
                for node, figures in doc.load.items()
            },
            source=source,
        )

    @classmethod
    def from_file(cls, path: str | Path, *, validate: bool = True) -> SchedulingProblem:
        """Read PROBLEM.json; also reachable as `SchedulingProblem.load(path)`."""
        path = Path(path)
        if not path.exists():
            raise SpecError(path, None, "no such file")
        text = read_spec_text(path, MAX_PROBLEM_BYTES)
        return cls.from_dict(read_json(text, str(path)), path, validate=validate)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


class _LoadOnClass:
    """Makes `SchedulingProblem.load(path)` read a file while `problem.load` stays the per-node
    load figures. Both names are public API. Every instance stores its `load` field in its own
    __dict__, which wins over this non-data descriptor, so only the class sees the reader."""

    def __get__(self, instance: object, owner: type[SchedulingProblem]) -> Any:
        if instance is not None:
            raise AttributeError("load")
        return owner.from_file


# Set after @dataclass has turned the `load` field into an __init__ argument.
SchedulingProblem.load = _LoadOnClass()  # type: ignore[assignment,method-assign]
