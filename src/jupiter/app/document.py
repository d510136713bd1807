"""The app.yaml document as pydantic models, and pydantic's errors as one SpecError line.

These models check shape and types only (unknown fields, wrong types, negative estimates);
the rules that relate fields to each other live in validate.py.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from jupiter.app.locate import Loc, Locator, describe, suggest
from jupiter.errors import SpecError


class _Strict(BaseModel):
    # strict: YAML `name: yes` or `output_bytes: "12"` is a mistake, not something to coerce.
    model_config = ConfigDict(extra="forbid", strict=True)


class EstimateDoc(_Strict):
    """Expected cost of one run of a task; both values are needed to skip profiling."""

    seconds: float = Field(ge=0, allow_inf_nan=False)
    output_bytes: int = Field(ge=0)


# A day: a longer timeout is almost certainly a unit mistake (milliseconds for seconds).
MAX_TIMEOUT_S = 86_400.0
# Beyond this many retries a task is broken, not flaky; retrying only delays the report.
MAX_RETRIES = 10


Timeout = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)]
Retries = Annotated[int, Field(ge=0, le=MAX_RETRIES)]


class TaskLimits(_Strict):
    """How long one attempt of a task may run (seconds), and how often a failed one is
    retried. The shape of app.yaml's `defaults:` block and of the CLI's --task-timeout and
    --retries; None leaves the value to the next level down (see spec.py's `_build`)."""

    timeout: Timeout | None = None
    retries: Retries | None = None


# Memory sizes as Kubernetes writes them: binary (Ki, Mi, Gi, Ti) or decimal (k, M, G, T)
# multiples of a byte; a bare whole number is bytes.
MEMORY_UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")
# Below a mebibyte not even a shell starts; above this it is a unit mistake, not a limit.
MIN_MEMORY_BYTES = 2**20
MAX_MEMORY_BYTES = 2**46
MAX_CPU_SECONDS = int(MAX_TIMEOUT_S)


def memory_bytes(value: object) -> int:
    """A memory size (`512Mi`, `2Gi`, `500M`, or whole bytes) in bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _MEMORY.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None or match.group(2) not in ("", *MEMORY_UNITS):
            raise PydanticCustomError(
                "memory_size",
                "expected a size such as 512Mi or 2Gi (units Ki, Mi, Gi, Ti; k, M, G, T; "
                "none for bytes), got {given}",
                {"given": repr(value)},
            )
        size = int(float(match.group(1)) * MEMORY_UNITS.get(match.group(2), 1))
    if not MIN_MEMORY_BYTES <= size <= MAX_MEMORY_BYTES:
        raise PydanticCustomError(
            "memory_range",
            "must be between 1Mi and 64Ti, got {given}",
            {"given": repr(value)},
        )
    return size


def format_memory(size: int) -> str:
    """`512 MiB`, `1 GiB`, `476.8 MiB`: how a limit is named in messages."""
    if size % 2**30 == 0:
        return f"{size // 2**30} GiB"
    mib = size / 2**20
    return f"{mib:g} MiB" if mib == int(mib) else f"{mib:.1f} MiB"


class ResourcesDoc(_Strict):
    """A task's limits on this machine, for every process of each run of it (local and
    hosts backends; on Kubernetes the pod's limits apply). `memory`: writable memory
    (RLIMIT_DATA), a size such as 512Mi; `cpu_seconds`: CPU time, whole seconds."""

    memory: int | None = None
    cpu_seconds: int | None = Field(default=None, ge=1, le=MAX_CPU_SECONDS)

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_in_bytes(cls, value: object) -> int | None:
        return None if value is None else memory_bytes(value)


class TaskDoc(_Strict):
    """One entry under `tasks:`; its name is the mapping key."""

    python: str | None = None
    command: str | None = None
    parents: list[str] = Field(default_factory=list)
    estimate: EstimateDoc | None = None
    node: str | None = Field(default=None, min_length=1)
    timeout: Timeout | None = None
    retries: Retries | None = None
    resources: ResourcesDoc | None = None


class SourceSpec(BaseModel):
    """Where inputs enter the app: its sample files and the entry tasks they feed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str
    feeds: list[str]
    inputs: list[str]
    node: str | None = Field(default=None, min_length=1)


class AppDoc(_Strict):
    name: str
    description: str = ""
    sources: list[SourceSpec] = Field(default_factory=list)
    tasks: dict[str, TaskDoc] = Field(default_factory=dict)
    exits: list[str] | None = None
    defaults: TaskLimits | None = None


def parse_document(data: object, locator: Locator) -> AppDoc:
    """Validate the shape of a loaded app.yaml; raise the first problem as a SpecError."""
    if data is None:
        raise locator.error((), "the file is empty; an app needs name, sources and tasks")
    if not isinstance(data, dict):
        raise locator.error(
            (), f"expected a mapping with name, sources and tasks, got {describe(data)}"
        )
    try:
        return AppDoc.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise _to_spec_error(first, locator) from None


_TYPE_NAMES = {
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
}


def _to_spec_error(error: Any, locator: Locator) -> Exception:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":
        # A mapping key of the wrong type, e.g. a task named `1` or `true`.
        return locator.error(loc[:-2], f"names must be strings, got {describe(value)}")
    if kind == "missing":
        return locator.error(loc, "required field is missing")
    if kind == "extra_forbidden":
        allowed = _field_names(loc[:-1])
        name = str(loc[-1])
        return locator.error(
            loc, f"unknown field{suggest(name, allowed)}; allowed: {', '.join(allowed)}"
        )
    if kind in _TYPE_NAMES:
        return locator.error(loc, f"expected {_TYPE_NAMES[kind]}, got {describe(value)}")
    if kind == "greater_than_equal":
        return locator.error(loc, f"must be >= {ctx.get('ge', 0):g}, got {value!r}")
    if kind == "greater_than":
        return locator.error(loc, f"must be > {ctx.get('gt', 0):g}, got {value!r}")
    if kind == "less_than_equal":
        return locator.error(loc, f"must be <= {ctx.get('le', 0):g}, got {value!r}")
    if kind == "finite_number":
        return locator.error(loc, f"must be a finite number, got {value!r}")
    if kind in ("too_short", "string_too_short"):
        return locator.error(loc, "must not be empty")
    message = str(error.get("msg", "invalid value"))
    return locator.error(loc, message[:1].lower() + message[1:])


def _field_names(loc: Loc) -> list[str]:
    """The allowed field names of the model found at `loc` in an AppDoc."""
    annotation: Any = AppDoc
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        else:
            # list[X] or dict[str, X]: an index or key steps into X
            args = typing.get_args(annotation)
            annotation = args[-1] if args else None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """X | None -> X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def parse_limits(timeout: float | None, retries: int | None) -> TaskLimits:
    """The CLI's --task-timeout and --retries as TaskLimits; a bad one is a SpecError naming
    the flag, with the same bounds as app.yaml's fields."""
    flags = {"timeout": "--task-timeout", "retries": "--retries"}
    try:
        # Not strict: a value from click or Python may be an int where a float is meant.
        return TaskLimits.model_validate({"timeout": timeout, "retries": retries}, strict=False)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        flag = flags[str(first["loc"][0])]
        located = _to_spec_error(first, Locator("<command line>"))
        message = located.message if isinstance(located, SpecError) else str(located)
        raise SpecError(None, flag, message) from None
