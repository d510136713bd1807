"""GET /metrics on the home and on every agent, scraped mid-run through the run's own token:
Prometheus text whose counters move, and match what the stream did exactly (tasks run and
failed, bytes sent on each link, inputs injected, completed, failed); without the token, 401.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from jupiter.api import paths
from jupiter.backends.local import LocalBackend
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunContext, RunOptions, run

SIZES = {"a": 1000, "b": 2000, "c": 3000}
# Input 1 fails at the exit task (--on-error skip): inputs 0, 2 and 3 complete.
BAD_INPUT = 1
INPUTS = 4

CODE = """
def _relay(inputs, output, size):
    (data,) = [path.read_bytes() for path in inputs.values()]
    output.write_bytes(data[:8].ljust(size, b"."))


def a(inputs, output):
    _relay(inputs, output, 1000)


def b(inputs, output):
    _relay(inputs, output, 2000)


def c(inputs, output):
    (data,) = [path.read_bytes() for path in inputs.values()]
    if data.startswith(b"bad"):
        raise ValueError("a bad reading")
    _relay(inputs, output, 3000)
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def write_app(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "tasks.py").write_text(CODE)
    (root / "samples").mkdir()
    for k in range(INPUTS):
        text = "bad data" if k == BAD_INPUT else f"good {k:03d}"
        (root / "samples" / f"{k}.txt").write_text(text)
    tasks = {
        name: {
            "python": f"tasks.py:{name}",
            "parents": [parent] if parent else [],
            "estimate": {"seconds": 0.01, "output_bytes": SIZES[name]},
        }
        for name, parent in (("a", None), ("b", "a"), ("c", "b"))
    }
    spec = {
        "name": "metered",
        "sources": [{"name": "sensor", "feeds": ["a"], "inputs": ["samples/*.txt"]}],
        "tasks": tasks,
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels (parsed by prometheus_client itself)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[str, Samples], name: str, **labels: str) -> float:
    return sum(value(one, name, **labels) for one in samples.values())


def expected(mapping: dict[str, str], done: list[int]) -> dict[str, float]:
    """What the agents must have counted once the inputs in `done` are through."""
    ran = {"a": len(done), "b": len(done), "c": len([k for k in done if k != BAD_INPUT])}
    figures: dict[str, float] = {f"run {task}": count for task, count in ran.items()}
    figures["failed c"] = len([k for k in done if k == BAD_INPUT])
    links: dict[tuple[str, str], float] = defaultdict(float)
    input_bytes = len("good 000")
    for producer, consumer in (("sensor", "a"), ("a", "b"), ("b", "c"), ("c", "home")):
        sender = mapping[producer]
        receiver = "home" if consumer == "home" else mapping[consumer]
        if sender != receiver:
            size = input_bytes if producer == "sensor" else SIZES[producer]
            links[(sender, receiver)] += size * ran.get(producer, len(done))
    for (sender, receiver), sent in links.items():
        figures[f"bytes {sender}->{receiver}"] = sent
    return figures


def measured(agents: dict[str, Samples], mapping: dict[str, str]) -> dict[str, float]:
    figures: dict[str, float] = {
        f"run {task}": total(agents, "jupiter_tasks_run_total", task=task) for task in SIZES
    }
    figures["failed c"] = total(agents, "jupiter_task_failures_total", task="c")
    for node, samples in agents.items():
        for (name, labels), sent in samples.items():
            if name == "jupiter_bytes_sent_total":
                figures[f"bytes {node}->{dict(labels)['destination']}"] = sent
    return figures


async def scrape_all(
    session: aiohttp.ClientSession, context: RunContext
) -> tuple[Samples, dict[str, Samples]]:
    async def one(url: str) -> Samples:
        async with session.get(url + paths.METRICS, headers=context.auth) as response:
            assert response.status == 200, await response.text()
            assert response.headers["Content-Type"].startswith("text/plain")
            return parse(await response.text())

    agents = dict(context.state.agents)
    home = await one(context.home_url)
    scraped = await asyncio.gather(*(one(url) for url in agents.values()))
    return home, dict(zip(agents, scraped, strict=True))


