"""The scheduling problem: tasks, nodes, profiled compute times, data edges and link models.

PROBLEM.json is the contract between the profilers, the controller and `jupiter schedule`
(see DESIGN.md, "Contracts"). Construction never validates, so a caller can assemble a
problem piece by piece and then call `validate()`; `load` and `from_dict` validate unless
told not to.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupiter.errors import SpecError

TOP_LEVEL_FIELDS = (
    "tasks",
    "nodes",
    "compute",
    "edges",
    "links",
    "pinned",
    "max_tasks_per_node",
    "load",
)
REQUIRED_FIELDS = ("tasks", "nodes", "compute", "edges", "links")
LOAD_FIELDS = ("cpu", "memory")


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
        _Validator(self).run()

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
        problem = _Parser(str(file) if file is not None else None).problem(data)
        if validate:
            problem.validate()
        return problem

    @classmethod
    def from_file(cls, path: str | Path, *, validate: bool = True) -> SchedulingProblem:
        """Read PROBLEM.json; also reachable as `SchedulingProblem.load(path)`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(path, None, "no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SpecError(path, None, f"cannot read: {error}") from None
        try:
            data = json.loads(text, object_pairs_hook=_KeyedObject.from_pairs)
        except json.JSONDecodeError as error:
            raise SpecError(
                path, None, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
            ) from None
        return cls.from_dict(data, path, validate=validate)

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


# ---- parsing: JSON shapes to typed fields ----------------------------------------------------


class _KeyedObject(dict[str, Any]):
    """A JSON object that remembers keys given twice; plain json.loads keeps the last silently,
    and a second compute entry for the same node is almost always a copy-paste mistake."""

    duplicates: list[str]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _KeyedObject:
        obj = cls()
        obj.duplicates = []
        for key, value in pairs:
            if key in obj:
                obj.duplicates.append(key)
            obj[key] = value
        return obj


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Parser:
    def __init__(self, file: str | None) -> None:
        self.file = file

    def fail(self, path: str | None, message: str) -> SpecError:
        return SpecError(self.file, path or None, message)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a JSON object, got {_kind(value)}")
        duplicates = getattr(value, "duplicates", None)
        if duplicates:
            raise self.fail(_join(path, duplicates[0]), "given twice")
        return value

    def array(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, got {_kind(value)}")
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"must be a non-empty string, got {_kind(value)}")
        return value

    def number(self, value: Any, path: str) -> float:
        # bool is an int in Python; `true` seconds is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {_kind(value)}")
        return float(value)

    def problem(self, data: Any) -> SchedulingProblem:
        top = self.obj(data, "")
        for key in top:
            if key not in TOP_LEVEL_FIELDS:
                close = difflib.get_close_matches(key, TOP_LEVEL_FIELDS, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"expected one of: {', '.join(TOP_LEVEL_FIELDS)}"
                )
                raise self.fail(key, f"unknown field; {hint}")
        for key in REQUIRED_FIELDS:
            if key not in top:
                raise self.fail(key, "missing required field")

        tasks = [
            self.string(v, _join("tasks", i))
            for i, v in enumerate(self.array(top["tasks"], "tasks"))
        ]
        nodes = [
            self.string(v, _join("nodes", i))
            for i, v in enumerate(self.array(top["nodes"], "nodes"))
        ]

        compute: dict[str, dict[str, float]] = {}
        for task, row in self.obj(top["compute"], "compute").items():
            row_path = _join("compute", task)
            compute[task] = {
                node: self.number(seconds, _join(row_path, node))
                for node, seconds in self.obj(row, row_path).items()
            }

        edges = [
            self.edge(v, _join("edges", i)) for i, v in enumerate(self.array(top["edges"], "edges"))
        ]

        links: dict[str, dict[str, LinkModel]] = {}
        for src, row in self.obj(top["links"], "links").items():
            row_path = _join("links", src)
            links[src] = {
                dst: self.link(model, _join(row_path, dst))
                for dst, model in self.obj(row, row_path).items()
            }

        pinned = {
            task: self.string(node, _join("pinned", task))
            for task, node in self.obj(top.get("pinned", {}), "pinned").items()
        }

        cap = top.get("max_tasks_per_node")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int)):
            raise self.fail("max_tasks_per_node", f"must be an integer, got {_kind(cap)}")

        load: dict[str, dict[str, float]] = {}
        for node, figures in self.obj(top.get("load", {}), "load").items():
            node_path = _join("load", node)
            load[node] = {}
            for key, value in self.obj(figures, node_path).items():
                if key not in LOAD_FIELDS:
                    raise self.fail(_join(node_path, key), "unknown field (expected: cpu, memory)")
                load[node][key] = self.number(value, _join(node_path, key))

        return SchedulingProblem(
            tasks=tasks,
            nodes=nodes,
            compute=compute,
            edges=edges,
            links=links,
            pinned=pinned,
            max_tasks_per_node=cap,
            load=load,
            source=self.file,
        )

    def edge(self, value: Any, path: str) -> Edge:
        entry = self.obj(value, path)
        for key in entry:
            if key not in ("from", "to", "bytes"):
                raise self.fail(_join(path, key), "unknown field (expected: from, to, bytes)")
        for key in ("from", "to", "bytes"):
            if key not in entry:
                raise self.fail(_join(path, key), "missing")
        return Edge(
            self.string(entry["from"], _join(path, "from")),
            self.string(entry["to"], _join(path, "to")),
            self.number(entry["bytes"], _join(path, "bytes")),
        )

    def link(self, value: Any, path: str) -> LinkModel:
        entry = self.obj(value, path)
        for key in entry:
            if key not in ("p", "q", "r"):
                raise self.fail(_join(path, key), "unknown field (expected: p, q, r)")
        for key in ("p", "q"):
            if key not in entry:
                raise self.fail(_join(path, key), "missing")
        return LinkModel(
            self.number(entry["p"], _join(path, "p")),
            self.number(entry["q"], _join(path, "q")),
            self.number(entry.get("r", 0.0), _join(path, "r")),
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# ---- validation: meaning -------------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(value)


def _non_negative(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


class _Validator:
    def __init__(self, problem: SchedulingProblem) -> None:
        self.p = problem

    def fail(self, path: str | None, message: str) -> SpecError:
        return SpecError(self.p.source, path, message)

    def run(self) -> None:
        tasks = self.names(self.p.tasks, "tasks", "task")
        nodes = self.names(self.p.nodes, "nodes", "node")
        self.compute(tasks, nodes)
        self.edges(tasks)
        self.acyclic()
        self.links(nodes)
        self.pinned(tasks, nodes)
        self.cap()
        self.load(nodes)

    def names(self, names: Any, path: str, what: str) -> set[str]:
        if not isinstance(names, list):
            raise self.fail(path, f"must be a list of {what} names")
        if not names:
            raise self.fail(path, f"needs at least one {what}")
        seen: set[str] = set()
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise self.fail(_join(path, i), f"{what} name must be a non-empty string")
            if name in seen:
                raise self.fail(_join(path, i), f"{what} {name!r} is listed twice")
            seen.add(name)
        return seen

    def compute(self, tasks: set[str], nodes: set[str]) -> None:
        for task in self.p.compute:
            if task not in tasks:
                raise self.fail(_join("compute", task), f"unknown task {task!r}")
        for task in self.p.tasks:
            row = self.p.compute.get(task)
            if row is None:
                raise self.fail(
                    _join("compute", task), "missing: every task needs seconds on every node"
                )
            for node in row:
                if node not in nodes:
                    raise self.fail(_join(_join("compute", task), node), f"unknown node {node!r}")
            for node in self.p.nodes:
                path = _join(_join("compute", task), node)
                if node not in row:
                    raise self.fail(path, f"missing: no seconds for task {task!r} on node {node!r}")
                if not _non_negative(row[node]):
                    raise self.fail(
                        path, f"must be a non-negative number of seconds, got {_show(row[node])}"
                    )

    def edges(self, tasks: set[str]) -> None:
        seen: set[tuple[str, str]] = set()
        for i, edge in enumerate(self.p.edges):
            path = _join("edges", i)
            if edge.src not in tasks:
                raise self.fail(_join(path, "from"), f"unknown task {edge.src!r}")
            if edge.dst not in tasks:
                raise self.fail(_join(path, "to"), f"unknown task {edge.dst!r}")
            if not _non_negative(edge.bytes):
                raise self.fail(
                    _join(path, "bytes"), f"must be a non-negative number, got {_show(edge.bytes)}"
                )
            if (edge.src, edge.dst) in seen:
                raise self.fail(path, f"edge {edge.src} -> {edge.dst} is listed twice")
            seen.add((edge.src, edge.dst))

    def acyclic(self) -> None:
        cycle = find_cycle(self.p.tasks, ((e.src, e.dst) for e in self.p.edges))
        if cycle:
            raise self.fail("edges", "cycle: " + " -> ".join([*cycle, cycle[0]]))

    def links(self, nodes: set[str]) -> None:
        for src, row in self.p.links.items():
            if src not in nodes:
                raise self.fail(_join("links", src), f"unknown node {src!r}")
            for dst, model in row.items():
                path = _join(_join("links", src), dst)
                if dst not in nodes:
                    raise self.fail(path, f"unknown node {dst!r}")
                if not isinstance(model, LinkModel):
                    raise self.fail(path, "must be a link model {p, q, r}")
                for name in ("p", "q", "r"):
                    value = getattr(model, name)
                    if not _non_negative(value):
                        raise self.fail(
                            _join(path, name), f"must be a non-negative number, got {_show(value)}"
                        )
                if dst == src and model != ZERO_LINK:
                    raise self.fail(
                        path, "a transfer on the same node always takes 0 s; remove this entry"
                    )
        for src in self.p.nodes:
            row = self.p.links.get(src, {})
            for dst in self.p.nodes:
                if dst != src and dst not in row:
                    raise self.fail(
                        _join(_join("links", src), dst),
                        f"missing link model from {src!r} to {dst!r}",
                    )

    def pinned(self, tasks: set[str], nodes: set[str]) -> None:
        for task, node in self.p.pinned.items():
            if task not in tasks:
                raise self.fail(_join("pinned", task), f"unknown task {task!r}")
            if node not in nodes:
                raise self.fail(_join("pinned", task), f"unknown node {node!r}")

    def cap(self) -> None:
        cap = self.p.max_tasks_per_node
        if cap is None:
            return
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise self.fail("max_tasks_per_node", f"must be a positive integer, got {cap!r}")
        if cap * len(self.p.nodes) < len(self.p.tasks):
            raise self.fail(
                "max_tasks_per_node",
                f"{cap} per node on {len(self.p.nodes)} nodes cannot hold "
                f"{len(self.p.tasks)} tasks",
            )
        per_node: dict[str, int] = {}
        for node in self.p.pinned.values():
            per_node[node] = per_node.get(node, 0) + 1
        for node, count in per_node.items():
            if count > cap:
                raise self.fail(
                    "max_tasks_per_node", f"{count} tasks are pinned to {node!r}, more than {cap}"
                )

    def load(self, nodes: set[str]) -> None:
        for node, figures in self.p.load.items():
            path = _join("load", node)
            if node not in nodes:
                raise self.fail(path, f"unknown node {node!r}")
            for key, value in figures.items():
                if key not in LOAD_FIELDS:
                    raise self.fail(_join(path, key), "unknown field (expected: cpu, memory)")
                if not _non_negative(value):
                    raise self.fail(
                        _join(path, key), f"must be a non-negative percentage, got {_show(value)}"
                    )


def find_cycle(tasks: list[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """One cycle as a list of tasks (empty when the graph is acyclic)."""
    succ: dict[str, list[str]] = {task: [] for task in tasks}
    for src, dst in edges:
        succ.setdefault(src, []).append(dst)
        succ.setdefault(dst, [])
    # Iterative colouring DFS: recursion would overflow on long chains of tasks.
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(succ, white)
    for root in succ:
        if colour[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = grey
        while stack:
            task, i = stack[-1]
            if i < len(succ[task]):
                stack[-1] = (task, i + 1)
                nxt = succ[task][i]
                if colour[nxt] == grey:
                    return path[path.index(nxt) :]
                if colour[nxt] == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[task] = black
                stack.pop()
                path.pop()
    return []
