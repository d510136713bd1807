"""Bodies of the distributed WAVE (agent/wave_role.py on the agents, controller/wave_home.py
on the home). Every figure is finite and non-negative; names are bounded like every body's."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from jupiter.api.models import Message, Name, Url

Figure = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
# A list of names in one body: a task controls at most every other task.
MAX_NAMES = 1_000_000


class Link(Message):
    """One link fit: `p + q*bytes + r*bytes^2` seconds."""

    p: Figure
    q: Figure
    r: float = Field(default=0.0, allow_inf_nan=False)


class WaveStart(Message):
    """POST /wave/start: a distributed WAVE begins; `addresses` lets the agent reach the
    agents it appoints (the mapping, and so the deployment, does not exist yet)."""

    addresses: dict[Name, Url]


class WaveReady(Message):
    """The agent's own link fits to every peer, as it will decide from them (its snapshot)."""

    node: Name
    links: dict[Name, Link]


class WaveAppointment(Message):
    """POST /wave/appoint: the receiving agent runs `task`, expected from `start` to `finish`,
    and decides the nodes of the children it controls, in this (turn) order."""

    task: Name
    start: Figure
    finish: Figure
    controls: list[Name] = Field(default_factory=list, max_length=MAX_NAMES)


class WaveAppointed(Message):
    appointed: bool = True


class WaveTurnRequest(Message):
    """POST /home/wave/turn: `node` asks to decide `task`; answered when it is its turn."""

    node: Name
    task: Name


class ParentPlacement(Message):
    """A parent of the child, where it was appointed, when it is expected to finish, and
    the bytes it sends the child."""

    task: Name
    node: Name
    finish: Figure
    bytes: Figure
    # With peer_links: the link fits that node announced when the WAVE started.
    links: dict[Name, Link] | None = None


class WaveTurn(Message):
    """What a decider is told when its child's turn comes: the child (its compute estimate
    on each node, in the order that breaks ties; its parents in edge order; its pin), the
    announced load (every node's ready time, the nodes at the cap), and the children that
    the child controls in turn (for its appointee)."""

    task: Name
    controller: Name
    compute: dict[Name, Figure]
    parents: list[ParentPlacement] = Field(max_length=MAX_NAMES)
    pin: Name | None = None
    ready: dict[Name, Figure]
    full: list[Name] = Field(default_factory=list, max_length=MAX_NAMES)
    controls: list[Name] = Field(default_factory=list, max_length=MAX_NAMES)
    # Use the other parents' announced link fits (`links` on each parent), not a guess.
    peer_links: bool = False


class WaveAnnouncement(Message):
    """POST /home/wave/announce: `node` appointed `task` to `choice`, expected from `start`
    to `finish`; the home adds it to the ledger every later decider reads."""

    node: Name
    task: Name
    choice: Name
    start: Figure
    finish: Figure


class WaveNoted(Message):
    noted: bool = True
