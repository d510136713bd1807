"""ExecutorState driven event by event: the exact actions each event must produce."""

from __future__ import annotations

import pytest
from state_cases import ADDRESSES, make_app

from jupiter.api.models import Deployment
from jupiter.app.spec import App
from jupiter.circe.state import (
    SEND_WINDOW,
    DataArrived,
    ExecutorState,
    InputInjected,
    InvalidEvent,
    MappingDeployed,
    MappingRejected,
    ReportFailure,
    RunTask,
    SendFailed,
    SendOutput,
    SendSucceeded,
    TaskFailed,
    TaskFinished,
    TaskStarted,
)


def deployed(
    app: App, mapping: dict[str, str], slots: int = 1, send_window: int = SEND_WINDOW
) -> ExecutorState:
    state = ExecutorState("n0", app, slots, send_window)
    assert state.handle(MappingDeployed(Deployment(mapping=mapping, addresses=ADDRESSES))) == []
    return state


DIAMOND = make_app({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}, {"in": ["a"]})


def run(state: ExecutorState, task: str, input_id: int, at: float) -> None:
    assert state.handle(TaskStarted(task, input_id, at)) == []


def test_diamond_join_runs_once_both_branches_are_in() -> None:
    state = deployed(DIAMOND, dict.fromkeys(["in", "a", "b", "c", "d"], "n0"), slots=2)

    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [RunTask("a", 0)]
    run(state, "a", 0, 1.5)
    assert state.handle(TaskFinished("a", 0, 10, at=2.0)) == [RunTask("b", 0), RunTask("c", 0)]
    run(state, "b", 0, 2.1)
    run(state, "c", 0, 2.2)
    assert state.handle(TaskFinished("b", 0, 10, at=3.0)) == []
    assert state.handle(TaskFinished("c", 0, 10, at=4.0)) == [RunTask("d", 0)]
    run(state, "d", 0, 4.5)
    assert state.handle(TaskFinished("d", 0, 64, at=5.0)) == [SendOutput("home", 0, "d")]

    records = {(r["task"], r["input_id"]): r for r in state.monitor.snapshot()}
    assert records["in", 0]["enter"] == records["in", 0]["finish"] == 1.0
    assert records["in", 0]["output_bytes"] == 5
    d = records["d", 0]
    assert (d["enter"], d["ready"], d["start"], d["finish"]) == (3.0, 4.0, 4.5, 5.0)
    assert (d["waiting"], d["queued"], d["duration"], d["output_bytes"]) == (1.5, 0.5, 0.5, 64)
    assert state.monitor.counts() == {
        "waiting": 0,
        "queued": 0,
        "running": 0,
        "done": 5,
        "failed": 0,
    }


def test_resent_data_and_reinjected_inputs_run_nothing_twice() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    state = deployed(app, {"in": "n1", "a": "n1", "b": "n0"})

    assert state.handle(DataArrived(0, "a", at=1.0)) == [RunTask("b", 0)]
    assert state.handle(DataArrived(0, "a", at=1.1)) == []  # resent while b runs
    run(state, "b", 0, 1.2)
    assert state.handle(TaskFinished("b", 0, 3, at=2.0)) == [SendOutput("home", 0, "b")]
    assert state.handle(DataArrived(0, "a", at=2.5)) == []  # resent after b finished
    assert state.monitor.record("b", 0).enter == 1.0

    source_here = deployed(app, {"in": "n0", "a": "n1", "b": "n0"})
    assert source_here.handle(InputInjected(0, "in", 5, at=1.0)) == [SendOutput("n1", 0, "in")]
    assert source_here.handle(SendSucceeded("n1", 0, "in", at=1.5)) == []
    assert source_here.handle(InputInjected(0, "in", 5, at=2.0)) == []


def test_fan_out_sends_once_per_remote_node_and_feeds_local_children() -> None:
    app = make_app({"a": [], "b": ["a"], "c": ["a"], "d": ["a"], "e": ["a"]}, {"in": ["a"]})
    state = deployed(app, {"in": "n0", "a": "n0", "b": "n1", "c": "n1", "d": "n2", "e": "n0"})

    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [RunTask("a", 0)]
    run(state, "a", 0, 1.0)
    assert state.handle(TaskFinished("a", 0, 8, at=2.0)) == [
        SendOutput("n1", 0, "a"),
        SendOutput("n2", 0, "a"),
        RunTask("e", 0),
    ]
    assert state.queued_sends("n1") == [] and state.queued_sends("n2") == []
    assert state.handle(SendSucceeded("n1", 0, "a", at=2.5)) == []
    assert state.monitor.record("e", 0).ready == 2.0


