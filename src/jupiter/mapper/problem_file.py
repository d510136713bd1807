"""PROBLEM.json as a document: the pydantic models of the format and their one-line errors.

`ProblemShape` is what each field may hold (names, non-negative finite numbers, the keys of
every object); `ProblemFile` adds the rules that tie fields together (problem_rules.py).
Both forbid unknown keys. Validation errors become one SpecError naming the file and the
path of the first bad field, e.g. `problem.json: links.n1.n2.q: must be ...`.
"""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any, NotRequired, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
    with_config,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypedDict

from jupiter.errors import SpecError
from jupiter.mapper.problem_rules import Loc, first_broken_rule

# Pydantic error type of a broken cross-field rule; its message is the rule's own.
RULE_ERROR = "problem_rule"

Name = Annotated[str, Field(min_length=1)]
Names = Annotated[list[Name], Field(min_length=1)]
# Strict mode takes JSON integers as numbers but refuses booleans: `true` seconds is a
# mistake, not 1.
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@with_config(ConfigDict(extra="forbid", strict=True))
class LinkFile(TypedDict):
    """Transfer time of one directed link: `p + q*bytes + r*bytes^2` seconds.

    A TypedDict, not a model: a problem on 106 nodes has 11,130 links, and building a model
    object for each tripled the time to validate them."""

    p: NonNegative
    q: NonNegative
    r: NotRequired[NonNegative]


class EdgeFile(_Strict):
    src: Name = Field(alias="from")
    dst: Name = Field(alias="to")
    bytes: NonNegative


class LoadFile(_Strict):
    """Percentages of a node already in use; a figure left out means nothing is known."""

    cpu: NonNegative = 0.0
    memory: NonNegative = 0.0


class ProblemShape(_Strict):
    """Each field checked on its own: `from_dict(..., validate=False)` stops here."""

    tasks: Names
    nodes: Names
    compute: dict[str, dict[str, NonNegative]]
    edges: list[EdgeFile]
    links: dict[str, dict[str, LinkFile]]
    pinned: dict[str, Name] = {}
    max_tasks_per_node: Annotated[int, Field(gt=0)] | None = None
    load: dict[str, LoadFile] = {}


class ProblemFile(ProblemShape):
    """A sound problem: every name known, every entry present, no cycle, the cap holdable."""

    @model_validator(mode="after")
    def _rules_hold(self) -> Self:
        broken = first_broken_rule(self)
        if broken is not None:
            loc, message = broken
            error = PydanticCustomError(RULE_ERROR, "{reason}", {"reason": message})
            raise ValidationError.from_exception_data(
                type(self).__name__, [InitErrorDetails(type=error, loc=loc, input=None)]
            )
        return self


# Models nested under each top-level field, for naming the keys an unknown key could be.
_NESTED: dict[str, type[BaseModel] | type[LinkFile]] = {
    "edges": EdgeFile,
    "links": LinkFile,
    "load": LoadFile,
}
# What a number under each top-level field counts, for range errors.
_COUNTS = {"compute": "number of seconds", "load": "percentage"}
_SINGULAR = {"tasks": "task", "nodes": "node"}


def parse_document(data: Any, file: str | None, *, rules: bool = True) -> ProblemShape:
    """Validate a decoded PROBLEM.json; `rules=False` checks each field on its own only."""
    model = ProblemFile if rules else ProblemShape
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise SpecError(file, field_path(first["loc"]) or None, _message(first)) from None


def read_json(text: str, file: str) -> Any:
    """Decode JSON, refusing a key given twice in one object: plain json.loads keeps the
    last silently, and a second compute entry for one node is almost always a copy-paste."""
    duplicates: list[_KeyedObject] = []

    def keyed(pairs: list[tuple[str, Any]]) -> _KeyedObject:
        obj = _KeyedObject(pairs)
        if obj.duplicate is not None:
            duplicates.append(obj)
        return obj

    try:
        data = json.loads(text, object_pairs_hook=keyed)
    except json.JSONDecodeError as error:
        raise SpecError(
            file, None, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    if duplicates:
        loc = _first_duplicate(data, ())
        if loc is not None:
            raise SpecError(file, field_path(loc), "given twice")
    return data


class _KeyedObject(dict[str, Any]):
    """A JSON object that remembers the first key it was given twice."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.duplicate: str | None = None
        for key, value in pairs:
            if key in self and self.duplicate is None:
                self.duplicate = key
            self[key] = value


def _first_duplicate(value: dict[str, Any] | list[Any], loc: Loc) -> Loc | None:
    # Only walked when the decoder saw a duplicate, so clean files pay nothing for it.
    if isinstance(value, _KeyedObject) and value.duplicate is not None:
        return (*loc, value.duplicate)
    children = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in children:
        if isinstance(child, dict | list):
            found = _first_duplicate(child, (*loc, key))
            if found is not None:
                return found
    return None


def field_path(loc: Loc) -> str:
    """('links', 'n1', 'n2', 'q') -> 'links.n1.n2.q'; list positions as `edges[2]`."""
    path = ""
    for key in loc:
        if isinstance(key, int):
            path += f"[{key}]"
        else:
            path = f"{path}.{key}" if path else key
    return path


def _message(error: Any) -> str:
    kind, value, loc = error["type"], error["input"], error["loc"]
    top = loc[0] if loc else ""
    if kind in ("model_type", "dict_type"):
        return f"must be a JSON object, got {_kind(value)}"
    if kind == "list_type":
        return f"must be a list, got {_kind(value)}"
    if kind in ("string_type", "string_too_short"):
        return f"must be a non-empty string, got {_kind(value)}"
    if kind == "float_type":
        return f"must be a number, got {_kind(value)}"
    if kind == "int_type":
        return f"must be an integer, got {_kind(value)}"
    if kind in ("greater_than_equal", "finite_number"):
        return f"must be a non-negative {_COUNTS.get(top, 'number')}, got {_show(value)}"
    if kind == "greater_than":
        return f"must be a positive integer, got {_show(value)}"
    if kind == "too_short":
        return f"needs at least one {_SINGULAR.get(top, 'entry')}"
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        model = _NESTED[top] if len(loc) > 1 else ProblemShape
        return _unknown_key(str(loc[-1]), model)
    # RULE_ERROR carries its own message; any other type keeps pydantic's.
    return str(error["msg"])


def _unknown_key(key: str, model: type[BaseModel] | type[LinkFile]) -> str:
    if isinstance(model, type) and issubclass(model, BaseModel):
        known = [field.alias or name for name, field in model.model_fields.items()]
    else:
        known = list(model.__annotations__)
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown field; did you mean {close[0]!r}?"
    return f"unknown field (expected: {', '.join(known)})"


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


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)
