"""Network profiler benchmark: `python bench/profiler.py` prints each figure beside its target.

1. Accuracy, on 16 emulated nodes (two in each of the 8 default regions: every region pair,
   intra-region links included, 240 links). Every link is profiled with the default sizes
   (4 KiB .. 4 MiB, twice each), then timed again at sizes that were never probed
   (12 KiB, 128 KiB, 2 MiB; the faster of two each, four agents measuring at a time), and
   the fit's prediction is compared with that time (target: within 10% on every link).
   The fitted latency and bandwidth are compared with the link model (target: within
   10%). The transfer path with the emulator off (HTTP on loopback, sha256) is measured the
   same way between the same agents: it is the floor no emulated link can go below, which
   the intra-region links (0.25 ms) are under.
2. The first full network profile of 106 emulated nodes (11,130 links), from the home's
   request to the last agent's first fit (target: at most 30 s), and how far that first
   picture's latencies are from the link model.
4. The sampled strategy's first full picture, latency and bandwidth (docs/profiling.md,
   Sampled strategy), of 106 nodes (target: at most 30 s) and of 1,000 nodes (at most
   120 s), from the home's first request to the inferred profile: inter-region latency and
   bandwidth within 10% of the link model on at least 95% of links; intra-region links
   judged against the host's floor (the transfer path with the emulator off, measured on a
   few links after profiling): latency within 10% of the larger of the model and the floor,
   bandwidth within 10% of the model. Before deploying, the free memory is checked against
   what that many agents take (about 17 MiB each, measured at 106 and 500); short of it the bench
   says why and skips. `--sampled 106,1000` chooses the sizes; `--sampled-only` runs this
   part alone.
3. The uneven cluster of tests/profiler/test_profiler_uneven_cluster.py (8 nodes, 4 regions,
   one asymmetric pair, speeds spanning 4x): fitted latency within [0.9x - 1 ms, 1.2x + 8 ms]
   of the model, bandwidth within 25% where the largest probe spends 40 ms or more on the
   wire (within 0.3x..1.5x elsewhere), both directions of the asymmetric pair told apart,
   predictions at an unprobed size within 20% of the fastest of three measurements, and task
   times within 50% of 20 ms x the node's stretch. The test keeps the orderings; these
   figures are the ones a loaded machine moves. `--uneven-only` runs this part alone.

Everything runs real agent processes on this machine; nothing is simulated. The machine's
two cores are shared by every agent, so the figures move with whatever else it is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rich.console import Console
from rich.table import Table

from jupiter.app.spec import App, load_app
from jupiter.backends.agents import Agents, local_agents
from jupiter.cluster.links import Link
from jupiter.cluster.regions import DEFAULT_REGIONS
from jupiter.cluster.spec import Cluster, NodeSpec, load_cluster
from jupiter.profiler.fit import fit_quadratic
from jupiter.profiler.home import ProfileSettings, gather_profile, shared_host_cores
from jupiter.profiler.model import Profile

KIB = 1024
MIB = 1024 * KIB
UNPROBED = [12 * KIB, 128 * KIB, 2 * MIB]
TARGET_REL = 0.10
MEASURING_AGENTS = 4


def tiny_app(root: Path) -> App:
    """The network profiler needs an app to start agents with; it never runs it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "tasks.py").write_text("def a(inputs, output):\n    output.write_text('a')\n")
    (root / "samples").mkdir(exist_ok=True)
    (root / "samples" / "0.txt").write_text("0\n")
    spec = {
        "name": "bench",
        "sources": [{"name": "input", "feeds": ["a"], "inputs": ["samples/*.txt"]}],
        "tasks": {"a": {"python": "tasks.py:a"}},
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec))
    return load_app(root)


def two_per_region() -> Cluster:
    nodes = [
        NodeSpec(name=f"{region.key}{k}", region=region.key)
        for region in DEFAULT_REGIONS
        for k in (1, 2)
    ]
    return Cluster(nodes=nodes)


async def post(agents: Agents, node: str, path: str, body: dict[str, Any]) -> Any:
    async with agents.session.post(
        f"{agents.urls[node]}{path}",
        json=body,
        headers=agents.auth,
        timeout=aiohttp.ClientTimeout(total=600),
    ) as response:
        if response.status >= 300:
            raise RuntimeError(f"{node}{path}: {response.status} {await response.text()}")
        return await response.json()