def test_exits_go_home_as_well_as_to_their_children_one_send_at_a_time() -> None:
    """With a window of one send (stop-and-wait), each link carries one file at a time."""
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]}, exits=["a", "b"])
    state = deployed(app, {"in": "n0", "a": "n0", "b": "n1"}, slots=2, send_window=1)

    state.handle(InputInjected(0, "in", 5, at=1.0))
    assert state.handle(InputInjected(1, "in", 5, at=1.1)) == [RunTask("a", 1)]
    run(state, "a", 0, 1.2)
    run(state, "a", 1, 1.3)
    assert state.handle(TaskFinished("a", 0, 8, at=2.0)) == [
        SendOutput("home", 0, "a"),
        SendOutput("n1", 0, "a"),
    ]
    # Each link carries one file at a time, in the order the outputs were made.
    assert state.handle(TaskFinished("a", 1, 8, at=2.1)) == []
    assert state.queued_sends("home") == [SendOutput("home", 1, "a")]
    assert state.handle(SendSucceeded("n1", 0, "a", at=2.5)) == [SendOutput("n1", 1, "a")]
    assert state.handle(SendSucceeded("home", 0, "a", at=2.6)) == [SendOutput("home", 1, "a")]
    assert state.handle(SendSucceeded("home", 1, "a", at=2.7)) == []


def test_a_failed_task_is_reported_and_runs_nothing_downstream() -> None:
    state = deployed(DIAMOND, dict.fromkeys(["in", "a", "b", "c", "d"], "n0"))

    state.handle(InputInjected(0, "in", 5, at=1.0))
    run(state, "a", 0, 1.0)
    assert state.handle(TaskFailed("a", 0, "boom", at=2.0)) == [ReportFailure("a", 0, "boom")]
    assert state.monitor.record("a", 0).failed == "boom"
    assert state.ready == [] and state.running == frozenset()
    # The slot is free again for the next input.
    assert state.handle(InputInjected(1, "in", 5, at=3.0)) == [RunTask("a", 1)]
    assert state.monitor.counts() == {
        "waiting": 0,
        "queued": 1,  # a for input 1: handed a slot, not started yet
        "running": 0,
        "done": 2,  # the two injected inputs
        "failed": 1,
    }


def test_a_failed_send_is_reported_and_the_link_moves_on() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    state = deployed(app, {"in": "n0", "a": "n1", "b": "n1"}, send_window=1)

    assert state.handle(InputInjected(0, "in", 5, at=1.0)) == [SendOutput("n1", 0, "in")]
    assert state.handle(InputInjected(1, "in", 5, at=1.1)) == []
    assert state.handle(SendFailed("n1", 0, "in", "refused", at=2.0)) == [
        ReportFailure("in", 0, "refused"),
        SendOutput("n1", 1, "in"),
    ]


def test_a_window_of_sends_is_in_flight_per_link_started_in_input_order() -> None:
    """Pipelined links: up to the window, each output leaves as soon as it is made; beyond
    it, outputs wait in the outbox and take the places that free up, oldest first, whichever
    send in flight ends first. Each destination has its own window."""
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]}, exits=["a", "b"])
    state = deployed(app, {"in": "n0", "a": "n1", "b": "n1"}, send_window=3)

    started = [
        action for k in range(5) for action in state.handle(InputInjected(k, "in", 5, at=1.0 + k))
    ]
    assert started == [SendOutput("n1", k, "in") for k in range(3)]
    assert state.sends_in_flight("n1") == started
    assert state.queued_sends("n1") == [SendOutput("n1", 3, "in"), SendOutput("n1", 4, "in")]
    assert state.sends_in_flight("home") == []
    assert state.sending == 5
    # The middle one ends first: the oldest queued send takes its place.
    assert state.handle(SendSucceeded("n1", 1, "in", at=7.0)) == [SendOutput("n1", 3, "in")]
    assert state.sends_in_flight("n1") == [
        SendOutput("n1", 0, "in"),
        SendOutput("n1", 2, "in"),
        SendOutput("n1", 3, "in"),
    ]
    # A failure (not unreachable) is reported and frees its place too.
    assert state.handle(SendFailed("n1", 0, "in", "HTTP 400", at=7.1)) == [
        ReportFailure("in", 0, "HTTP 400"),
        SendOutput("n1", 4, "in"),
    ]
    for k in (2, 3, 4):
        assert state.handle(SendSucceeded("n1", k, "in", at=8.0)) == []
    assert state.sending == 0
    with pytest.raises(InvalidEvent, match="in flight"):
        state.handle(SendSucceeded("n1", 2, "in", at=9.0))
    with pytest.raises(ValueError, match="at least one send"):
        ExecutorState("n0", app, send_window=0)


