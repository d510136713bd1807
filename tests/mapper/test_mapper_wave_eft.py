"""WAVE with load feedback: the earliest-finish decision, the ledger, the in-process run."""

from __future__ import annotations

import pytest

from jupiter.mapper import wave
from jupiter.mapper.arrays import compile_problem
from jupiter.mapper.problem import Edge, LinkModel, SchedulingProblem
from jupiter.mapper.wave_eft import EftView, OtherParent, eft_choice, expected
from jupiter.mapper.wave_plan import (
    Decision,
    Ledger,
    WavePlan,
    decide_in_process,
    link_rows,
    view_for,
)


def fixed(seconds: float) -> LinkModel:
    return LinkModel(seconds, 0.0)


def view(**overrides) -> EftView:
    fields = {
        "node": "me",
        "links": {"a": fixed(1.0), "b": fixed(3.0)},
        "compute": {"me": 10.0, "a": 2.0, "b": 2.0},
        "ready": {},
        "parent_finish": 5.0,
    }
    fields.update(overrides)
    return EftView(**fields)


def test_earliest_finish_counts_transfer_ready_time_and_compute():
    # me: 5 + 10 = 15; a: 5 + 1 + 2 = 8; b: 5 + 3 + 2 = 10.
    chosen = eft_choice(view())
    assert (chosen.node, chosen.start, chosen.finish) == ("a", 6.0, 8.0)
    # a announced busy until 9: a finishes at 11, b at 10.
    assert eft_choice(view(ready={"a": 9.0})).node == "b"


def test_the_decider_may_keep_the_child_without_a_transfer():
    assert eft_choice(view(compute={"me": 2.0, "a": 2.0, "b": 2.0})).node == "me"


def test_transfer_uses_the_child_data_size():
    links = {"near": LinkModel(0.001, 1e-6), "far": LinkModel(0.1, 1e-9)}
    compute = {"me": 100.0, "near": 1.0, "far": 1.0}
    assert eft_choice(view(links=links, compute=compute, data_bytes=1e3)).node == "near"
    assert eft_choice(view(links=links, compute=compute, data_bytes=1e8)).node == "far"


def test_other_parents_delay_the_start_with_the_deciders_own_link_guess():
    other = OtherParent(node="b", finish=20.0, data_bytes=0.0)
    # On b the other parent's data is local (20); b -> a is guessed as the slower of the
    # decider's own links to a (1) and to b (3): 23.
    v = view(others=(other,))
    assert expected(v, "b").start == 20.0
    assert expected(v, "a").start == 23.0
    # To the decider itself: its own link to b, taken as symmetric.
    assert expected(v, "me").start == 23.0
    assert eft_choice(v).node == "b"


def test_the_home_decides_by_compute_and_ready_time_alone():
    v = EftView(node=None, links={}, compute={"x": 3.0, "y": 3.0}, ready={"x": 1.0})
    assert eft_choice(v).node == "y"
    # Ties: the earlier node in the compute table.
    assert (
        eft_choice(EftView(node=None, links={}, compute={"x": 3.0, "y": 3.0}, ready={})).node == "x"
    )


def test_excluded_nodes_are_never_chosen():
    assert eft_choice(view(excluded=frozenset({"a"}))).node == "b"
    assert eft_choice(view(excluded=frozenset({"a", "b", "me"}))) is None


def test_the_view_is_not_changed_by_deciding():
    v = view(ready={"a": 1.0})
    assert [eft_choice(v) for _ in range(3)] == [eft_choice(v)] * 3
    assert v.ready == {"a": 1.0}


def fan_problem() -> SchedulingProblem:
    # s -> t1..t4, all equal, on 3 equal nodes with a cheap link: the load must spread them.
    tasks = ["s", "t1", "t2", "t3", "t4"]
    nodes = ["n1", "n2", "n3"]
    links = {a: {b: fixed(0.1) for b in nodes if b != a} for a in nodes}
    edges = [Edge("s", t, 1.0) for t in tasks[1:]]
    compute = {t: dict.fromkeys(nodes, 1.0) for t in tasks}
    return SchedulingProblem(tasks, nodes, compute, edges, links)