async def measure_all(
    agents: Agents, cluster: Cluster, sizes: list[int], repeats: int, emulate: bool = True
) -> dict[tuple[str, str], dict[int, float]]:
    """For every link, the fastest of `repeats` transfers at each size: each agent measures
    its own links one at a time, a few agents at once, so that the reference times are
    taken on a machine that is not flooded with transfers."""
    gate = asyncio.Semaphore(MEASURING_AGENTS)

    async def from_node(a: str) -> dict[tuple[str, str], dict[int, float]]:
        async with gate:
            return await links_from(a)

    async def links_from(a: str) -> dict[tuple[str, str], dict[int, float]]:
        found: dict[tuple[str, str], dict[int, float]] = {}
        for b in cluster.node_names:
            if b == a:
                continue
            body = {"peer": b, "sizes": sizes, "repeats": repeats, "emulate": emulate}
            samples = (await post(agents, a, "/profiler/network/measure", body))["samples"]
            best: dict[int, float] = {}
            for size, seconds in samples:
                best[int(size)] = min(seconds, best.get(int(size), float("inf")))
            found[(a, b)] = best
        return found

    merged: dict[tuple[str, str], dict[int, float]] = {}
    for part in await asyncio.gather(*(from_node(a) for a in cluster.node_names)):
        merged.update(part)
    return merged


def percent(x: float) -> str:
    return f"{100 * x:+.1f}%"


def spread(values: list[float]) -> str:
    values = sorted(values)
    q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return (
        f"median {percent(statistics.median(values))}, p95 {percent(q[18])}, "
        f"worst {percent(max(values, key=abs))}"
    )


def link_class(link: Link) -> str:
    return "intra-region" if link.rtt_ms < 1 else "inter-region"


async def accuracy(console: Console, root: Path, details: bool) -> None:
    app = tiny_app(root / "app")
    cluster = two_per_region()
    links = len(cluster.nodes) * (len(cluster.nodes) - 1)
    console.rule(f"1. accuracy: {len(cluster.nodes)} nodes, {links} links")
    # Every default size, twice, in the first round; no later rounds to disturb the checks.
    settings = ProfileSettings(execution=False, first_round_bytes=8 * 1024 * MIB, interval=0)
    async with local_agents(app, cluster) as agents:
        began = time.perf_counter()
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
        console.print(
            f"profiled in {time.perf_counter() - began:.1f} s "
            f"(sizes {', '.join(f'{s // KIB} KiB' for s in settings.probe_sizes)}; "
            f"{profile.settings['network']['first_repeats']} probes each)"
        )
        checks = await measure_all(agents, cluster, UNPROBED, repeats=2)
        bare = await measure_all(agents, cluster, [4 * KIB, 1 * MIB], 2, emulate=False)
    report_accuracy(console, cluster, profile, checks, bare, details)


