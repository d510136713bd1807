"""report.json as a contract: what `jupiter run --report DIR` writes and `jupiter k8s` reads.

The field names and shapes are the ones report.json has always had; docs/report.schema.json
is this model's JSON Schema, committed so that a change to the contract shows up in review
(tests/report/test_report_schema.py compares the two). Every part refuses unknown fields, as the
HTTP bodies do: a report that does not match is an error, never silently trimmed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupiter.errors import SpecError
from jupiter.profiler.model import Profile
from jupiter.specfile import MAX_DOCUMENT_BYTES, read_spec_text

REPORT_VERSION = 1

# Keys only the Kubernetes backend writes: a local run's report.json does not have them at
# all (rather than null), as before the contract was a model.
BACKEND_ONLY = ("outputs_omitted", "backend", "kubernetes")
# Sections added after report.json's first form: absent (not null) when a run has none, so
# that a report written before them reads and writes back unchanged.
ABSENT_WHEN_NULL = ("emulation", "conditions", "dag", "wave", "execution_profile", "executors")


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeEntry(Part):
    """One node of the cluster the run used."""

    name: str = Field(description="Node name, as in the mapping and the stats records.")
    region: str = Field(description="Region the node stands for (sets its emulated links).")
    speed: float = Field(description="Relative compute speed; 0.5 takes twice as long as 1.0.")


class PlannedRun(Part):
    """One task as the mapper placed it, for one input on an idle cluster."""

    task: str = Field(description="Task or source name.")
    node: str = Field(description="Node the task is mapped to.")
    start: float = Field(description="Predicted start, seconds after the input entered.")
    finish: float = Field(description="Predicted finish, seconds after the input entered.")


class MeasuredRuns(Part):
    """How long a task's runs on one node took during the run."""

    runs: int = Field(description="Number of successful runs measured on this node.")
    median: float = Field(description="Median run duration, seconds.")
    mean: float = Field(description="Mean run duration, seconds.")
    profiled: float | None = Field(
        description="Seconds the profile predicted on this node; null without a profile."
    )


class TaskExecution(Part):
    """A task's profiled seconds beside the durations its executors measured."""

    profiled: dict[str, float] | None = Field(
        description="Profiled seconds per node; null when the run used no execution profile."
    )
    measured: dict[str, MeasuredRuns] = Field(
        description="Measured run durations per node the task ran on."
    )


class ExecutionFigure(Part):
    """One (task, node) execution figure, and where it came from."""

    seconds: float = Field(
        description="Seconds one run takes there: the profiled figure, refined by the run's "
        "task records if any ran there."
    )
    source: Literal["measured", "from-class", "learned"] = Field(
        description="measured: timed on this node by the profiler; from-class: timed on "
        "other nodes of its class and scaled by speed; learned: refined at runtime (EWMA of "
        "the run's durations there, from the profiled figure)."
    )
    profiled: float = Field(description="The profile's figure, before runtime learning.")
    profiled_source: Literal["measured", "from-class", "learned"] = Field(
        description="Where the profile's figure came from."
    )
    samples: int = Field(description="Task records it learned from during the run.")


class ExecutionProfileSection(Part):
    """How the execution profile was taken (per hardware class or on every node), and every
    (task, node) figure with its source (docs/profiling.md, Classes)."""

    nodes: Literal["per-class", "every-node"] | None = Field(
        description="Which nodes timed the tasks; null for a profile taken before classes."
    )
    classes: dict[str, list[str]] = Field(description="Hardware class -> its nodes.")
    timed: dict[str, list[str]] = Field(
        description="Hardware class -> the nodes that timed every task."
    )
    runs: int | None = Field(
        description="Timed task runs the agents made while profiling (warm-ups and the "
        "chain not counted); null for a profile taken before classes."
    )
    alpha: float | None = Field(
        description="Weight of the newest duration in the runtime EWMA; null when the run "
        "learned nothing."
    )
    counts: dict[str, int] = Field(
        description="Figures per source (measured, from-class, learned) after the run."
    )
    figures: dict[str, dict[str, ExecutionFigure]] = Field(
        description="Task -> node -> its figure after the run."
    )


