"""The agent's task logs: kept per (task, input), bounded by count and by text size, the
oldest first to go, independent of input release."""

from __future__ import annotations

from jupiter.app.runner import TaskOutput
from jupiter.circe.tasklogs import TaskLogStore


def printed(text: str) -> TaskOutput:
    return TaskOutput(stdout=text, stderr="", stdout_bytes=len(text), stderr_bytes=0)


def test_logs_are_kept_per_task_and_input_and_a_retry_replaces_its_attempt() -> None:
    store = TaskLogStore("n1")
    store.keep("a", 0, printed("first attempt"), failed=True)
    store.keep("b", 0, TaskOutput(stdout="o", stderr="e", stdout_bytes=9, stderr_bytes=1))
    store.keep("a", 0, printed("second attempt"))
    logs = store.snapshot()
    assert logs.node == "n1"
    assert [(log.task, log.input_id, log.stdout, log.failed) for log in logs.logs] == [
        ("b", 0, "o", False),
        ("a", 0, "second attempt", False),
    ]
    assert (logs.logs[0].stdout_bytes, logs.logs[0].stderr, logs.logs[0].stderr_bytes) == (
        9,
        "e",
        1,
    )


def test_count_bound_forgets_the_oldest_runs() -> None:
    store = TaskLogStore("n1", max_entries=3)
    for k in range(5):
        store.keep("a", k, printed(f"input {k}"))
    assert [log.input_id for log in store.snapshot().logs] == [2, 3, 4]
    assert store.held_bytes == 3 * len("input 0")


def test_byte_bound_drops_the_oldest_text_and_keeps_its_sizes() -> None:
    store = TaskLogStore("n1", max_bytes=250)
    for k in range(6):
        store.keep("a", k, printed(str(k) * 100))
    logs = store.snapshot().logs
    assert len(logs) == 6
    assert [log.dropped for log in logs] == [True] * 4 + [False] * 2
    assert [log.stdout for log in logs[4:]] == ["4" * 100, "5" * 100]
    assert all(log.stdout == "" and log.stdout_bytes == 100 for log in logs[:4])
    assert store.held_bytes == 200


def test_one_run_larger_than_the_budget_is_still_kept() -> None:
    store = TaskLogStore("n1", max_bytes=10)
    store.keep("a", 0, printed("x" * 50))
    assert store.snapshot().logs[0].stdout == "x" * 50
    store.keep("a", 1, printed("y" * 5))
    logs = store.snapshot().logs
    assert [log.dropped for log in logs] == [True, False]
    assert store.held_bytes == 5