def report_accuracy(
    console: Console,
    cluster: Cluster,
    profile: Profile,
    checks: dict[tuple[str, str], dict[int, float]],
    bare: dict[tuple[str, str], dict[int, float]],
    details: bool,
) -> None:
    path = fit_quadratic((size, t) for times in bare.values() for size, t in times.items())
    assert path is not None
    console.print(
        f"transfer path with the emulator off (all links pooled): {path.p * 1e3:.2f} ms + "
        f"{path.q * MIB * 1e3:.2f} ms/MiB: the floor under every emulated link"
    )
    rows: dict[str, dict[str, list[float]]] = {}
    worst_prediction: tuple[float, str] = (0.0, "")
    for (a, b), times in checks.items():
        fit = profile.links[a][b]
        link = cluster.link(a, b)
        kind = link_class(link)
        row = rows.setdefault(kind, {"pred": [], "lat": [], "bw": []})
        for size, measured in times.items():
            error = fit.seconds(size) / measured - 1
            row["pred"].append(error)
            if abs(error) > abs(worst_prediction[0]):
                worst_prediction = (error, f"{a}->{b} at {size // KIB} KiB")
        row["lat"].append(fit.p / link.latency - 1)
        row["bw"].append(fit.bandwidth / link.bandwidth - 1)

    table = Table(title="fit vs measurement and vs the link model (relative error)")
    for column in ("links", "figure", "error", f"within {TARGET_REL:.0%}"):
        table.add_column(column, justify="left")
    labels = {
        "pred": "predicted time at unprobed sizes",
        "lat": "fitted latency vs model",
        "bw": "fitted bandwidth vs model",
    }
    for kind in ("inter-region", "intra-region"):
        for key, label in labels.items():
            values = rows[kind][key]
            within = sum(1 for v in values if abs(v) <= TARGET_REL)
            table.add_row(
                f"{kind} ({len(rows[kind]['lat'])})",
                label,
                spread(values),
                f"{within}/{len(values)}",
            )
        table.add_section()
    console.print(table)
    console.print(f"worst prediction: {percent(worst_prediction[0])} ({worst_prediction[1]})")
    if details:
        worst = sorted(
            (
                (profile.links[a][b].seconds(size) / t - 1, a, b, size, t)
                for (a, b), times in checks.items()
                for size, t in times.items()
            ),
            key=lambda row: -abs(row[0]),
        )
        for error, a, b, size, t in worst[:12]:
            fit, link = profile.links[a][b], cluster.link(a, b)
            console.print(
                f"  {a}->{b} {size // KIB} KiB: measured {t * 1e3:.2f} ms, fit "
                f"{fit.seconds(size) * 1e3:.2f} ({percent(error)}), model "
                f"{link.seconds(size) * 1e3:.2f}; fit p={fit.p * 1e3:.2f} ms "
                f"bw={fit.bandwidth / 1e6:.1f} MB/s r={fit.r:.2g} rms={fit.rel_rms:.3f}"
            )
        latency_misses = sorted(
            (
                (profile.links[a][b].p / cluster.link(a, b).latency - 1, a, b)
                for a, b in checks
                if cluster.link(a, b).rtt_ms >= 1
            ),
            key=lambda row: -abs(row[0]),
        )
        for error, a, b in latency_misses[:8]:
            fit, link = profile.links[a][b], cluster.link(a, b)
            measured = ", ".join(f"{s // KIB} KiB {t * 1e3:.2f}" for s, t in checks[(a, b)].items())
            console.print(
                f"  latency {a}->{b}: fit {fit.p * 1e3:.2f} ms vs model {link.latency * 1e3:.2f} "
                f"({percent(error)}); measured (ms): {measured}"
            )
    inter = [cluster.link(a, b) for a, b in checks if cluster.link(a, b).rtt_ms >= 1]
    latencies = [link.latency * 1e3 for link in inter]
    rates = [link.bandwidth / 1e6 for link in inter]
    console.print(
        f"inter-region link model: one-way latency {min(latencies):.1f}..{max(latencies):.1f} "
        f"ms, bandwidth {min(rates):.0f}..{max(rates):.0f} MB/s; intra-region 0.25 ms, 125 MB/s"
    )


async def first_picture(console: Console, root: Path, n: int) -> None:
    app = tiny_app(root / "app106")
    cluster = Cluster.default(n)
    links = n * (n - 1)
    console.rule(f"2. first full network profile: {n} nodes, {links} links")
    settings = ProfileSettings(execution=False)
    sizes, repeats = settings.first_round(links)
    deploy_began = time.perf_counter()
    async with local_agents(app, cluster) as agents:
        deployed = time.perf_counter() - deploy_began
        began = time.perf_counter()
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
        ready = time.perf_counter() - began
    fitted = sum(len(row) for row in profile.links.values())
    console.print(
        f"agents started and registered in {deployed:.1f} s; first round: "
        f"{', '.join(f'{s // KIB} KiB' for s in sizes)} x{repeats} per link, "
        f"{settings.probe_rate:g} probes/s across the cluster"
    )
    console.print(
        f"first full picture ready in {ready:.1f} s (target <= 30 s): {fitted}/{links} links fitted"
    )
    excess = sorted(
        (fit.p - cluster.link(a, b).latency) * 1e3
        for a, row in profile.links.items()
        for b, fit in row.items()
    )
    q = statistics.quantiles(excess, n=10)
    console.print(
        "its latencies minus the link model: "
        f"p10 {q[0]:+.1f} ms, median {statistics.median(excess):+.1f} ms, "
        f"p90 {q[8]:+.1f} ms, worst {excess[-1]:+.1f} ms (bandwidth: later rounds)"
    )
    relative = [
        fit.p / cluster.link(a, b).latency - 1
        for a, row in profile.links.items()
        for b, fit in row.items()
        if cluster.link(a, b).rtt_ms >= 1
    ]
    within = sum(1 for error in relative if abs(error) <= TARGET_REL)
    console.print(
        f"inter-region latencies vs the link model: {spread(relative)}; "
        f"{within}/{len(relative)} within {TARGET_REL:.0%}"
    )