class InputRecord(Part):
    """One streamed input, from injection at the sources to its last exit output."""

    id: int = Field(description="Input id, 0 for the first input injected.")
    injected_at: float = Field(description="Unix time the input was injected.")
    completed_at: float = Field(description="Unix time its last exit output reached the home.")
    makespan: float = Field(description="completed_at - injected_at, seconds.")
    outputs: dict[str, str | None] = Field(
        description="Exit task -> path of its output file; null when the Kubernetes backend "
        "could not bring the file back (see outputs_omitted)."
    )
    nodes: list[str] = Field(
        default_factory=list,
        description="Every node that ran a task or source of this input, sorted: after a "
        "re-mapping, the replacements as well as the original ones.",
    )


class MovedTask(Part):
    """A task a re-mapping moved off a lost node."""

    source: str = Field(alias="from", description="The lost node it was on.")
    to: str = Field(description="Where it runs from this epoch on.")


class EpochRecord(Part):
    """One re-mapping around lost agents (controller/recovery.py)."""

    epoch: int = Field(description="The mapping epoch it started; the first mapping is 0.")
    at: float = Field(description="Unix time the new mapping was pushed to the agents.")
    decided_at: float = Field(description="Unix time the home decided the agent was lost.")
    reason: str = Field(description="Which agent was lost, and how the home knew.")
    lost: list[str] = Field(description="The nodes lost.")
    detection_s: float = Field(
        description="Seconds from the lost agent's last sign of life (a heartbeat, or its "
        "process exiting) to the home's decision."
    )
    remap_s: float = Field(
        description="Seconds from the decision to every live agent running the new epoch."
    )
    moved: dict[str, MovedTask] = Field(description="Task -> the move the re-mapping made.")
    in_flight: list[int] = Field(
        description="Inputs in flight at the re-mapping: replayed where their data was lost."
    )
    reinjected: list[int] = Field(
        description="Inputs injected again, at the new node of a source that moved."
    )
    trigger: Literal["recovery", "lazy", "active"] = Field(
        default="recovery",
        description="What started it: a lost agent (recovery), or the task controller "
        "(lazy: makespans drifted; active: a periodic re-mapping that predicted a gain).",
    )
    predicted_gain: float | None = Field(
        default=None,
        description="The task controller's predicted makespan gain of the new mapping, as a "
        "fraction (0.4: 40% less); null for a recovery.",
    )
    first_input: int | None = Field(
        default=None,
        description="The first input id the new mapping applied to. A task controller's "
        "change takes effect at this input boundary: the inputs before it finished on the "
        "mapping they started on. A recovery moves every input not done at once: this is "
        "the oldest then in flight. Null in reports written before it was recorded.",
    )
    makespan_before: float | None = Field(
        default=None,
        description="The measured effect: mean makespan of the completed inputs of the "
        "previous epoch (from its first input up to this one's); null if none.",
    )
    makespan_after: float | None = Field(
        default=None,
        description="Mean makespan of the completed inputs of this epoch (from its first "
        "input up to the next epoch's); null if none.",
    )


class RecoverySection(Part):
    """What the run did about lost agents; empty when none was lost while streaming."""

    epochs: list[EpochRecord] = Field(
        default_factory=list, description="Every re-mapping, in order."
    )
    replayed_inputs: list[int] = Field(
        default_factory=list,
        description="Inputs that were in flight at a re-mapping, sorted: their lost work ran "
        "again on the new nodes, and the home kept the first copy of every exit output.",
    )


class ConditionRecord(Part):
    """A change of emulated conditions applied during the run (docs/emulation.md, Changing
    conditions during a run)."""

    at: float = Field(description="Unix time the agent concerned took the change.")
    stream_s: float | None = Field(
        description="Seconds after the stream began; null if applied before it."
    )
    change: str = Field(description="What changed, in one phrase (e.g. 'slow n03 x5').")
    kind: Literal["slow", "slow_link", "restore", "restore_link"] = Field(
        description="slow: a node's compute; slow_link: one link; restore*: back to factor 1."
    )
    node: str = Field(description="The node slowed or restored, or the link's sender.")
    to: str | None = Field(description="The link's destination; null for a node's compute.")
    factor: float = Field(
        description="Compute stretch multiplier, or link latency multiplier and bandwidth "
        "divisor; 1 for a restore."
    )
    source: Literal["request", "schedule"] = Field(
        description="request: POST /home/emulation (`jupiter emulate`); schedule: cluster.yaml "
        "`events:`."
    )


