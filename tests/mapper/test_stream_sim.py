"""The stream simulation on cases worked out by hand (times in the comments)."""

from __future__ import annotations

import pytest

from jupiter.mapper.network import random_network
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.random_dag import random_problem
from jupiter.mapper.registry import get_mapper
from jupiter.mapper.simulate import simulate
from jupiter.mapper.stream_sim import HostCosts, StreamParameters, predict_stream

FREE = LinkModel(0.0, 0.0)


def problem(
    costs: dict[str, float],
    edges: list[tuple[str, str, float]],
    nodes: list[str],
    links: dict[tuple[str, str], LinkModel] | None = None,
) -> SchedulingProblem:
    """Every task costs the same on every node; links are free unless listed."""
    links = links or {}
    return SchedulingProblem(
        tasks=list(costs),
        nodes=nodes,
        compute={t: dict.fromkeys(nodes, c) for t, c in costs.items()},
        edges=[Edge(a, b, size) for a, b, size in edges],
        links={a: {b: links.get((a, b), FREE) for b in nodes if b != a} for a in nodes},
    )


def chain() -> SchedulingProblem:
    # src (an injection point) -> a (1 s) -> b (2 s), all on n0: 3 s of n0 per input.
    return problem({"src": 0.0, "a": 1.0, "b": 2.0}, [("src", "a", 10), ("a", "b", 10)], ["n0"])


ON_N0 = {"src": "n0", "a": "n0", "b": "n0"}


def makespans(parameters: StreamParameters, p: SchedulingProblem, mapping: dict[str, str]):
    prediction = predict_stream(p, mapping, parameters)
    return prediction, [pytest.approx(i.makespan) for i in prediction.inputs]


def test_a_chain_below_its_node_capacity_keeps_its_makespan() -> None:
    # One input every 4 s, 3 s of work each: nothing waits; done at 3, 7, 11, 15.
    prediction, spans = makespans(StreamParameters(4, interval=4.0), chain(), ON_N0)
    assert spans == [3.0, 3.0, 3.0, 3.0]
    assert [i.injected_at for i in prediction.inputs] == [0.0, 4.0, 8.0, 12.0]
    assert prediction.throughput == pytest.approx(4 / 15)
    assert prediction.median_completion_gap == pytest.approx(4.0)
    assert all(i.queueing == 0 and i.queued_at is None for i in prediction.inputs)
    assert prediction.bottleneck() == ("n0", pytest.approx(3.0))


def test_a_chain_above_its_node_capacity_grows_a_queue() -> None:
    # One input every 2.5 s, 3 s of work each: every input waits 0.5 s more than the last.
    # input 1: a 3-4, b 4-6; input 2: a 6-7, b 7-9; input 3: a 9-10, b 10-12.
    prediction, spans = makespans(StreamParameters(4, interval=2.5), chain(), ON_N0)
    assert spans == [3.0, 3.5, 4.0, 4.5]
    last = prediction.inputs[3]
    assert (last.compute, last.transfer, last.queueing) == pytest.approx((3.0, 0.0, 1.5))
    assert last.queued_at == "n0"
    assert prediction.throughput == pytest.approx(4 / 12)
    assert prediction.mean_makespan == pytest.approx(3.75)


def test_a_fan_in_whose_slow_link_is_the_bottleneck() -> None:
    # src on n0 feeds a (n1) and b (n2), 0.5 s each; c (n0, 0.2 s) joins them. n1->n0 moves
    # a's 100 bytes in 0.1 s + 0.1 s latency; n2->n0 takes 1 s + 0.1 s for b's: one input
    # every 0.5 s queues on that link. b's data arrives at 1.6, 2.6, 3.6 (the link is busy
    # 0.5-1.5, 1.5-2.5, 2.5-3.5), c ends 0.2 s later.
    p = problem(
        {"src": 0.0, "a": 0.5, "b": 0.5, "c": 0.2},
        [("src", "a", 0), ("src", "b", 0), ("a", "c", 100), ("b", "c", 100)],
        ["n0", "n1", "n2"],
        {("n1", "n0"): LinkModel(0.1, 1 / 1000), ("n2", "n0"): LinkModel(0.1, 1 / 100)},
    )
    mapping = {"src": "n0", "a": "n1", "b": "n2", "c": "n0"}
    prediction, spans = makespans(StreamParameters(3, interval=0.5), p, mapping)
    assert spans == [1.8, 2.3, 2.8]
    first, last = prediction.inputs[0], prediction.inputs[2]
    assert (first.compute, first.transfer, first.queueing) == pytest.approx((0.7, 1.1, 0.0))
    assert (last.compute, last.transfer, last.queueing) == pytest.approx((0.7, 1.1, 1.0))
    assert last.queued_at == "n2->n0"
    assert prediction.bottleneck() == ("n2->n0", pytest.approx(1.0))
    assert prediction.link_busy["n1->n0"] == pytest.approx(0.3)
    assert prediction.link_busy["n2->n0"] == pytest.approx(3.0)


