"""The worked example of Topcuoglu, Hariri and Wu (TPDS 2002), Fig. 2 and Table 1.

Ten tasks on three processors. The paper gives communication costs directly; here each
edge carries that many bytes over links of 1 s per byte (p=0, q=1), and 0 on the same
node, which is the same thing. The paper's schedules have length 80 (HEFT) and 86 (CPOP).
"""

from __future__ import annotations

from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem

# Table 1: computation cost of each task on P1, P2, P3.
TOPCUOGLU_COMPUTE: dict[str, tuple[float, float, float]] = {
    "n1": (14, 16, 9),
    "n2": (13, 19, 18),
    "n3": (11, 13, 19),
    "n4": (13, 8, 17),
    "n5": (12, 13, 10),
    "n6": (13, 16, 9),
    "n7": (7, 15, 11),
    "n8": (5, 11, 14),
    "n9": (18, 12, 20),
    "n10": (21, 7, 16),
}

# Fig. 2: edges with their communication costs.
TOPCUOGLU_EDGES: tuple[tuple[str, str, float], ...] = (
    ("n1", "n2", 18),
    ("n1", "n3", 12),
    ("n1", "n4", 9),
    ("n1", "n5", 11),
    ("n1", "n6", 14),
    ("n2", "n8", 19),
    ("n2", "n9", 16),
    ("n3", "n7", 23),
    ("n4", "n8", 27),
    ("n4", "n9", 23),
    ("n5", "n9", 13),
    ("n6", "n8", 15),
    ("n7", "n10", 17),
    ("n8", "n10", 11),
    ("n9", "n10", 13),
)


def topcuoglu_2002() -> SchedulingProblem:
    nodes = ["P1", "P2", "P3"]
    unit = LinkModel(0.0, 1.0, 0.0)
    return SchedulingProblem(
        tasks=list(TOPCUOGLU_COMPUTE),
        nodes=nodes,
        compute={t: dict(zip(nodes, costs, strict=True)) for t, costs in TOPCUOGLU_COMPUTE.items()},
        edges=[Edge(s, d, b) for s, d, b in TOPCUOGLU_EDGES],
        links={a: {b: unit for b in nodes if b != a} for a in nodes},
    )