class ExecutorStartRecord(Part):
    """An executor the home started (execution model `mapped`)."""

    node: str = Field(description="The node it runs on.")
    at: float = Field(description="Unix time it was started.")
    epoch: int = Field(
        description="The mapping epoch that needed it: 0 for the first mapping, higher for "
        "a re-mapping that moved work onto a node without one."
    )


class ExecutionSection(Part):
    """Where the executors ran (docs/configuration.md, execution_model)."""

    model: Literal["all", "mapped"] = Field(
        description="all: an executor on every node; mapped: only on the nodes the mapping "
        "uses, started after mapping and stopped after the stream."
    )
    started: list[ExecutorStartRecord] = Field(
        default_factory=list,
        description="mapped: every executor started, in order; empty for all (every "
        "agent's executor starts with the first deployment).",
    )


class MakespanSummary(Part):
    """Per-input makespans summarised, seconds."""

    mean: float = Field(description="Mean over the inputs.")
    median: float = Field(description="Median over the inputs.")
    min: float = Field(description="Shortest makespan.")
    max: float = Field(description="Longest makespan.")


class Throughput(Part):
    """How fast the stream went through, as opposed to how long one input took."""

    inputs: int = Field(description="Inputs completed.")
    seconds: float = Field(description="From the first injection to the last completion.")
    per_second: float | None = Field(
        description="Inputs completed per second over `seconds`; null if `seconds` is 0."
    )
    median_completion_gap: float | None = Field(
        description="Median seconds between two consecutive completions (the steady-state "
        "period); null with fewer than two inputs."
    )


class InputBreakdown(Part):
    """Where one input's makespan went, along its critical path: from the exit that finished
    last back through, at each task, the parent whose data arrived last."""

    makespan: float = Field(description="Seconds from injection to the last exit output.")
    compute: float = Field(description="Seconds the path's tasks ran.")
    transfer: float = Field(
        description="Seconds the path's data moved between nodes: predicted, each link's "
        "latency and serialising time; measured, from a parent's finish to its child's ready "
        "(including any wait for a busy link, which the records cannot tell apart)."
    )
    queueing: float = Field(
        description="Seconds waiting for a busy resource: predicted, for a node or a link; "
        "measured, for a node (ready -> start)."
    )
    host_overhead: float = Field(
        description="The rest of the makespan: handing the input to its source's node and "
        "the exits' outputs to the home; 0 in the prediction."
    )
    queued_at: str | None = Field(
        description="The node (or link, 'a->b') where most of the queueing was; null without."
    )


class StreamInput(Part):
    """One input of the stream: predicted beside measured."""

    id: int = Field(description="Input id.")
    predicted: InputBreakdown = Field(description="The stream simulation's figures.")
    measured: InputBreakdown | None = Field(
        description="From the run's task records; null if the input did not complete."
    )


class StreamPredictionSection(Part):
    """The stream predicted on the mapping with the run's own parameters (a discrete-event
    simulation: mapper/stream_sim.py), beside what the run measured."""

    inputs_planned: int = Field(description="Inputs simulated (the run's --inputs).")
    interval: float = Field(description="Seconds between injections the simulation used.")
    max_in_flight: int | None = Field(description="The in-flight limit; null for none.")
    mean_makespan: float = Field(description="Predicted mean makespan, seconds.")
    measured_mean_makespan: float | None = Field(
        description="Measured mean makespan, seconds; null without a completed input."
    )
    throughput: float | None = Field(
        description="Predicted inputs per second, from the first injection to the last "
        "completion (as `throughput.per_second`)."
    )
    measured_throughput: float | None = Field(description="`throughput.per_second`, repeated.")
    bottleneck: str | None = Field(
        description="The node or link ('a->b') busiest per input in the prediction: the "
        "stream cannot go faster than it."
    )
    bottleneck_period: float | None = Field(
        description="Seconds the bottleneck is busy per input (its period)."
    )
    explanation: str | None = Field(
        description="The main cause of the difference between measured and predicted mean "
        "makespan, one line; null without a completed input."
    )
    inputs: list[StreamInput] = Field(description="Every simulated input, by id.")


