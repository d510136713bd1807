"""The mapper that docs/mappers.md shows is real: it runs and its schedules are valid."""

from __future__ import annotations

import re
from pathlib import Path

from mapper_cases import random_case

from jupiter.mapper.examples import topcuoglu_2002

DOC = Path(__file__).parents[2] / "docs" / "mappers.md"


def example_mapper():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    source = next(b for b in blocks if "def schedule(" in b)
    namespace: dict = {}
    exec(compile(source, str(DOC), "exec"), namespace)
    return namespace["schedule"]


def test_documented_mapper_is_valid_without_a_cap():
    schedule = example_mapper()
    problem = topcuoglu_2002()
    result = schedule(problem)
    result.check(problem)
    # n1 is fastest on P3 (9), n10 on P2 (7): the mapper does what the doc says.
    assert result.node_of("n1") == "P3" and result.node_of("n10") == "P2"
    for seed in range(50):
        case = random_case(seed)
        case.max_tasks_per_node = None
        schedule(case).check(case)