async def settle(
    session: aiohttp.ClientSession,
    context: RunContext,
    ready: Callable[[Samples, dict[str, Samples]], bool],
    keep: Callable[[Samples, dict[str, Samples]], None],
    timeout: float = 10.0,
) -> None:
    """Scrape until `ready` (a counter may trail the event that made it by one answer),
    keeping each scrape: the test asserts on the last one, even if the run ended first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        home, agents = await scrape_all(session, context)
        keep(home, agents)
        if ready(home, agents) or asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


def test_metrics_are_scraped_mid_run_and_match_the_stream(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    seen: dict[str, object] = {}

    async def watch(context: RunContext) -> None:
        state = context.state
        async with aiohttp.ClientSession() as session:
            for url in [context.home_url, *state.agents.values()]:
                async with session.get(url + paths.METRICS) as response:
                    seen.setdefault("no token", []).append(response.status)  # type: ignore[union-attr]
                bad = {"Authorization": "Bearer not-the-token"}
                async with session.get(url + paths.METRICS, headers=bad) as response:
                    seen.setdefault("bad token", []).append(response.status)  # type: ignore[union-attr]
            assert state.deployment is not None
            mapping = dict(state.deployment.mapping)
            seen["mapping"] = mapping
            # Checkpoints while the stream is quiet: input k through, k + 1 not injected yet.
            for k in (0, 2):
                await state.latch.wait_for(lambda k=k: state.deliveries.done(k), 30, f"input {k}")
                done = list(range(k + 1))
                want = expected(mapping, done)
                await settle(
                    session,
                    context,
                    lambda home, agents, want=want, k=k: (
                        measured(agents, mapping) == want
                        and value(home, "jupiter_inputs_injected_total") == k + 1
                    ),
                    lambda home, agents, want=want, k=k: seen.__setitem__(
                        f"after {k}", (home, agents, want)
                    ),
                )

    options = RunOptions(
        app=app,
        cluster=Cluster.default(3),
        backend=LocalBackend(),
        inputs=INPUTS,
        # Room for every input to go through before the next one enters.
        interval=1.5,
        max_in_flight=1,
        profiling=False,
        mapper="round-robin",
        on_error="skip",
        timeout=120,
        out_dir=tmp_path / "out",
        on_stream=watch,
    )
    result = asyncio.run(run(options))
    assert sorted(result.outputs) == [0, 2, 3]

    assert seen["no token"] == [401] * 4
    assert seen["bad token"] == [401] * 4
    mapping = seen["mapping"]
    assert isinstance(mapping, dict)
    assert len(set(mapping.values())) > 1, "the test needs links between nodes"
    counts = []
    for k in (0, 2):
        assert f"after {k}" in seen, f"no scrape after input {k}: the observer failed"
        home, agents, want = seen[f"after {k}"]  # type: ignore[misc]
        assert measured(agents, mapping) == want
        # Home: the stream as it saw it.
        assert value(home, "jupiter_inputs_injected_total") == k + 1
        failed = 1 if k >= BAD_INPUT else 0
        assert value(home, "jupiter_inputs_completed_total") == k + 1 - failed
        assert value(home, "jupiter_inputs_failed_total") == failed
        assert value(home, "jupiter_deliveries_total") == k + 1 - failed
        assert value(home, "jupiter_duplicates_total") == 0
        assert value(home, "jupiter_agents_registered") == 3
        assert value(home, "jupiter_agents_lost") == 0
        assert value(home, "jupiter_mapping_epoch") == 0
        for node in ("n00", "n01", "n02"):
            age = home[("jupiter_heartbeat_age_seconds", (("node", node),))]
            assert 0 <= age < 5, (node, age)
        # Agents: one transfer timed for every send, queues empty while the stream is quiet.
        for node, samples in agents.items():
            for (name, labels), sent in samples.items():
                if name != "jupiter_bytes_sent_total":
                    continue
                sends = value(samples, "jupiter_transfer_seconds_count", **dict(labels))
                assert sends > 0 and sent > 0, (node, labels)
                assert value(samples, "jupiter_transfer_seconds_sum", **dict(labels)) > 0
            for gauge in ("jupiter_tasks_ready", "jupiter_tasks_running", "jupiter_sends_queued"):
                assert (gauge, ()) in samples and samples[(gauge, ())] == 0, (node, gauge)
            assert value(samples, "process_resident_memory_bytes") > 0
        counts.append(total(agents, "jupiter_tasks_run_total", task="a"))
    # The counters moved between the two scrapes.
    assert counts == [1, 3]