class Duplicate(Part):
    """An output that reached the home more than once (kept once)."""

    input_id: int = Field(description="Input id of the repeated output.")
    task: str = Field(description="Exit task that sent it again.")


class TaskStats(Part):
    """One (task, input id) as its executor recorded it (circe/monitor.py); Unix seconds."""

    task: str = Field(description="Task or source name.")
    input_id: int = Field(description="Input id.")
    node: str = Field(description="Node that ran it.")
    enter: float | None = Field(description="The first of the task's inputs arrived.")
    ready: float | None = Field(description="The last of the task's inputs arrived.")
    start: float | None = Field(description="The task started.")
    finish: float | None = Field(description="The task finished.")
    output_bytes: int | None = Field(description="Size of the task's output.")
    failed: str | None = Field(description="Why the task failed; null if it did not.")
    attempts: int = Field(
        default=1,
        description="Runs of the task for this input: 1, plus one per retry (`retries:`); "
        "start is the first run's, so duration includes the retries and their pauses.",
    )
    cpu: float | None = Field(
        default=None,
        description="CPU seconds the successful run used on the host, before the node-speed "
        "stretch (a host figure, not divided by the time dilation); null if not measured.",
    )
    waiting: float | None = Field(description="enter -> start, seconds.")
    queued: float | None = Field(description="ready -> start, seconds.")
    duration: float | None = Field(description="start -> finish, seconds.")
    elapse: float | None = Field(description="enter -> finish, seconds.")


class EmulationSection(Part):
    """Whether this host could run the emulation faithfully (docs/emulation.md): the CPU the
    emulated nodes' tasks need against the host's cores, and the time dilation used."""

    cores: int = Field(description="CPUs the run's host could use.")
    busy_elsewhere: float = Field(
        0.0,
        description="Host cores other work kept busy when the run began, sampled by "
        "`--time-dilation auto` (which fits the demand into the rest); 0 when not sampled.",
    )
    dilation: float = Field(
        description="Time dilation K: the emulated clock ran K times slower than the host's; "
        "every duration and time in this report is emulated (host seconds / K), except the "
        "phases before and after the stream and the tasks' `cpu`."
    )
    demand: float | None = Field(
        description="Estimated host cores the emulation needs in real time (dilation 1): "
        "CPU seconds per input (the mapped compute, unstretched) times the stream's rate "
        "(the slowest of the injection interval, the in-flight limit and the busiest node); "
        "null if the run failed before mapping."
    )
    cpu_per_input: float | None = Field(
        description="Estimated host CPU seconds one input's tasks use, and the home's "
        "requests for it (`host_per_input`); null before mapping."
    )
    peak: float | None = Field(
        None,
        description="Estimated host cores one input's tasks use at once at their busiest, "
        "at dilation 1 (`--time-dilation auto` fits it into half the free cores); null "
        "before mapping.",
    )
    host_per_input: float | None = Field(
        None,
        description="Host seconds of the home's own requests per input, timed before the "
        "stream: handing it to its sources' nodes and its outputs home (auto keeps them "
        "under 10% of an input's emulated makespan); null before mapping.",
    )
    measured_cpu: float = Field(description="CPU seconds the tasks used during the run, summed.")
    measured_load: float | None = Field(
        description="Host cores the tasks kept busy on average from the first injection to "
        "the last completion (measured_cpu over that host time); null without a completion."
    )
    contended: bool = Field(
        description="Whether tasks competed for the host's cores: the estimated demand over "
        "the dilation exceeds the cores, or the measured load reached 90% of them. Task "
        "times are then partly the host's queueing, not the emulated nodes' speed."
    )


