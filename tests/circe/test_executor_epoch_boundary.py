"""ExecutorState at an input boundary: a new mapping epoch from input k on leaves the inputs
below k on the mapping they started on (their queued sends, ready tasks and retained outputs
go on as before), sends inputs from k on where the new mapping says, and keeps an old
epoch's mapping only while an input may still use it. A mapping from input 0 (a re-mapping
around a lost node) moves every input at once."""

from __future__ import annotations

from state_cases import ADDRESSES, make_app

from jupiter.api.models import Deployment
from jupiter.circe.state import (
    DataArrived,
    ExecutorState,
    ForgetInput,
    InputInjected,
    InputsReleased,
    MappingDeployed,
    RunTask,
    SendOutput,
    SendSucceeded,
    TaskFinished,
    TaskStarted,
)

CHAIN = make_app({"a": [], "b": ["a"], "c": ["b"]}, {"in": ["a"]})
FIRST = {"in": "n0", "a": "n0", "b": "n1", "c": "n1"}
MOVED = {"in": "n0", "a": "n0", "b": "n2", "c": "n2"}


def deploy(state: ExecutorState, mapping: dict[str, str], epoch: int, from_input: int) -> list:
    deployment = Deployment(
        mapping=mapping, addresses=ADDRESSES, epoch=epoch, from_input=from_input
    )
    return state.handle(MappingDeployed(deployment, at=9.0))


def finish(state: ExecutorState, task: str, input_id: int, at: float) -> list:
    assert state.handle(TaskStarted(task, input_id, at)) == []
    return state.handle(TaskFinished(task, input_id, 8, at + 0.1))


def test_inputs_below_the_boundary_finish_on_their_mapping_and_later_ones_move() -> None:
    state = ExecutorState("n0", CHAIN, send_window=1)
    deploy(state, FIRST, epoch=0, from_input=0)
    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [RunTask("a", 0)]
    assert finish(state, "a", 0, 1.0) == [SendOutput("n1", 0, "a")]
    assert state.handle(InputInjected(1, "in", 5, at=1.2)) == [RunTask("a", 1)]
    assert finish(state, "a", 1, 1.3) == []  # queued behind input 0 on the link to n1
    # Epoch 1 from input 2 on: inputs 0 and 1 keep going to n1; nothing is resent or dropped.
    assert deploy(state, MOVED, epoch=1, from_input=2) == []
    assert state.queued_sends("n1") == [SendOutput("n1", 1, "a")]
    assert (state.epoch_of(0), state.epoch_of(1), state.epoch_of(2)) == (0, 0, 1)
    assert state.live_epochs == [0, 1]
    assert state.handle(SendSucceeded("n1", 0, "a", at=2.0)) == [SendOutput("n1", 1, "a")]
    # Input 2 is the first on the new mapping: its a output goes to n2.
    assert state.handle(InputInjected(2, "in", 5, at=2.1)) == [RunTask("a", 2)]
    assert finish(state, "a", 2, 2.2) == [SendOutput("n2", 2, "a")]


def test_a_task_that_moves_here_at_the_boundary_runs_only_for_later_inputs() -> None:
    # c moves from n1 to n0 from input 1 on. b's output of input 0, sent here anyway for
    # some reason (a resend), must not run c here: input 0 still has c on n1.
    state = ExecutorState("n0", CHAIN)
    deploy(state, {"in": "n1", "a": "n1", "b": "n1", "c": "n1"}, epoch=0, from_input=0)
    assert deploy(state, {"in": "n1", "a": "n1", "b": "n1", "c": "n0"}, 1, from_input=1) == []
    assert state.handle(DataArrived(0, "b", at=1.0)) == []
    assert state.handle(DataArrived(1, "b", at=1.1)) == [RunTask("c", 1)]
    assert finish(state, "c", 1, 1.2) == [SendOutput("home", 1, "c")]


def test_running_and_ready_tasks_of_earlier_inputs_stay() -> None:
    # b runs here for input 0 and is ready for input 1 when b moves away from input 2 on.
    state = ExecutorState("n0", CHAIN)
    deploy(state, {"in": "n1", "a": "n1", "b": "n0", "c": "n0"}, epoch=0, from_input=0)
    assert state.handle(DataArrived(0, "a", at=1.0)) == [RunTask("b", 0)]
    assert state.handle(TaskStarted("b", 0, at=1.0)) == []
    assert state.handle(DataArrived(1, "a", at=1.1)) == []
    assert state.ready == [("b", 1)]
    assert deploy(state, {"in": "n1", "a": "n1", "b": "n2", "c": "n2"}, 1, from_input=2) == []
    assert state.ready == [("b", 1)]
    assert state.running == {("b", 0)}
    # b of input 0 ends: b of input 1 (ready first) runs, and its output readies c here
    # (input 0's mapping keeps c on n0).
    assert state.handle(TaskFinished("b", 0, 8, at=1.5)) == [RunTask("b", 1)]
    assert state.ready == [("c", 0)]
    # b of input 1 ends: c of input 0 runs; b's output of input 1 goes to n0's c as well
    # (input 1 started on epoch 0).
    assert finish(state, "b", 1, 1.6) == [RunTask("c", 0)]
    assert state.ready == [("c", 1)]


def test_a_mapping_from_input_zero_moves_every_input_at_once() -> None:
    """A lost node: the re-mapping comes from input 0, and inputs in flight follow it."""
    state = ExecutorState("n0", CHAIN, send_window=1)
    deploy(state, FIRST, epoch=0, from_input=0)
    # A controller's switch from input 5 on, then n1 is lost while inputs 0 and 1 use it.
    assert deploy(state, {"in": "n0", "a": "n0", "b": "n1", "c": "n0"}, 1, from_input=5) == []
    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [RunTask("a", 0)]
    assert finish(state, "a", 0, 1.0) == [SendOutput("n1", 0, "a")]
    assert state.handle(InputInjected(1, "in", 5, at=1.1)) == [RunTask("a", 1)]
    assert finish(state, "a", 1, 1.2) == []
    # Forced: both inputs move; a's outputs go to n2, the queued send to n1 is dropped.
    assert deploy(state, MOVED, epoch=2, from_input=0) == [SendOutput("n2", 0, "a")]
    assert state.queued_sends("n1") == []
    assert state.queued_sends("n2") == [SendOutput("n2", 1, "a")]
    # Nothing uses epochs 0 and 1 any more.
    assert state.live_epochs == [2]
    assert (state.epoch_of(0), state.epoch_of(7)) == (2, 2)


def test_an_old_epoch_is_forgotten_once_every_input_it_covers_is_done() -> None:
    state = ExecutorState("n0", CHAIN)
    deploy(state, FIRST, epoch=0, from_input=0)
    deploy(state, MOVED, epoch=1, from_input=3)
    deploy(state, FIRST, epoch=2, from_input=6)
    assert state.live_epochs == [0, 1, 2]
    assert state.handle(InputInjected(4, "in", 5, at=1.0)) == [RunTask("a", 4)]
    # Inputs below 3 done: epoch 0 goes; epoch 1 still covers inputs 3 to 5.
    assert state.handle(InputsReleased((), at=2.0, done_below=3)) == []
    assert state.live_epochs == [1, 2]
    assert finish(state, "a", 4, 2.1) == [SendOutput("n2", 4, "a")]
    assert state.handle(InputsReleased((4,), at=3.0, done_below=6)) == [ForgetInput(4)]
    assert state.live_epochs == [2]
    # The newest stays, whatever is done.
    assert state.handle(InputsReleased((), at=4.0, done_below=100)) == []
    assert state.live_epochs == [2]