def test_transfers_at_once_share_the_senders_and_the_receivers_nic() -> None:
    # a (n0) sends 100 bytes to b (n1) and to c (n2) at once; each link moves 100 B/s with
    # 0.5 s of latency. Alone on their links, both arrive at 1.5 s. Through a 100 B/s NIC
    # at n0 they leave one after the other: b's data at 1.5, c's at 2.5.
    p = problem(
        {"src": 0.0, "a": 0.0, "b": 0.1, "c": 0.1},
        [("src", "a", 0), ("a", "b", 100), ("a", "c", 100)],
        ["n0", "n1", "n2"],
        {("n0", "n1"): LinkModel(0.5, 1 / 100), ("n0", "n2"): LinkModel(0.5, 1 / 100)},
    )
    mapping = {"src": "n0", "a": "n0", "b": "n1", "c": "n2"}
    _, spans = makespans(StreamParameters(1), p, mapping)
    assert spans == [1.6]
    fast = predict_stream(p, mapping, StreamParameters(1), nics=dict.fromkeys(p.nodes, 1000.0))
    assert fast.inputs[0].makespan == pytest.approx(1.6)
    shared = predict_stream(p, mapping, StreamParameters(1), nics=dict.fromkeys(p.nodes, 100.0))
    assert shared.inputs[0].makespan == pytest.approx(2.6)
    # Into one node, the receiver's NIC is what they share: b and c on n1 from n0 and n2.
    q = problem(
        {"src": 0.0, "a": 0.0, "d": 0.0, "b": 0.1},
        [("src", "a", 0), ("src", "d", 0), ("a", "b", 100), ("d", "b", 100)],
        ["n0", "n1", "n2"],
        {("n0", "n1"): LinkModel(0.5, 1 / 100), ("n2", "n1"): LinkModel(0.5, 1 / 100)},
    )
    mapping = {"src": "n0", "a": "n0", "d": "n2", "b": "n1"}
    alone = predict_stream(q, mapping, StreamParameters(1)).inputs[0].makespan
    into = predict_stream(q, mapping, StreamParameters(1), nics={"n1": 100.0})
    assert alone == pytest.approx(1.6)
    assert into.inputs[0].makespan == pytest.approx(2.6)


def test_latency_is_pipelined_not_stop_and_wait() -> None:
    # 1 s of latency, no serialising time: inputs 0.1 s apart arrive 0.1 s apart.
    p = problem(
        {"src": 0.0, "a": 0.0, "b": 0.05},
        [("src", "a", 0), ("a", "b", 10)],
        ["n0", "n1"],
        {("n0", "n1"): LinkModel(1.0, 0.0)},
    )
    mapping = {"src": "n0", "a": "n0", "b": "n1"}
    _, spans = makespans(StreamParameters(5, interval=0.1), p, mapping)
    assert spans == [1.05] * 5


def test_the_in_flight_limit_holds_injection_back() -> None:
    # One at a time: each input enters when the last is done, at 0, 3, 6, 9.
    prediction, spans = makespans(StreamParameters(4, max_in_flight=1), chain(), ON_N0)
    assert spans == [3.0] * 4
    assert [i.injected_at for i in prediction.inputs] == [0.0, 3.0, 6.0, 9.0]
    # Two at a time: inputs 0 and 1 enter at 0; 2 when 0 is done (4), 3 when 1 is (6).
    # n0 runs a0 0-1, a1 1-2, b0 2-4, b1 4-6, a2 6-7, a3 7-8, b2 8-10, b3 10-12.
    prediction, spans = makespans(StreamParameters(4, max_in_flight=2), chain(), ON_N0)
    assert [i.injected_at for i in prediction.inputs] == [0.0, 0.0, 4.0, 6.0]
    assert [i.completed_at for i in prediction.inputs] == [4.0, 6.0, 10.0, 12.0]
    assert spans == [4.0, 6.0, 6.0, 6.0]


def test_more_slots_run_ready_tasks_side_by_side() -> None:
    _, spans = makespans(StreamParameters(2, slots=2), chain(), ON_N0)
    assert spans == [3.0, 3.0]