class FailedInputRecord(Part):
    """An input that failed under `--on-error skip`: the first failure reported for it."""

    id: int = Field(description="Input id.")
    task: str = Field(description="Task (or the producer of a transfer) that failed.")
    node: str = Field(description="Node it failed on.")
    message: str = Field(
        description="The failure's message: its end, where a task's stderr or traceback is."
    )
    failed_at: float = Field(description="Unix time the home heard of the failure.")
    outputs: dict[str, str] = Field(
        description="Exit task -> path of the outputs that did arrive for this input."
    )


class WaveMessagesSection(Part):
    """The distributed WAVE's messages, by kind (controller/wave_home.py)."""

    start: int = Field(description="Home -> every agent: snapshot your link fits (one each).")
    appointments: int = Field(
        description="Appointment messages: home -> agent for entry tasks, agent -> agent for "
        "the children a task controls."
    )
    local_appointments: int = Field(
        description="Children an agent kept on its own node: decided there, no message."
    )
    turns: int = Field(
        description="Decider -> home: wait for the child's turn and read the announced load."
    )
    announcements: int = Field(
        description="Decider -> home: the appointment made, the load every later decider reads."
    )
    total: int = Field(description="Messages sent: start + appointments + turns + announcements.")


class WaveSection(Part):
    """How the agents mapped the app (--mapper wave-distributed; docs/mappers.md)."""

    decisions: int = Field(description="Appointments made: one per task and source.")
    by_agents: int = Field(description="Of those, decided by agents (the rest by the home).")
    seconds: float = Field(description="Host seconds the distributed mapping took.")
    same_as_in_process: bool = Field(
        description="Whether the in-process WAVE, fed each agent's own link fits and the same "
        "announcements, makes every decision the agents made."
    )
    messages: WaveMessagesSection = Field(description="Messages the mapping took, by kind.")


class PodRole(Part):
    """Deploy and teardown of one pod role, as the client measured them."""

    pods: int = Field(description="Pods of this role.")
    deploy: float = Field(description="Seconds until the last pod of the role was ready.")
    teardown: float = Field(description="Seconds until the last pod of the role was gone.")


class SharedObjects(Part):
    """The namespace, Secret, ConfigMap and NetworkPolicy every pod uses."""

    deploy: float = Field(description="Seconds to create them.")
    teardown: float = Field(description="Seconds to delete them.")


class Roles(Part):
    """Deploy and teardown per pod role; the paper's roles share one pod per node here."""

    agent: PodRole = Field(description="All agent pods.")
    home: PodRole = Field(description="The home Job's pod.")
    shared: SharedObjects = Field(description="Objects that belong to no one pod.")


class KubernetesSection(Part):
    """What only a run on Kubernetes has: where it ran, and deploy/teardown per role."""

    namespace: str = Field(description="Namespace the run's objects were created in.")
    image: str = Field(description="Agent and home image.")
    objects: int = Field(description="Kubernetes objects created.")
    roles: Roles = Field(description="Deploy and teardown seconds per role.")
    home_phases: dict[str, float] = Field(
        description="Phases as the home measured them, before the client's deploy and teardown "
        "replaced its own in `phases`."
    )
    note: str = Field(description="How the paper's roles map onto pods.")


