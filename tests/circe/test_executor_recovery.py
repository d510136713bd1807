"""ExecutorState across a re-mapping: retained outputs resent where the new mapping needs
them, queued sends rerouted, released inputs forgotten, unreachable destinations retried."""

from __future__ import annotations

import pytest
from state_cases import ADDRESSES, make_app

from jupiter.api.models import Deployment, FailureEvent
from jupiter.circe.state import (
    MAX_UNREACHABLE_ATTEMPTS,
    DataArrived,
    ExecutorState,
    ForgetInput,
    InputInjected,
    InputsReleased,
    MappingDeployed,
    MappingRejected,
    ReportFailure,
    RunTask,
    SendFailed,
    SendOutput,
    SendSucceeded,
    TaskFinished,
    TaskStarted,
)

CHAIN = make_app({"a": [], "b": ["a"], "c": ["b"]}, {"in": ["a"]})


def deploy(state: ExecutorState, mapping: dict[str, str], epoch: int = 0) -> list[object]:
    return state.handle(
        MappingDeployed(Deployment(mapping=mapping, addresses=ADDRESSES, epoch=epoch), at=9.0)
    )


def finish(state: ExecutorState, task: str, input_id: int, at: float) -> list[object]:
    assert state.handle(TaskStarted(task, input_id, at)) == []
    return state.handle(TaskFinished(task, input_id, 8, at + 0.1))


def test_outputs_made_here_go_again_to_where_the_new_mapping_moved_their_children() -> None:
    state = ExecutorState("n0", CHAIN)
    deploy(state, {"in": "n0", "a": "n0", "b": "n1", "c": "n1"})
    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [RunTask("a", 0)]
    assert finish(state, "a", 0, 1.0) == [SendOutput("n1", 0, "a")]
    assert state.handle(SendSucceeded("n1", 0, "a", at=1.5)) == []
    # n1 is lost: b and c move to n2. a's output, retained here, goes to n2 as well; the
    # source's data feeds only a, which stayed, so it does not move.
    actions = deploy(state, {"in": "n0", "a": "n0", "b": "n2", "c": "n2"}, epoch=1)
    assert actions == [SendOutput("n2", 0, "a")]
    assert state.epoch == 1
    assert state.held_inputs == [0]


def test_tasks_moved_here_count_the_data_already_held_and_run_once() -> None:
    state = ExecutorState("n0", CHAIN)
    deploy(state, {"in": "n1", "a": "n1", "b": "n1", "c": "n0"})
    # b's output arrived here for c; then b and c's upstream move around.
    assert state.handle(DataArrived(0, "b", at=1.0)) == [RunTask("c", 0)]
    assert finish(state, "c", 0, 1.1) == [SendOutput("home", 0, "c")]
    # A later mapping moves b here too: a's output must come again; c already ran.
    assert deploy(state, {"in": "n1", "a": "n1", "b": "n0", "c": "n0"}, epoch=1) == []
    assert state.handle(DataArrived(0, "a", at=2.0)) == [RunTask("b", 0)]
    # b's output feeds c here, which ran already for input 0: nothing runs twice.
    assert finish(state, "b", 0, 2.1) == []


def test_queued_sends_to_a_node_the_new_mapping_no_longer_uses_are_dropped() -> None:
    # A window of one send, so that the second input's waits in the outbox.
    state = ExecutorState("n0", CHAIN, send_window=1)
    deploy(state, {"in": "n0", "a": "n0", "b": "n1", "c": "n1"})
    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [RunTask("a", 0)]
    assert finish(state, "a", 0, 1.0) == [SendOutput("n1", 0, "a")]
    assert state.handle(InputInjected(1, "in", 5, at=1.2)) == [RunTask("a", 1)]
    assert finish(state, "a", 1, 1.3) == []  # queued behind input 0 on the n1 link
    assert state.queued_sends("n1") == [SendOutput("n1", 1, "a")]
    actions = deploy(state, {"in": "n0", "a": "n0", "b": "n2", "c": "n2"}, epoch=1)
    # One at a time on the new link too, in input order.
    assert actions == [SendOutput("n2", 0, "a")]
    assert state.queued_sends("n2") == [SendOutput("n2", 1, "a")]
    assert state.queued_sends("n1") == []
    # The send to n1 still in flight fails: nobody wants it any more, nothing is reported.
    assert state.handle(SendFailed("n1", 0, "a", "refused", 2.0, unreachable=True)) == []


def test_an_unreachable_destination_is_retried_until_the_mapping_moves_away() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    state = ExecutorState("n0", app, send_window=1)
    deploy(state, {"in": "n0", "a": "n0", "b": "n1"})
    state.handle(InputInjected(0, "in", 5, at=1.0))
    assert finish(state, "a", 0, 1.0) == [SendOutput("n1", 0, "a")]
    state.handle(InputInjected(1, "in", 5, at=1.1))
    assert finish(state, "a", 1, 1.2) == []
    for attempt in range(1, 4):
        failed = SendFailed("n1", 0, "a", "refused", 1.0 + attempt, unreachable=True)
        # The same send again, one attempt later; the link keeps input 1 behind it.
        assert state.handle(failed) == [SendOutput("n1", 0, "a", attempt)]
    assert state.queued_sends("n1") == [SendOutput("n1", 1, "a")]
    # The node is declared lost and b moves to n2: the retries end, input order holds there.
    actions = deploy(state, {"in": "n0", "a": "n0", "b": "n2"}, epoch=1)
    assert actions == [SendOutput("n2", 0, "a")]
    assert state.queued_sends("n2") == [SendOutput("n2", 1, "a")]
    assert state.handle(SendFailed("n1", 0, "a", "refused", 9.0, unreachable=True)) == []