SAMPLED_TARGETS = {106: 30.0, 1000: 120.0}
# Proportional set size of one idle agent, measured with 107 agents on this machine, and a
# margin for what profiling adds (buffers, the home's own share): the whole machine's use
# peaked at 8.1 GiB with 500 agents profiling (16.6 MiB an agent, the home included).
AGENT_MIB = 17
MEMORY_MARGIN = 1.25
FLOOR_LINKS = 12


def memory_shortfall(n: int) -> str | None:
    """Why n agents cannot be deployed here now, or None if they fit in free memory."""
    import psutil

    need = n * AGENT_MIB * MEMORY_MARGIN * MIB
    available = psutil.virtual_memory().available
    if available < need:
        return (
            f"{n} agents need about {need / 2**30:.1f} GiB ({AGENT_MIB} MiB each, x"
            f"{MEMORY_MARGIN}), {available / 2**30:.1f} GiB is available"
        )
    return None


def within(values: list[float], rel: float = TARGET_REL) -> str:
    if not values:
        return "no links"
    ok = sum(1 for v in values if abs(v) <= rel)
    return f"{ok}/{len(values)} ({ok / len(values):.1%}) within {rel:.0%}; {spread(values)}"


async def sampled_picture(console: Console, root: Path, n: int) -> None:
    console.rule(f"4. sampled strategy, first full picture: {n} nodes, {n * (n - 1)} links")
    shortfall = memory_shortfall(n)
    if shortfall is not None:
        console.print(f"skipped: {shortfall}")
        return
    app = tiny_app(root / f"app-sampled-{n}")
    cluster = Cluster.default(n)
    deploy_began = time.perf_counter()
    async with local_agents(app, cluster) as agents:
        deployed = time.perf_counter() - deploy_began
        began = time.perf_counter()
        # As `jupiter run` does on the local backend: probing paced to the idle cores.
        cores = await asyncio.to_thread(shared_host_cores)
        settings = ProfileSettings(
            execution=False, strategy="sampled", interval=0, shared_cores=cores
        )
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
        ready = time.perf_counter() - began
        # The host's floor: the transfer path with the emulator off, on a few links.
        assert profile.network_inference is not None
        peers = profile.network_inference.latency_peers
        floor_samples: list[tuple[int, float]] = []
        for a in cluster.node_names[:FLOOR_LINKS]:
            # A peer the agent probes: measuring asks for one.
            b = peers[a][-1]
            body = {"peer": b, "sizes": [4 * KIB, 1 * MIB], "repeats": 2, "emulate": False}
            floor_samples += [
                (int(size), seconds)
                for size, seconds in (await post(agents, a, "/profiler/network/measure", body))[
                    "samples"
                ]
            ]
    undeployed = time.perf_counter()
    floor = fit_quadratic(floor_samples)
    inference = profile.network_inference
    assert inference is not None and floor is not None
    network = profile.settings["network"]
    target = SAMPLED_TARGETS.get(n)
    console.print(
        f"agents started and registered in {deployed:.1f} s (stopped in "
        f"{time.perf_counter() - undeployed:.1f} s)"
    )
    latency, bandwidth = network["latency_phase"], network["bandwidth_phase"]
    console.print(
        f"first full picture ready in {ready:.1f} s"
        + (f" (target <= {target:g} s)" if target else "")
        + f": latency phase {latency['links']} links x{latency['first_repeats']} "
        f"({latency['first_round_seconds']:.1f} s), bandwidth phase {bandwidth['links']} "
        f"representative links, sizes "
        f"{', '.join(f'{s // KIB}K' for s in bandwidth['first_sizes'])} "
        f"x{bandwidth['first_repeats']} ({bandwidth['first_round_seconds']:.1f} s); "
        f"inference {inference.seconds:.1f} s; probes paced to {latency['probe_rate']:.0f}/s "
        f"({settings.shared_cores:.2f} cores idle with every agent up)"
    )
    probed = inference.measured_links
    console.print(
        f"probed {probed} of {n * (n - 1)} links ({probed / (n * (n - 1)):.1%}); latency "
        f"inferred on {inference.latency_inferred}, bandwidth on {inference.bandwidth_inferred}"
    )
    for label, error in (
        (inference.latency_model, inference.held_out),
        ("plain Vivaldi distance", inference.held_out_vivaldi),
    ):
        if error is not None:
            console.print(
                f"held-out latency error ({label}): median {error.median:.1%}, p90 "
                f"{error.p90:.1%}, worst {error.worst:.1%} on {error.links} links"
            )
    console.print(
        f"host floor (emulator off, {len(floor_samples)} transfers): {floor.p * 1e3:.2f} ms + "
        f"{floor.q * MIB * 1e3:.2f} ms/MiB"
    )
    rows: dict[str, dict[str, list[float]]] = {}
    unresolved = 0
    for a, row in profile.links.items():
        for b, fit in row.items():
            link = cluster.link(a, b)
            kind = link_class(link)
            figures = rows.setdefault(kind, {"lat": [], "lat_inferred": [], "bw": []})
            expected = link.latency if kind == "inter-region" else max(link.latency, floor.p)
            error = fit.p / expected - 1
            figures["lat"].append(error)
            if fit.latency_source == "inferred":
                figures["lat_inferred"].append(error)
            if fit.resolved:
                figures["bw"].append(fit.bandwidth / link.bandwidth - 1)
            else:
                unresolved += 1
    if unresolved:
        console.print(
            f"{unresolved} links without a bandwidth (their group pair's representatives "
            "did not resolve one: the problem builder takes the link model's)"
        )
    for kind in ("inter-region", "intra-region"):
        figures = rows[kind]
        against = "the link model" if kind == "inter-region" else "max(model, host floor)"
        console.print(f"{kind} latency vs {against}: {within(figures['lat'])}")
        console.print(f"  of which inferred: {within(figures['lat_inferred'])}")
        console.print(f"{kind} bandwidth vs the link model: {within(figures['bw'])}")