def test_slots_bound_concurrency_and_ready_tasks_go_first_come_first_served() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    state = deployed(app, {"in": "n1", "a": "n1", "b": "n0"}, slots=2)

    assert state.handle(DataArrived(0, "a", at=1.0)) == [RunTask("b", 0)]
    assert state.handle(DataArrived(1, "a", at=1.1)) == [RunTask("b", 1)]
    assert state.handle(DataArrived(2, "a", at=1.3)) == []
    # Reported late, but ready before input 2: it gets the next slot.
    assert state.handle(DataArrived(3, "a", at=1.2)) == []
    assert state.ready == [("b", 3), ("b", 2)]
    assert state.running == {("b", 0), ("b", 1)}
    run(state, "b", 1, 1.4)
    assert state.handle(TaskFinished("b", 1, 3, at=2.0)) == [
        SendOutput("home", 1, "b"),
        RunTask("b", 3),
    ]
    run(state, "b", 0, 1.4)
    assert state.handle(TaskFailed("b", 0, "boom", at=2.1)) == [
        ReportFailure("b", 0, "boom"),
        RunTask("b", 2),
    ]
    assert state.running == {("b", 2), ("b", 3)}
    assert state.ready == []


@pytest.mark.parametrize(
    ("mapping", "addresses", "reason"),
    [
        ({"in": "n0", "a": "n0", "b": "n0", "zz": "n0"}, ADDRESSES, "unknown tasks: ['zz']"),
        ({"in": "n0", "a": "n0"}, ADDRESSES, "unplaced: ['b']"),
        ({"in": "n0", "a": "n0", "b": "n0"}, {"n0": "http://n0"}, "no address for ['home']"),
        ({"in": "n0", "a": "n0", "b": "n2"}, {"home": "http://home"}, "no address for ['n2']"),
    ],
)
def test_a_mapping_this_node_cannot_run_is_rejected(
    mapping: dict[str, str], addresses: dict[str, str], reason: str
) -> None:
    state = ExecutorState("n0", make_app({"a": [], "b": ["a"]}, {"in": ["a"]}), slots=1)
    with pytest.raises(MappingRejected, match=reason.replace("[", r"\[").replace("]", r"\]")):
        state.handle(MappingDeployed(Deployment(mapping=mapping, addresses=addresses)))
    assert state.deployment is None


def test_a_second_mapping_is_rejected_and_the_first_stays() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    mapping = {"in": "n0", "a": "n0", "b": "n0"}
    state = deployed(app, mapping)
    other = Deployment(mapping={"in": "n1", "a": "n1", "b": "n1"}, addresses=ADDRESSES)
    with pytest.raises(MappingRejected, match="already deployed"):
        state.handle(MappingDeployed(other))
    assert state.deployment is not None and state.deployment.mapping == mapping


def test_events_that_contradict_the_state_are_refused() -> None:
    app = make_app({"a": [], "b": ["a"]}, {"in": ["a"]})
    with pytest.raises(InvalidEvent, match="no mapping deployed"):
        ExecutorState("n0", app).handle(DataArrived(0, "a", at=1.0))
    state = deployed(app, {"in": "n0", "a": "n0", "b": "n0"})
    with pytest.raises(InvalidEvent, match="not running"):
        state.handle(TaskFinished("b", 0, 3, at=1.0))
    with pytest.raises(InvalidEvent, match="in flight"):
        state.handle(SendSucceeded("home", 0, "b", at=1.0))
    with pytest.raises(ValueError, match="at least one worker slot"):
        ExecutorState("n0", app, slots=0)