def test_an_unreachable_destination_the_mapping_keeps_is_reported_in_the_end() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    state = ExecutorState("n0", app)
    deploy(state, {"in": "n0", "a": "n0", "b": "n1"})
    state.handle(InputInjected(0, "in", 5, at=1.0))
    finish(state, "a", 0, 1.0)
    for _ in range(1, MAX_UNREACHABLE_ATTEMPTS):
        state.handle(SendFailed("n1", 0, "a", "refused", 2.0, unreachable=True))
    last = state.handle(SendFailed("n1", 0, "a", "refused", 3.0, unreachable=True))
    assert last == [ReportFailure("a", 0, "node n1 unreachable from n0: refused", "n1")]


def test_a_released_input_is_forgotten_with_its_records() -> None:
    state = ExecutorState("n0", CHAIN)
    deploy(state, dict.fromkeys(["in", "a", "b", "c"], "n0"))
    state.handle(InputInjected(0, "in", 5, at=1.0))
    finish(state, "a", 0, 1.0)
    finish(state, "b", 0, 1.2)
    assert finish(state, "c", 0, 1.4) == [SendOutput("home", 0, "c")]
    state.handle(SendSucceeded("home", 0, "c", at=1.6))
    state.handle(InputInjected(1, "in", 5, at=2.0))
    assert state.held_inputs == [0, 1]
    assert state.handle(InputsReleased((0,), at=3.0)) == [ForgetInput(0)]
    assert state.held_inputs == [1]
    assert sorted(r.task for r in state.finished_records) == ["a", "b", "c", "in"]
    assert {r["input_id"] for r in state.monitor.snapshot()} == {1}
    # Released twice, or data for it arriving late: nothing happens.
    assert state.handle(InputsReleased((0,), at=3.1)) == []
    assert state.handle(DataArrived(0, "b", at=3.2)) == []
    assert state.held_inputs == [1]


def test_a_replayed_run_that_ends_after_the_release_ships_nothing() -> None:
    state = ExecutorState("n0", CHAIN)
    deploy(state, dict.fromkeys(["in", "a", "b", "c"], "n0"))
    state.handle(InputInjected(0, "in", 5, at=1.0))
    assert state.handle(TaskStarted("a", 0, 1.0)) == []
    state.handle(InputsReleased((0,), at=1.5))
    assert state.handle(TaskFinished("a", 0, 8, 2.0)) == [ForgetInput(0)]


def test_epochs_only_go_forward() -> None:
    state = ExecutorState("n0", CHAIN)
    mapping = dict.fromkeys(["in", "a", "b", "c"], "n0")
    deploy(state, mapping, epoch=3)
    assert deploy(state, mapping, epoch=3) == []  # the same push again: nothing
    with pytest.raises(MappingRejected, match="needs a higher epoch, not 2"):
        deploy(state, {**mapping, "c": "n1"}, epoch=2)
    assert state.epoch == 3


def test_an_unreachable_node_is_named_as_the_failure_not_the_task() -> None:
    event = FailureEvent(
        node="n0", task="a", input_id=3, message="ConnectionRefusedError", unreachable="n1"
    )
    assert event.describe() == (
        "node n1 unreachable from n0 (delivering the output of 'a' for input 3): "
        "ConnectionRefusedError"
    )


def test_a_window_of_sends_to_a_lost_node_retries_in_place_and_moves_in_order() -> None:
    """With a window, every send in flight to a node that stops answering is retried in its
    place (queued ones never overtake it); a re-mapping ends the retries and sends the
    retained outputs to the new node in input order, as many at once as the window allows."""
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    state = ExecutorState("n0", app, slots=4, send_window=2)
    deploy(state, {"in": "n0", "a": "n0", "b": "n1"})
    for k in range(3):
        state.handle(InputInjected(k, "in", 5, at=1.0 + k))
    assert finish(state, "a", 0, 2.0) == [SendOutput("n1", 0, "a")]
    assert finish(state, "a", 1, 2.1) == [SendOutput("n1", 1, "a")]
    assert finish(state, "a", 2, 2.2) == []  # the window is full
    assert state.queued_sends("n1") == [SendOutput("n1", 2, "a")]
    # Both fail, the later one first: each is retried where it stood.
    assert state.handle(SendFailed("n1", 1, "a", "refused", 3.0, unreachable=True)) == [
        SendOutput("n1", 1, "a", 1)
    ]
    assert state.handle(SendFailed("n1", 0, "a", "refused", 3.1, unreachable=True)) == [
        SendOutput("n1", 0, "a", 1)
    ]
    assert state.sends_in_flight("n1") == [SendOutput("n1", 0, "a", 1), SendOutput("n1", 1, "a", 1)]
    assert state.queued_sends("n1") == [SendOutput("n1", 2, "a")]
    assert state.sending == 3
    actions = deploy(state, {"in": "n0", "a": "n0", "b": "n2"}, epoch=1)
    assert actions == [SendOutput("n2", 0, "a"), SendOutput("n2", 1, "a")]
    assert state.queued_sends("n2") == [SendOutput("n2", 2, "a")]
    assert state.queued_sends("n1") == []
    # The retries to n1 end as nobody wants them; n2's window moves on in input order.
    assert state.handle(SendFailed("n1", 1, "a", "refused", 4.0, unreachable=True)) == []
    assert state.handle(SendFailed("n1", 0, "a", "refused", 4.1, unreachable=True)) == []
    assert state.handle(SendSucceeded("n2", 1, "a", at=4.2)) == [SendOutput("n2", 2, "a")]
    assert state.sends_in_flight("n2") == [SendOutput("n2", 0, "a"), SendOutput("n2", 2, "a")]
    assert state.sending == 2
