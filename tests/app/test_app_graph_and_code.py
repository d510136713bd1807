"""Graph ordering and the ast-based check of task functions."""

from __future__ import annotations

import pytest

from jupiter.app.codecheck import find_problem
from jupiter.app.graph import CycleError, topological_order


def test_order_prefers_declaration_order() -> None:
    parents = {"c": [], "b": ["c"], "a": [], "d": ["a", "b"]}
    assert topological_order(parents) == ["c", "b", "a", "d"]


def test_cycle_is_named_from_its_first_declared_task() -> None:
    with pytest.raises(CycleError) as caught:
        topological_order({"x": [], "q": ["x", "s"], "r": ["q"], "s": ["r"]})
    assert caught.value.cycle == ["q", "r", "s", "q"]
    assert str(caught.value) == "q -> r -> s -> q"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f(inputs, output): pass", None),
        ("def f(inputs, output=None, *rest, flag=1): pass", None),
        ("def f(*args): pass", None),
        ("from helpers import f", None),
        ("import os\nf = os.path.join", None),
        ("from helpers import *", None),
        ("try:\n    from fast import f\nexcept ImportError:\n    def f(i, o): pass", None),
        ("class f:\n    pass", None),
        ("def g(inputs, output): pass", "has no top-level function 'f'; it defines: g"),
        ("class C:\n    def f(self, i, o): pass", "has no top-level function 'f'"),
        ("async def f(inputs, output): pass", "'f' is async"),
        ("def f(inputs): pass", "must accept two arguments"),
        ("def f(a, b, c): pass", "needs 3 arguments"),
        ("def f(i, o, *, key): pass", "keyword-only arguments without defaults"),
        ("def f(i, o):\n  return (", "line 2: syntax error"),
    ],
)
def test_find_problem(source: str, problem: str | None) -> None:
    found = find_problem(source, "t.py", "f")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