def test_one_output_crosses_each_link_once_for_all_its_children_there() -> None:
    # a's 100 bytes go to n1 once for b and c: the link is busy 1 s, not 2.
    p = problem(
        {"src": 0.0, "a": 0.0, "b": 0.1, "c": 0.1},
        [("src", "a", 0), ("a", "b", 100), ("a", "c", 100)],
        ["n0", "n1"],
        {("n0", "n1"): LinkModel(0.0, 1 / 100)},
    )
    mapping = {"src": "n0", "a": "n0", "b": "n1", "c": "n1"}
    prediction, spans = makespans(StreamParameters(1), p, mapping)
    assert spans == [1.2]  # arrives at 1, b 1-1.1, c 1.1-1.2
    assert prediction.link_busy == {"n0->n1": pytest.approx(1.0)}


def test_one_input_without_contention_is_the_idle_cluster_schedule() -> None:
    # One task a node: nothing shares a node or a link, so one input alone takes what
    # mapper/simulate.py's idle-cluster schedule says, to the last digit.
    p = random_problem(30, 30, network=random_network(30, seed=2), seed=5)
    mapping = dict(zip(p.tasks, p.nodes, strict=True))
    alone = predict_stream(p, mapping, StreamParameters(1))
    assert alone.inputs[0].makespan == pytest.approx(simulate(p, mapping, "x").makespan)


def test_breakdowns_add_up_to_each_makespan() -> None:
    p = random_problem(60, 8, network=random_network(8, seed=2), seed=5)
    mapping = get_mapper("heft")(p).mapping
    alone = predict_stream(p, mapping, StreamParameters(1)).inputs[0]
    stream = predict_stream(p, mapping, StreamParameters(30, interval=100.0))
    for entry in stream.inputs:
        parts = entry.compute + entry.transfer + entry.queueing + entry.host_overhead
        assert parts == pytest.approx(entry.makespan, rel=1e-9)
        assert entry.host_overhead == pytest.approx(0.0, abs=1e-9)
        assert entry.queueing >= -1e-9
    assert stream.inputs[-1].makespan > 2 * alone.makespan
    # Inputs further apart than one takes never meet: each is the input alone.
    apart = predict_stream(p, mapping, StreamParameters(5, interval=alone.makespan * 1.01))
    assert [i.makespan for i in apart.inputs] == pytest.approx([alone.makespan] * 5)
    assert all(i.queueing == pytest.approx(alone.queueing) for i in apart.inputs)


def test_the_homes_requests_come_before_the_sources_and_after_the_exits() -> None:
    # Handing an input over takes 0.5 s and its output home 0.25 s: src ready at 0.5, a
    # 0.5-1.5, b 1.5-3.5, home at 3.75. One at a time, the next enters once the home has it.
    host = HostCosts(inject=0.5, deliver=0.25)
    prediction, spans = makespans(StreamParameters(2, max_in_flight=1, host=host), chain(), ON_N0)
    assert spans == [3.75, 3.75]
    assert [i.injected_at for i in prediction.inputs] == [0.0, 3.75]
    first = prediction.inputs[0]
    assert (first.compute, first.queueing, first.host_overhead) == pytest.approx((3.0, 0, 0.75))
    # The report's figures are emulated: a dilated run's prediction divides them too.
    assert prediction.divided(2).inputs[0].host_overhead == pytest.approx(0.375)
    assert prediction.divided(2).parameters.host == HostCosts(inject=0.25, deliver=0.125)


def test_the_home_injects_one_input_at_a_time() -> None:
    # Each injection is a request the home waits for before the next (controller/run.py):
    # with no interval they enter 1 s apart, with a 4 s interval 5 s apart.
    host = HostCosts(inject=1.0)
    prediction, _ = makespans(StreamParameters(3, host=host), chain(), ON_N0)
    assert [i.injected_at for i in prediction.inputs] == [0.0, 1.0, 2.0]
    prediction, spans = makespans(StreamParameters(3, interval=4.0, host=host), chain(), ON_N0)
    assert [i.injected_at for i in prediction.inputs] == [0.0, 5.0, 10.0]
    assert spans == [4.0, 4.0, 4.0]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one input"):
        StreamParameters(0)
    with pytest.raises(ValueError, match="max_in_flight"):
        StreamParameters(3, max_in_flight=0)
    with pytest.raises(ValueError, match="negative"):
        HostCosts(inject=-0.001)
    with pytest.raises(ValueError, match="parents"):
        predict_stream(chain(), ON_N0, StreamParameters(1), sources=["a"])