class Report(Part):
    """report.json: one run of one app, what was planned and what happened."""

    model_config = ConfigDict(extra="forbid", title="Jupiter report.json")

    version: Literal[1] = Field(description="Contract version, 1 to date.")
    status: Literal["completed", "failed", "interrupted"] = Field(
        default="completed",
        description="completed: every input done; failed: the run stopped on an error, or "
        "(--on-error skip) some inputs failed; interrupted: Ctrl-C or SIGTERM. A report that "
        "is not completed holds what the run got to: inputs delivered so far, the records "
        "the agents still gave, and no schedule if it failed before mapping.",
    )
    error: str | None = Field(
        default=None, description="Why the run did not complete, one line; null if it did."
    )
    run_id: str = Field(description="The run's id, also in every log line and object label.")
    app: str = Field(description="App name from app.yaml.")
    mapper: str = Field(description="Mapping algorithm used.")
    nodes: list[NodeEntry] = Field(description="The cluster's nodes.")
    emulated: bool = Field(description="Whether the link emulator was on.")
    emulation: EmulationSection | None = Field(
        default=None,
        description="The host's cores against the emulation's CPU demand, and the time "
        "dilation; null without emulation.",
    )
    sources: list[str] = Field(description="The app's sources (where inputs enter).")
    mapping: dict[str, str] = Field(description="Task or source -> node.")
    dag: dict[str, list[str]] | None = Field(
        default=None,
        description="The app's DAG: every task and source -> the tasks and sources whose "
        "outputs it consumes (a source: none); absent in reports written before it.",
    )
    predicted_makespan: float | None = Field(
        description="The mapper's makespan for one input on an idle cluster, seconds; null "
        "only when the run failed before mapping."
    )
    predicted_schedule: list[PlannedRun] = Field(
        description="The mapper's schedule, by predicted start."
    )
    figure_sources: dict[str, str] = Field(
        description="Where the mapper's figures came from (compute, data_sizes, links)."
    )
    execution: dict[str, TaskExecution] = Field(
        description="Per task: profiled seconds beside measured durations."
    )
    profile: Profile | None = Field(
        description="The profile the mapper used (docs/profiling.md); null with --no-profile."
    )
    execution_profile: ExecutionProfileSection | None = Field(
        default=None,
        description="Every (task, node) execution figure, where it came from (measured, "
        "from its class, learned at runtime) and how many of each; absent without an "
        "execution profile.",
    )
    inputs: list[InputRecord] = Field(description="Every completed input, by id.")
    failed_inputs: list[FailedInputRecord] = Field(
        default_factory=list,
        description="Inputs that failed (--on-error skip), by id; empty otherwise.",
    )
    makespan: MakespanSummary | None = Field(
        description="The inputs' makespans summarised; null only when no input completed."
    )
    recovery: RecoverySection = Field(
        default_factory=RecoverySection,
        description="Re-mappings around agents lost while streaming (docs/ARCHITECTURE.md).",
    )
    conditions: list[ConditionRecord] | None = Field(
        default=None,
        description="Changes of emulated conditions applied during the run, in order; absent "
        "when there were none.",
    )
    wave: WaveSection | None = Field(
        default=None,
        description="The distributed WAVE's decisions and messages; absent unless the run "
        "mapped with --mapper wave-distributed.",
    )
    executors: ExecutionSection | None = Field(
        default=None,
        description="The execution model and the executors it started; null if the run "
        "failed before its stream ended (absent then).",
    )
    throughput: Throughput = Field(description="The stream's rate.")
    stream_prediction: StreamPredictionSection | None = Field(
        default=None,
        description="The stream predicted with queues at nodes and links, beside what was "
        "measured, per input; null if the run failed before mapping.",
    )
    phases: dict[str, float] = Field(
        description="Seconds per phase, in order (deploy, profile, map, dispatch, stream, "
        "teardown)."
    )
    duplicates: list[Duplicate] = Field(description="Outputs that arrived more than once.")
    stats: list[TaskStats] = Field(description="Every (task, input id) the executors recorded.")
    outputs_omitted: str | None = Field(
        default=None,
        description="Kubernetes only: why the outputs stayed in the cluster (too large for "
        "the home's log); absent when they came back.",
    )
    backend: Literal["kubernetes"] | None = Field(
        default=None, description="Kubernetes only: the backend; absent for local runs."
    )
    kubernetes: KubernetesSection | None = Field(
        default=None, description="Kubernetes only: namespace, image and per-role timings."
    )

    def document(self) -> dict[str, Any]:
        """report.json's content, without the Kubernetes-only keys a run does not have."""
        absent = {
            name for name in (*BACKEND_ONLY, *ABSENT_WHEN_NULL) if getattr(self, name) is None
        }
        return self.model_dump(mode="json", exclude=absent)

    def to_json(self) -> str:
        return json.dumps(self.document(), indent=2)


def parse_report(document: Any, source: str | Path) -> Report:
    """A report from JSON data; one SpecError line naming the source and field if it is not."""
    try:
        return Report.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise SpecError(source, field, f"not a Jupiter report: {first['msg']}") from None


def load_report(path: str | Path) -> Report:
    text = read_spec_text(path, MAX_DOCUMENT_BYTES)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecError(path, f"line {error.lineno}", f"invalid JSON: {error.msg}") from None
    return parse_report(document, path)
