"""jupiter.yaml: `jupiter run`'s settings in a file, under the flags that override them.

One file is read: `--config FILE`, else ./jupiter.yaml, else APP/jupiter.yaml (the current
folder first: a user's own settings beat those shipped with the app); `--no-config` reads
none. A flag given on the command line wins over the file, which wins over the defaults.
Paths in the file are relative to the file's folder.

`ConfiguredCommand` applies the file to the command's parameters after click has parsed
them (click says which were given on the command line) and before the command runs; the
settings no flag carries (the mapper's parameters, the controller's thresholds, the
profiler's sizes and intervals) reach RunOptions through `apply_file_settings`, with the
controller's mode and the execution model (flags of their own: --controller,
--execution-model). Every chosen setting keeps where it came from, for `--dry-run`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import click
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jupiter.controller.registry import HEARTBEAT_TIMEOUT_S
from jupiter.controller.run import RunOptions
from jupiter.errors import SpecError
from jupiter.logs import LEVELS
from jupiter.planning.settings import ActiveSettings, ControllerSettings, LazySettings
from jupiter.profiler.home import ProfileSettings
from jupiter.specfile import read_spec_text

log = logging.getLogger(__name__)

CONFIG_NAME = "jupiter.yaml"
META_KEY = "jupiter.config"
DEFAULT = "default"
FLAG = "flag"

_DEFAULT_PROFILE = ProfileSettings()
# Paths are written as strings: the one type strict validation would refuse them as.
FilePath = Annotated[Path, Field(strict=False)]


def _run_default(name: str) -> Any:
    return RunOptions.__dataclass_fields__[name].default


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MapperSection(_Section):
    name: str = "heft"
    # The mapper's own keyword parameters, checked against its signature at run time.
    parameters: dict[str, Any] = Field(default_factory=dict)


class BackpressureSection(_Section):
    queue: int = Field(default=_run_default("backpressure_queue"), ge=1)
    bytes: int = Field(default=_run_default("backpressure_bytes"), ge=1)


class ControllerSection(_Section):
    mode: Literal["none", "lazy", "active"] = "none"
    lazy: LazySettings = LazySettings()
    active: ActiveSettings = ActiveSettings()
    recovery: bool = True
    heartbeat_timeout: float = Field(default=HEARTBEAT_TIMEOUT_S, gt=0)
    backpressure: BackpressureSection = BackpressureSection()


class ProfilerSection(_Section):
    enabled: bool = True
    # fresh, cached or a saved profile's file, as `--profile`.
    profile: FilePath | None = None
    timeout: float | None = Field(default=None, gt=0)
    network: bool = _DEFAULT_PROFILE.network
    # true, false, or which nodes time the tasks (true with that `execution_nodes`).
    execution: bool | Literal["per-class", "every-node"] = _DEFAULT_PROFILE.execution
    execution_nodes: Literal["per-class", "every-node"] = _DEFAULT_PROFILE.execution_nodes
    execution_per_class: int = Field(default=_DEFAULT_PROFILE.execution_per_class, ge=1)
    # Probe sizes in bytes; null: sized to the app (profiler/sizes.py).
    sizes: list[int] | None = Field(default=_DEFAULT_PROFILE.sizes, min_length=1)
    first_sizes: list[int] | None = Field(default=None, min_length=1)
    first_repeats: int | None = Field(default=None, ge=1)
    first_round_probes: int = Field(default=_DEFAULT_PROFILE.first_round_probes, ge=1)
    first_round_bytes: int = Field(default=_DEFAULT_PROFILE.first_round_bytes, ge=1)
    interval: float = Field(default=_DEFAULT_PROFILE.interval, gt=0)
    refit_interval: float = Field(default=_DEFAULT_PROFILE.refit_interval, gt=0)
    window: int = Field(default=_DEFAULT_PROFILE.window, ge=1)
    max_link_share: float = Field(default=_DEFAULT_PROFILE.max_link_share, gt=0, le=1)
    burst_seconds: float | None = Field(default=None, gt=0)
    in_flight: int = Field(default=_DEFAULT_PROFILE.in_flight, ge=1)
    per_node_concurrency: int = Field(default=_DEFAULT_PROFILE.per_node_concurrency, ge=1)
    probe_rate: float | None = Field(default=_DEFAULT_PROFILE.probe_rate, gt=0)
    byte_rate: float | None = Field(default=_DEFAULT_PROFILE.byte_rate, gt=0)
    execution_repeats: int = Field(default=_DEFAULT_PROFILE.execution_repeats, ge=1)
    execution_budget: float = Field(default=_DEFAULT_PROFILE.execution_budget, gt=0)
    execution_parallel: int | None = Field(default=None, ge=1)
    # full | sampled | auto (sampled above sampled_above nodes): docs/profiling.md.
    strategy: Literal["auto", "full", "sampled"] = "auto"
    sampled_above: int = Field(default=_DEFAULT_PROFILE.sampled_above, ge=1)
    latency_peers: int = Field(default=_DEFAULT_PROFILE.latency_peers, ge=1)
    representatives: int = Field(default=_DEFAULT_PROFILE.representatives, ge=1)
    # null: first_round_bytes up to 200 nodes, 640 MiB above (docs/profiling.md).
    representative_bytes: int | None = Field(default=None, ge=1)
    # Cores the agents' probes may use when they all run on this machine; null: measured.
    shared_cores: float | None = Field(default=None, gt=0)
    held_out: float = Field(default=_DEFAULT_PROFILE.held_out, ge=0, lt=1)
    seed: int = _DEFAULT_PROFILE.seed

    @field_validator("execution", mode="before")
    @classmethod
    def _execution_choice(cls, value: Any) -> Any:
        if not isinstance(value, bool) and value not in ("per-class", "every-node"):
            raise ValueError(f"expected true, false, per-class or every-node, got {value!r}")
        return value

    @model_validator(mode="after")
    def _execution_words(self) -> ProfilerSection:
        # `execution: every-node` is short for `execution: true, execution_nodes: every-node`.
        if isinstance(self.execution, str):
            given = "execution_nodes" in self.model_fields_set
            if given and self.execution_nodes != self.execution:
                raise ValueError(
                    f"execution: {self.execution} contradicts execution_nodes: "
                    f"{self.execution_nodes}; give one"
                )
            self.execution_nodes = self.execution
            self.execution = True
        return self

    @field_validator("sizes", "first_sizes")
    @classmethod
    def _positive_sizes(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and any(size < 1 for size in sizes):
            raise ValueError(f"probe sizes are bytes, each at least 1, got {sizes}")
        return sizes


# The ProfileSettings fields the profiler section sets (tests check it covers them all).
PROFILE_FIELDS = {f.name for f in dataclasses.fields(ProfileSettings)} - {"timeout"}


class StreamSection(_Section):
    inputs: int = Field(default=10, ge=1)
    interval: float = Field(default=0.0, ge=0)
    max_in_flight: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=600.0, gt=0)
    on_error: Literal["stop", "skip"] = "stop"
    task_timeout: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0)


class EmulationSection(_Section):
    enabled: bool = True
    time_dilation: float | Literal["auto"] = 1.0

    @field_validator("time_dilation")
    @classmethod
    def _at_least_one(cls, value: float | str) -> float | str:
        if value != "auto" and not 1.0 <= float(value) < float("inf"):
            raise ValueError(f"must be >= 1 (or auto), got {value!r}")
        return value


class ClusterSection(_Section):
    file: FilePath | None = None
    nodes: int | None = Field(default=None, ge=1)


class BackendSection(_Section):
    kind: Literal["local", "hosts", "kubernetes"] = "local"
    token_file: FilePath | None = None
    home_address: str | None = None
    image: str | None = None
    kubeconfig: FilePath | None = None
    namespace: str | None = None
    # --tls/--no-tls; None: on for hosts and kubernetes, off for local.
    tls: bool | None = None


class OutputSection(_Section):
    out: FilePath = Path("jupiter-out")
    report: FilePath | None = None
    log_level: str = "warning"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"expected one of {', '.join(LEVELS)}, got {value!r}")
        return value


class ConfigFile(_Section):
    """The whole of jupiter.yaml; every section and field is optional."""

    mapper: MapperSection = MapperSection()
    controller: ControllerSection = ControllerSection()
    profiler: ProfilerSection = ProfilerSection()
    execution_model: Literal["all", "mapped"] = "all"
    stream: StreamSection = StreamSection()
    emulation: EmulationSection = EmulationSection()
    cluster: ClusterSection = ClusterSection()
    backend: BackendSection = BackendSection()
    output: OutputSection = OutputSection()

    @field_validator("mapper", mode="before")
    @classmethod
    def _mapper_by_name(cls, value: Any) -> Any:
        # `mapper: heft` is short for `mapper: {name: heft}`.
        return {"name": value} if isinstance(value, str) else value


def load_config(path: Path) -> ConfigFile:
    """Read and validate a jupiter.yaml; any problem is one SpecError naming file and field."""
    source = str(path)
    text = read_spec_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(source, where, f"invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(source, None, "expected a mapping of sections at the top level")
    try:
        config = ConfigFile.model_validate(data)
    except ValidationError as error:
        raise _one_line(source, error) from None
    return _relative_to(config, path.parent)


def _one_line(source: str, error: ValidationError) -> SpecError:
    errors = error.errors(include_url=False)
    first = errors[0]
    # A union's members add their own names to the location (float, literal[...]).
    loc = [
        str(part) for part in first["loc"] if not str(part).startswith(("float", "literal", "bool"))
    ]
    kind = first["type"]
    if kind == "extra_forbidden":
        message = "unknown field"
        model: Any = ConfigFile
        for part in loc[:-1]:
            annotation = model.model_fields[part].annotation if part in model.model_fields else None
            model = annotation if isinstance(annotation, type) else None
            if model is None or not issubclass(model, BaseModel):
                break
        if model is not None and issubclass(model, BaseModel):
            message += f" (allowed: {', '.join(model.model_fields)})"
    elif kind == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
    else:
        message = first["msg"]
        message = f"{message[:1].lower()}{message[1:]}, got {first['input']!r}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return SpecError(source, ".".join(loc) or None, message)


def _relative_to(config: ConfigFile, folder: Path) -> ConfigFile:
    """Paths in the file name files beside it, wherever `jupiter run` is started from."""

    def resolved(path: Path | None) -> Path | None:
        return None if path is None or path.is_absolute() else folder / path

    def rebase(section: BaseModel, *names: str) -> BaseModel:
        given = [
            n
            for n in names
            if n in section.model_fields_set and str(getattr(section, n)) not in _WORDS
        ]
        changed = {n: resolved(getattr(section, n)) for n in given}
        return section.model_copy(update={k: v for k, v in changed.items() if v is not None})

    return config.model_copy(
        update={
            "profiler": rebase(config.profiler, "profile"),
            "cluster": rebase(config.cluster, "file"),
            "backend": rebase(config.backend, "token_file", "kubeconfig"),
            "output": rebase(config.output, "out", "report"),
        }
    )


# `--profile fresh|cached` are words, not files.
_WORDS = ("fresh", "cached")


def find_config(given: Path | None, app: Path, enabled: bool = True) -> Path | None:
    """The file to read: the one given, else ./jupiter.yaml, else APP/jupiter.yaml."""
    if given is not None:
        return given
    if not enabled:
        return None
    for candidate in (Path(CONFIG_NAME), app / CONFIG_NAME):
        if candidate.exists():
            return candidate
    return None


# --- applying it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Flag:
    """A file field that a `jupiter run` flag also sets."""

    section: str
    name: str
    parameter: str
    to_parameter: Callable[[Any], Any] = lambda value: value


_FLAGS = (
    _Flag("mapper", "name", "mapper"),
    _Flag("stream", "inputs", "inputs"),
    _Flag("stream", "interval", "interval"),
    _Flag("stream", "max_in_flight", "max_in_flight"),
    _Flag("stream", "timeout", "timeout"),
    _Flag("stream", "on_error", "on_error"),
    _Flag("stream", "task_timeout", "task_timeout"),
    _Flag("stream", "retries", "retries"),
    _Flag("controller", "recovery", "recovery"),
    _Flag("controller", "mode", "controller"),
    _Flag("execution_model", "", "execution_model"),
    _Flag("profiler", "timeout", "profile_timeout"),
    _Flag("profiler", "enabled", "no_profile", lambda enabled: not enabled),
    _Flag("profiler", "profile", "profile_file"),
    _Flag(
        "profiler",
        "sizes",
        "sizes",
        lambda sizes: None if sizes is None else ",".join(map(str, sizes)),
    ),
    _Flag("emulation", "enabled", "emulation"),
    _Flag("emulation", "time_dilation", "time_dilation", lambda k: k if k == "auto" else f"{k:g}"),
    _Flag("cluster", "file", "cluster_file"),
    _Flag("cluster", "nodes", "nodes"),
    _Flag("backend", "kind", "backend"),
    _Flag("backend", "token_file", "token_file"),
    _Flag("backend", "home_address", "home_address"),
    _Flag("backend", "image", "image"),
    _Flag("backend", "kubeconfig", "kubeconfig"),
    _Flag("backend", "namespace", "namespace"),
    _Flag("backend", "tls", "tls"),
    _Flag("output", "out", "out_dir"),
    _Flag("output", "report", "report_dir"),
    _Flag("output", "log_level", "log_level"),
)

# Flags that choose one thing together: given any of them, the file's whole choice yields.
_TOGETHER = ({"nodes", "cluster_file"}, {"profile_file", "no_profile"})


@dataclass
class ChosenSettings:
    """Every setting of the run, with where it came from: default, the file, or flag."""

    path: Path | None = None
    config: ConfigFile = field(default_factory=ConfigFile)
    sources: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    # The file fields a flag of this command carries (applied through its parameter).
    flagged: set[str] = field(default_factory=set)

    def source(self, name: str) -> str:
        return self.sources.get(name, DEFAULT)

    def refuse_file_only(self, reason: str) -> None:
        """A SpecError naming the first setting the file gives that no flag carries."""
        for name, source in self.sources.items():
            if source not in (DEFAULT, FLAG) and name not in self.flagged:
                raise SpecError(self.path, name, reason)

    def _set(self, name: str, value: Any, source: str) -> None:
        self.values[name] = value
        self.sources[name] = source


def choose(ctx: click.Context, path: Path | None, config: ConfigFile | None) -> ChosenSettings:
    """Apply the file to `ctx.params` (flags given on the command line win) and record
    every setting's source."""
    chosen = ChosenSettings(path=path, config=config or ConfigFile())
    from_file = str(path) if path is not None else DEFAULT
    given = {
        name
        for name in ctx.params
        if ctx.get_parameter_source(name)
        not in (None, click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    }
    yielding = set().union(*(group for group in _TOGETHER if group & given))
    for flag in _FLAGS:
        if flag.parameter not in ctx.params:
            continue  # a flag of another command (this table is `jupiter run`'s)
        # A top-level field (execution_model) is its own section, with no name inside it.
        holder, field_name = (
            (chosen.config, flag.section)
            if not flag.name
            else (getattr(chosen.config, flag.section), flag.name)
        )
        name = f"{flag.section}.{flag.name}" if flag.name else flag.section
        chosen.flagged.add(name)
        if flag.parameter in given or flag.parameter in yielding:
            source = FLAG
        elif config is not None and field_name in holder.model_fields_set:
            ctx.params[flag.parameter] = flag.to_parameter(getattr(holder, field_name))
            source = from_file
        else:
            source = DEFAULT
        chosen._set(name, _shown(flag, ctx.params[flag.parameter]), source)
    for name, value, fields_set in _file_only(chosen.config, chosen.flagged):
        chosen._set(name, value, from_file if fields_set else DEFAULT)
    return chosen


def _shown(flag: _Flag, value: Any) -> Any:
    return (not value) if flag.parameter == "no_profile" else value


def _file_only(config: ConfigFile, flagged: set[str]) -> list[tuple[str, Any, bool]]:
    """(name, value, set in the file) of each setting that no flag carries."""
    found: list[tuple[str, Any, bool]] = []
    if "execution_model" not in flagged:
        was_set = "execution_model" in config.model_fields_set
        found.append(("execution_model", config.execution_model, was_set))
    for section_name in ("mapper", "controller", "profiler"):
        section = getattr(config, section_name)
        section_set = section_name in config.model_fields_set
        for name in type(section).model_fields:
            if f"{section_name}.{name}" in flagged:
                continue
            value = getattr(section, name)
            was_set = section_set and name in section.model_fields_set
            if isinstance(value, BaseModel):
                for inner in type(value).model_fields:
                    inner_set = was_set and inner in value.model_fields_set
                    found.append(
                        (f"{section_name}.{name}.{inner}", getattr(value, inner), inner_set)
                    )
            else:
                found.append((f"{section_name}.{name}", value, was_set))
    return found


def apply_file_settings(options: RunOptions, chosen: ChosenSettings) -> RunOptions:
    """The settings no flag carries, from the file (or their defaults) onto `options`."""
    config = chosen.config
    controller = config.controller
    profiler = config.profiler
    # `timeout` is --profile-timeout's, already on the options.
    flagged = {name.removeprefix("profiler.") for name in chosen.flagged}
    profile_fields = (PROFILE_FIELDS & set(ProfilerSection.model_fields)) - flagged
    profile_settings = dataclasses.replace(
        options.profile_settings,
        **{name: getattr(profiler, name) for name in profile_fields},
    )
    return dataclasses.replace(
        options,
        mapper_parameters=dict(config.mapper.parameters),
        # --controller and --execution-model, where this command has them, beat the file.
        controller=ControllerSettings(
            mode=chosen.values.get("controller.mode", controller.mode),
            lazy=controller.lazy,
            active=controller.active,
        ),
        execution_model=chosen.values.get("execution_model", config.execution_model),
        heartbeat_timeout=controller.heartbeat_timeout,
        backpressure_queue=controller.backpressure.queue,
        backpressure_bytes=controller.backpressure.bytes,
        profile_settings=profile_settings,
    )


def current_settings() -> ChosenSettings:
    """What `ConfiguredCommand` chose for the command running now."""
    chosen = click.get_current_context().meta.get(META_KEY)
    return chosen if isinstance(chosen, ChosenSettings) else ChosenSettings()


class ConfiguredCommand(click.Command):
    """A command whose `--config`/`--no-config` name a jupiter.yaml applied under its flags."""

    def invoke(self, ctx: click.Context) -> Any:
        path = find_config(
            ctx.params.get("config_file"),
            Path(ctx.params["app"]),
            enabled=not ctx.params.get("no_config", False),
        )
        config = None if path is None else load_config(path)
        chosen = choose(ctx, path, config)
        ctx.meta[META_KEY] = chosen
        if path is not None and not ctx.params.get("quiet", False):
            click.echo(f"config: {path}")
        log.info("settings from %s", path or "defaults and flags")
        return super().invoke(ctx)
