"""Run settings shared by the configuration file (cli/config.py) and the run (controller/):
the task controller's section, the execution model, and a mapper's parameters.

`check_available` refuses, with one line, a controller or an execution model that is valid
but not built (none at present), so that a jupiter.yaml written for it fails before anything
starts instead of being half-honoured.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from jupiter.errors import SpecError
from jupiter.mapper.registry import Mapper

ControllerMode = Literal["none", "lazy", "active"]
ExecutionModel = Literal["all", "mapped"]

AVAILABLE_CONTROLLERS: tuple[ControllerMode, ...] = ("none", "lazy", "active")
AVAILABLE_EXECUTION_MODELS: tuple[ExecutionModel, ...] = ("all", "mapped")

# The keywords every built-in mapper takes for a partial schedule: the run's, not the user's.
_RUN_KEYWORDS = frozenset({"problem", "existing", "exclude"})


class LazySettings(BaseModel):
    """Lazy re-mapping: on a lost node, or when measured makespans drift above the
    prediction."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # Re-map when the measured makespan exceeds the predicted one by this factor...
    drift_threshold: float = Field(default=1.5, gt=1.0)
    # ... on average over this many consecutive inputs.
    window: int = Field(default=10, ge=1)


class ActiveSettings(BaseModel):
    """Active re-mapping: periodically, from refreshed profiles."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # Seconds between two re-mapping attempts.
    period: float = Field(default=10.0, gt=0)
    # Adopt a new mapping only if it predicts at least this fraction less makespan...
    gain_threshold: float = Field(default=0.1, gt=0, lt=1)
    # ... in this many consecutive attempts (hysteresis, so that it does not flap).
    hysteresis: int = Field(default=2, ge=1)
    # Weight of the newest runtime figure in the task times' moving average (EWMA).
    ewma_alpha: float = Field(default=0.3, gt=0, le=1)


class ControllerSettings(BaseModel):
    """Which task controller re-maps a running stream, and its thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    mode: ControllerMode = "none"
    lazy: LazySettings = LazySettings()
    active: ActiveSettings = ActiveSettings()


def check_available(controller: ControllerSettings, execution_model: ExecutionModel) -> None:
    """One line for a controller or an execution model that is valid but not built yet."""
    if controller.mode not in AVAILABLE_CONTROLLERS:
        raise SpecError(None, "controller", f"controller {controller.mode!r} is not available yet")
    if execution_model not in AVAILABLE_EXECUTION_MODELS:
        raise SpecError(
            None, "execution_model", f"execution model {execution_model!r} is not available yet"
        )


def mapper_parameters(mapper: Mapper) -> dict[str, inspect.Parameter]:
    """The keyword parameters a mapper takes beyond the run's own (problem, partial)."""
    try:
        # Not following __wrapped__: an adapted plugin takes only what its adapter passes on.
        signature = inspect.signature(mapper, follow_wrapped=False)
    except (TypeError, ValueError):  # some callables have no signature to read
        return {}
    by_keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        name: parameter
        for name, parameter in signature.parameters.items()
        if name not in _RUN_KEYWORDS
        and parameter.kind in by_keyword
        and parameter.default is not inspect.Parameter.empty
    }


def with_parameters(mapper: Mapper, name: str, parameters: Mapping[str, Any]) -> Mapper:
    """`mapper` with `parameters` bound, each checked against the mapper's signature; a
    SpecError names the first bad one."""
    if not parameters:
        return mapper
    accepted = mapper_parameters(mapper)
    try:
        hints = typing.get_type_hints(mapper)
    except Exception:  # a plugin's annotations may name what is not importable here
        hints = {}
    bound: dict[str, Any] = {}
    for key, value in parameters.items():
        if key not in accepted:
            allowed = ", ".join(sorted(accepted)) or "none"
            raise SpecError(
                None,
                f"mapper.parameters.{key}",
                f"mapper {name!r} takes no such parameter (takes: {allowed})",
            )
        hint = hints.get(key, Any)
        try:
            bound[key] = TypeAdapter(hint).validate_python(value, strict=True)
        except ValidationError as error:
            message = error.errors(include_url=False)[0]["msg"]
            raise SpecError(
                None,
                f"mapper.parameters.{key}",
                f"{message[:1].lower()}{message[1:]}, got {value!r}",
            ) from None
    return functools.partial(mapper, **bound)