def test_load_feedback_spreads_siblings_over_the_nodes():
    problem = fan_problem()
    schedule = wave.schedule(problem)
    schedule.check(problem)
    nodes = [schedule.node_of(t) for t in ("t1", "t2", "t3", "t4")]
    # Without feedback all four would go to one node; with it no node takes more than two.
    assert max(nodes.count(n) for n in problem.nodes) == 2
    # s on n1 (0-1); t1 stays on n1 (1-2); t2, t3 cross to n2, n3 (1.1-2.1); t4: n1 at 2-3.
    assert nodes == ["n1", "n2", "n3", "n1"]
    assert schedule.makespan == pytest.approx(3.0)


def test_each_appointment_moves_the_chosen_nodes_ready_time():
    a = compile_problem(fan_problem())
    plan = WavePlan.of(a)
    decisions = decide_in_process(plan, link_rows(a))
    ready: dict[str, float] = {}
    for d in decisions:
        assert d.start >= ready.get(d.node, 0.0)
        ready[d.node] = d.finish
    assert decisions[0] == Decision("s", None, "n1", 0.0, 1.0)


def test_ledger_counts_pins_still_to_come_against_the_cap():
    a = compile_problem(fan_problem())
    plan = WavePlan.of(a)
    plan.cap, plan.pinned = 2, {"t4": "n2"}
    ledger = Ledger(plan)
    ledger.announce(Decision("s", None, "n2", 0.0, 1.0))
    assert ledger.full() == frozenset({"n2"})
    with pytest.raises(ValueError, match="appointed already"):
        ledger.announce(Decision("s", None, "n1", 0.0, 1.0))
    with pytest.raises(ValueError, match="before its turn"):
        ledger.announce(Decision(plan.order[2], "n2", "n1", 1.0, 2.0))
    assert ledger.done_before(plan.order[1]) and not ledger.done_before(plan.order[2])


def test_view_for_takes_the_controlling_parent_and_announced_others():
    problem = SchedulingProblem(
        ["p", "q", "c"],
        ["n1", "n2"],
        {t: {"n1": 1.0, "n2": 1.0} for t in "pqc"},
        [Edge("p", "c", 7.0), Edge("q", "c", 9.0)],
        {"n1": {"n2": fixed(0.5)}, "n2": {"n1": fixed(0.5)}},
    )
    plan = WavePlan.of(compile_problem(problem))
    assert plan.controller == {"p": None, "q": None, "c": "p"}
    placed = {"p": ("n1", 1.0), "q": ("n2", 2.0)}
    v = view_for(plan.child("c"), "n1", {"n2": fixed(0.5)}, placed, {"n1": 1.0, "n2": 2.0}, ())
    assert (v.parent_finish, v.data_bytes) == (1.0, 7.0)
    assert v.others == (OtherParent("n2", 2.0, 9.0),)


def test_wave_beats_the_threshold_rules_on_a_random_dag():
    from jupiter.mapper.network import random_network
    from jupiter.mapper.random_dag import random_problem

    network = random_network(16, seed=3, latency=(0.0, 0.0))
    problem = random_problem(60, 16, ccr=1.0, alpha=1.0, out_degree=3, network=network, seed=3)
    ours = wave.schedule(problem)
    ours.check(problem)
    assert ours.makespan < wave.schedule_classic(problem).makespan
    assert ours.makespan < wave.schedule_greedy(problem).makespan


def test_peer_links_take_the_other_parents_own_announced_link():
    # The other parent's node b announced its link to a: 10 s, where our guess (me->a) is 1.
    other = OtherParent(node="b", finish=20.0, data_bytes=0.0, links={"a": fixed(10.0)})
    v = view(others=(other,))
    assert expected(v, "a").start == 30.0
    assert expected(v, "b").start == 20.0


def test_peer_links_bring_wave_near_heft_on_a_random_dag_with_joins():
    from jupiter.mapper import heft
    from jupiter.mapper.network import random_network
    from jupiter.mapper.random_dag import random_problem

    network = random_network(40, seed=7, latency=(0.0, 0.0))
    problem = random_problem(120, 40, ccr=1.0, alpha=1.0, out_degree=3, network=network, seed=7)
    guessed = wave.schedule(problem)
    announced = wave.schedule(problem, peer_links=True)
    announced.check(problem)
    assert announced.makespan < guessed.makespan
    assert announced.makespan <= 1.3 * heft.schedule(problem).makespan
