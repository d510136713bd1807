"""Names for synthetic apps: valid, unique app task names from arbitrary ones, and the Python
names that bind each task's function in tasks/dag.py."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable

from jupiter.app import synthetic_task
from jupiter.app.validate import NAME_PATTERN

MAX_NAME = 128
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]+")
# A task bound to one of these would shadow what the task code itself calls (`open`, `task`).
_RESERVED_PYTHON = frozenset(vars(synthetic_task)) | frozenset(dir(builtins))


def _unique(base: str, taken: set[str], limit: int = MAX_NAME) -> str:
    name, n = base[:limit], 2
    while name in taken:
        suffix = f"_{n}"
        name, n = base[: limit - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def app_names(originals: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """original -> a valid app name, unique and not in `reserved`.

    A valid original keeps its name; the others get letters, digits, '_' and '-' only (runs
    of anything else become '_'), and a suffix `_2`, `_3`... where they would collide.
    """
    originals = list(originals)
    taken = set(reserved)
    names: dict[str, str] = {}
    for original in originals:
        if NAME_PATTERN.fullmatch(original) and original not in taken:
            names[original] = original
            taken.add(original)
    for original in originals:
        if original in names:
            continue
        base = _NOT_ALLOWED.sub("_", original) or "task"
        if base.startswith("-"):
            base = "t" + base
        names[original] = _unique(base, taken)
    return names


def python_names(names: Iterable[str]) -> dict[str, str]:
    """app task name -> the Python identifier its function is bound to in tasks/dag.py."""
    taken = set(_RESERVED_PYTHON)
    result: dict[str, str] = {}
    for name in names:
        base = name.replace("-", "_")
        if base[0].isdigit():
            base = "t_" + base
        if keyword.iskeyword(base) or keyword.issoftkeyword(base):
            base += "_"
        result[name] = _unique(base, taken, limit=10_000)
    return result