UNEVEN_SIZES = [4 * KIB, 32 * KIB, 256 * KIB, 1024 * KIB]
UNEVEN_UNPROBED = 128 * KIB
UNEVEN_PAIRS = [("a1", "d1"), ("b1", "c2"), ("c1", "c2")]


def profiler_scenarios() -> Any:
    """The uneven cluster and its app, from the test suite's own definitions."""
    path = Path(__file__).resolve().parents[1] / "tests" / "profiler" / "profiler_scenarios.py"
    spec = importlib.util.spec_from_file_location("profiler_scenarios", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mark(ok: bool) -> str:
    return "yes" if ok else "NO"


async def uneven(console: Console, root: Path) -> None:
    scenarios = profiler_scenarios()
    app = load_app(scenarios.write_app(root / "uneven-app", {"load": [], "work": ["load"]}))
    cluster = load_cluster(scenarios.write_cluster(root / "uneven.yaml", scenarios.UNEVEN_CLUSTER))
    console.rule(f"3. uneven cluster: {len(cluster.nodes)} nodes, asymmetric a <-> d")
    settings = ProfileSettings(sizes=UNEVEN_SIZES, interval=0, execution_repeats=3)
    validation: dict[tuple[str, str], float] = {}
    async with local_agents(app, cluster) as agents:
        profile = await gather_profile(
            agents.session, agents.urls, app, cluster, agents.auth, settings
        )
        for a, b in UNEVEN_PAIRS:
            body = {"peer": b, "sizes": [UNEVEN_UNPROBED], "repeats": 3}
            samples = (await post(agents, a, "/profiler/network/measure", body))["samples"]
            validation[(a, b)] = min(seconds for _, seconds in samples)

    table = Table(title="uneven cluster: figures the test leaves to the benchmark")
    for column in ("figure", "measured", "target", "met"):
        table.add_column(column, justify="left")
    latency_misses, bandwidth_misses, links = [], [], 0
    for a, row in profile.links.items():
        for b, fit in row.items():
            links += 1
            link = cluster.link(a, b)
            if not link.latency * 0.9 - 0.001 <= fit.p <= link.latency * 1.2 + 0.008:
                latency_misses.append(f"{a}->{b} {fit.p * 1e3:.1f} vs {link.latency * 1e3:.1f} ms")
            ratio = fit.bandwidth / link.bandwidth
            wide = UNEVEN_SIZES[-1] / link.bandwidth >= 0.04
            if not (0.75 <= ratio <= 1.25 if wide else 0.3 <= ratio <= 1.5):
                bandwidth_misses.append(f"{a}->{b} {ratio:.2f}x")
    table.add_row(
        "fitted latency in [0.9x - 1 ms, 1.2x + 8 ms]",
        f"{links - len(latency_misses)}/{links}; {', '.join(latency_misses[:3])}",
        f"{links}/{links}",
        mark(not latency_misses),
    )
    table.add_row(
        "fitted bandwidth (25% where 1 MiB >= 40 ms on the wire)",
        f"{links - len(bandwidth_misses)}/{links}; {', '.join(bandwidth_misses[:3])}",
        f"{links}/{links}",
        mark(not bandwidth_misses),
    )
    there, back = profile.links["a1"]["d1"], profile.links["d1"]["a1"]
    table.add_row(
        "asymmetric pair: d1->a1 latency minus a1->d1",
        f"{(back.p - there.p) * 1e3:+.1f} ms",
        "> 0 (model +10 ms)",
        mark(back.p > there.p),
    )
    table.add_row(
        "asymmetric pair: d1->a1 bandwidth / a1->d1",
        f"{back.bandwidth / there.bandwidth:.2f}",
        "< 0.8 (model 0.6)",
        mark(back.bandwidth < 0.8 * there.bandwidth),
    )
    for (a, b), measured in validation.items():
        error = profile.links[a][b].seconds(UNEVEN_UNPROBED) / measured - 1
        table.add_row(
            f"prediction at {UNEVEN_UNPROBED // KIB} KiB, {a}->{b} (never probed)",
            f"{percent(error)} of {measured * 1e3:.1f} ms",
            "within 20%",
            mark(abs(error) <= 0.2),
        )
    compute = profile.compute["load"]
    for node in cluster.nodes:
        expected = 0.02 * cluster.stretch(node.name)
        error = compute[node.name] / expected - 1
        table.add_row(
            f"20 ms task on {node.name} (stretch {cluster.stretch(node.name):g})",
            f"{compute[node.name] * 1e3:.1f} ms ({percent(error)})",
            "within 50%",
            mark(abs(error) <= 0.5),
        )
    ratio = compute["b2"] / compute["a1"]
    table.add_row("task time b2 / a1", f"{ratio:.2f}", "> 2.5 (model 4)", mark(ratio > 2.5))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=106, help="nodes for the first picture")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-first-picture", action="store_true")
    parser.add_argument("--skip-uneven", action="store_true")
    parser.add_argument("--uneven-only", action="store_true", help="part 3 alone")
    parser.add_argument("--details", action="store_true", help="print the worst predictions")
    parser.add_argument(
        "--sampled", default="106,1000", help="node counts for the sampled strategy's picture"
    )
    parser.add_argument("--skip-sampled", action="store_true")
    parser.add_argument("--sampled-only", action="store_true", help="part 4 alone")
    args = parser.parse_args()
    console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as tmp:
        root = Path(tmp)
        alone = args.uneven_only or args.sampled_only
        if not (args.skip_accuracy or alone):
            asyncio.run(accuracy(console, root, args.details))
        if not (args.skip_first_picture or alone):
            asyncio.run(first_picture(console, root, args.nodes))
        if not (args.skip_uneven or args.sampled_only):
            asyncio.run(uneven(console, root))
        if not (args.skip_sampled or args.uneven_only):
            for n in (int(part) for part in args.sampled.split(",") if part):
                asyncio.run(sampled_picture(console, root, n))


if __name__ == "__main__":
    main()
