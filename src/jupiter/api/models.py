"""Request and response bodies exchanged by the home and the agents."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jupiter.cluster.conditions import ConditionChange, Factor

# Input ids travel as JSON numbers and path segments; past 2**53 a JSON number loses digits
# in many parsers, and nothing streams that many inputs.
MAX_INPUT_ID = 2**53
# A failure's message; senders keep its end, where a task's stderr says what went wrong.
MAX_MESSAGE_CHARS = 64 * 1024
InputId = Annotated[int, Field(strict=True, ge=0, lt=MAX_INPUT_ID)]
# Names of nodes, tasks and sources: bounded so that a body cannot smuggle a megabyte key.
Name = Annotated[str, Field(min_length=1, max_length=256)]
Url = Annotated[str, Field(pattern=r"^https?://", max_length=2048)]


class Body(BaseModel):
    """Every body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Message(Body):
    """A body that also refuses coercion: "3" is not an int, true is not 1."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Deployment(Body):
    """The controller's desired state, as pushed to every agent at dispatch and again, with a
    higher epoch, after every re-mapping."""

    mapping: dict[str, str]  # task or source -> node
    addresses: dict[str, str]  # node -> base URL, plus "home"
    epoch: int = Field(default=0, ge=0, lt=2**31)
    # The first input id this mapping applies to: inputs below it finish on the mapping
    # they started on (an input boundary). 0: every input not yet done moves to it at once
    # (the first mapping, and a re-mapping around a lost node).
    from_input: int = Field(default=0, ge=0, lt=2**53)


# -- every server ---------------------------------------------------------------------------


class Health(Message):
    node: str
    status: Literal["ok"] = "ok"


# -- agent: its own role and CIRCE -----------------------------------------------------------


class Stopping(Message):
    stopping: bool = True


class LinkSlowdown(Message):
    """The link from this node to `to`: latency times `factor`, bandwidth over it."""

    to: Name
    factor: Factor


class SlowdownRequest(Message):
    """POST /emulation: this node's compute and/or one of its links out made `factor` times
    slower (1: restored). Needs emulation (409 without)."""

    node: Factor | None = None
    link: LinkSlowdown | None = None

    @model_validator(mode="after")
    def _something_given(self) -> Self:
        if self.node is None and self.link is None:
            raise ValueError("give node, link or both")
        return self


class Slowdowns(Message):
    """A node's slowdowns now: its compute factor, and each slowed link's (others are 1)."""

    node: str
    factor: float
    links: dict[str, float]


class Deployed(Message):
    node: str
    deployed: bool = True


class Stored(Message):
    """A data file (or exit output) taken in."""

    stored: bool = True


class Injected(Message):
    injected: bool = True


class TaskRecordBody(Message):
    """One (task, input id) record of an agent's monitor, with its derived spans."""

    task: str
    input_id: int
    node: str
    enter: float | None = None
    ready: float | None = None
    start: float | None = None
    finish: float | None = None
    output_bytes: int | None = None
    failed: str | None = None
    attempts: int = 1
    # CPU seconds the run used on the host (before the node-speed stretch); None from an
    # agent of a version that did not measure it.
    cpu: float | None = None
    waiting: float | None = None
    queued: float | None = None
    duration: float | None = None
    elapse: float | None = None


class Stats(Message):
    node: str
    records: list[TaskRecordBody]


class Status(Message):
    node: str
    deployed: bool
    waiting: int
    queued: int
    running: int
    done: int
    failed: int


class RoleChange(Message):
    """POST /circe/role: start (running: true) or stop (false) this agent's executor role."""

    running: bool


class RoleStatus(Message):
    """GET and POST /circe/role: whether the executor role runs here, and what it holds."""

    node: str
    running: bool
    # The deployment epoch it runs (-1: none yet).
    epoch: int = Field(ge=-1, lt=2**31)
    # Task worker processes alive on this node (warm Python interpreters).
    task_workers: int = Field(ge=0)


# -- home -----------------------------------------------------------------------------------


class Registration(Message):
    run_id: Name
    node: Name
    url: Url
    pid: int = Field(default=0, ge=0, lt=2**31)


class Registered(Message):
    registered: bool = True


class FailureEvent(Message):
    """A task (or a transfer) that failed on an agent; the run stops with this message."""

    kind: Literal["failure"] = "failure"
    node: Name
    task: Name
    input_id: InputId
    message: str = Field(max_length=MAX_MESSAGE_CHARS)
    # Set when the failure is a destination that never answered: the node is at fault, not
    # the task whose output could not be delivered.
    unreachable: Name | None = None

    def describe(self) -> str:
        if self.unreachable is not None:
            return (
                f"node {self.unreachable} unreachable from {self.node} (delivering the "
                f"output of '{self.task}' for input {self.input_id}): {self.message}"
            )
        return (
            f"task '{self.task}' failed on node {self.node} "
            f"for input {self.input_id}: {self.message}"
        )


class Noted(Message):
    noted: bool = True


class Heartbeat(Message):
    """POST /home/heartbeat, every HEARTBEAT_INTERVAL_S from every agent: alive, and how busy.

    `held` lists the inputs the agent still keeps data for; the answer says which of them the
    agent may forget. `records` are the final monitor records of inputs it forgot since the
    last beat that reached the home, so that no record is lost and none piles up."""

    node: Name
    # The deployment the agent runs (-1 before the first).
    epoch: int = Field(ge=-1, lt=2**31)
    ready: int = Field(ge=0)
    running: int = Field(ge=0)
    sending: int = Field(ge=0)
    store_bytes: int = Field(ge=0)
    held: list[InputId] = Field(default_factory=list, max_length=1_000_000)
    records: list[TaskRecordBody] = Field(default_factory=list, max_length=1_000_000)
    # Whether the agent runs the executor role: one that does not is not behind any epoch.
    executing: bool = True


class HeartbeatAnswer(Message):
    # The home's current deployment epoch (-1 before dispatch): an agent behind it is sent
    # the current deployment.
    epoch: int
    # Inputs every exit output of which reached the home (or that failed): their data and
    # records may go.
    release: list[InputId] = Field(default_factory=list)
    # Every input below this id is done: mapping epochs only they used may be forgotten.
    done_below: int = Field(default=0, ge=0, lt=2**53)


class ProfileQuery(Body):
    """GET /home/profile?refresh=1: the profile brought up to date from the agents. (A query
    is text: lax on purpose, so that "1", "true" and "yes" all read as True.)"""

    refresh: bool = False


# The body of POST /home/emulation: one change, as cluster.yaml `events:` and `jupiter emulate`
# state it (the model lives with the emulation it changes).
ConditionRequest = ConditionChange


class ConditionApplied(Message):
    """A change the home applied: when, and the agent's slowdowns after it."""

    at: float
    # Seconds since the stream started (host clock); None before the stream.
    stream_s: float | None
    change: str
    slowdowns: Slowdowns
