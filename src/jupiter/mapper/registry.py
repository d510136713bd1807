"""Mappers by name: the built-ins, those registered in-process, and the `jupiter.mappers`
entry points of installed packages.

A mapper is any callable `schedule(problem) -> Schedule`. An entry point may name that
callable, or a module or object with a `schedule` attribute. Built-in names cannot be
taken over, so `heft` means the same thing on every machine.

`get_mapper` always returns a `Mapper`, which also takes a partial schedule (`existing`,
`exclude`; see partial.py). A mapper that takes only `problem` is adapted: it is given the
reduced problem (excluded nodes removed, kept tasks pinned), and, like every mapper, it must
honour pins, which `Schedule.check(problem, existing=..., exclude=...)` verifies.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Collection, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol

from jupiter.errors import SpecError
from jupiter.mapper.partial import reduced_problem
from jupiter.mapper.problem import SchedulingProblem
from jupiter.mapper.schedule import Schedule


class Mapper(Protocol):
    """A mapper that can complete a partial schedule (every built-in is one)."""

    def __call__(
        self,
        problem: SchedulingProblem,
        *,
        existing: Mapping[str, str] | None = None,
        exclude: Collection[str] = (),
    ) -> Schedule: ...


FullMapper = Callable[[SchedulingProblem], Schedule]

ENTRY_POINT_GROUP = "jupiter.mappers"

# Imported on first use so that listing names stays cheap.
BUILTIN: dict[str, str] = {
    "heft": "jupiter.mapper.heft:schedule",
    "cpop": "jupiter.mapper.cpop:schedule",
    "wave": "jupiter.mapper.wave:schedule",
    "wave-random": "jupiter.mapper.wave:schedule_random",
    "round-robin": "jupiter.mapper.round_robin:schedule",
    "random": "jupiter.mapper.random_mapper:schedule",
    "fastest": "jupiter.mapper.fastest:schedule",
    "stream": "jupiter.mapper.stream:schedule",
    "wave-classic": "jupiter.mapper.wave:schedule_classic",
    "wave-greedy": "jupiter.mapper.wave:schedule_greedy",
    "wave-distributed": "jupiter.mapper.wave:schedule_distributed",
}

_registered: dict[str, Mapper | FullMapper] = {}


def takes_partial(mapper: Mapper | FullMapper) -> bool:
    """Whether `mapper` accepts `existing` and `exclude` by keyword."""
    try:
        parameters = inspect.signature(mapper).parameters
    except (TypeError, ValueError):  # some callables have no signature to read
        return False
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return all(
        name in parameters and parameters[name].kind in by_keyword
        for name in ("existing", "exclude")
    )


def partial_capable(mapper: Mapper | FullMapper) -> Mapper:
    """`mapper` itself when it takes a partial schedule, else an adapter that hands it the
    reduced problem (full schedules still go to it unchanged)."""
    if takes_partial(mapper):
        return mapper  # type: ignore[return-value]
    full: FullMapper = mapper  # type: ignore[assignment]

    @functools.wraps(full)
    def adapted(
        problem: SchedulingProblem,
        *,
        existing: Mapping[str, str] | None = None,
        exclude: Collection[str] = (),
    ) -> Schedule:
        return full(reduced_problem(problem, existing, exclude))

    return adapted


def register(name: str, mapper: Mapper | FullMapper) -> None:
    """Add a mapper for this process (tests, notebooks); installed packages use entry points."""
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in mapper")
    _registered[name] = mapper


def unregister(name: str) -> None:
    _registered.pop(name, None)


def _plugins() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in BUILTIN:
            found.setdefault(point.name, point)
    return found


def available_mappers() -> list[str]:
    """Built-ins in their documented order, then the others alphabetically."""
    extra = sorted(set(_registered) | set(_plugins()))
    return [*BUILTIN, *extra]


def get_mapper(name: str) -> Mapper:
    if name in BUILTIN:
        module, attribute = BUILTIN[name].split(":")
        return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]
    if name in _registered:
        return partial_capable(_registered[name])
    point = _plugins().get(name)
    if point is None:
        raise SpecError(
            None,
            "algorithm",
            f"unknown mapper {name!r} (available: {', '.join(available_mappers())})",
        )
    try:
        loaded = point.load()
    except Exception as error:  # a broken plugin must not look like a typo in the name
        raise SpecError(
            None,
            "algorithm",
            f"mapper {name!r} from entry point {point.value!r} failed to load: {error}",
        ) from error
    mapper = getattr(loaded, "schedule", loaded)
    if not callable(mapper):
        raise SpecError(
            None, "algorithm", f"entry point {point.value!r} for {name!r} is not a callable mapper"
        )
    return partial_capable(mapper)
