"""The sampled network strategy: probe a few links, infer the rest (pure: no I/O, no clock).

Probing every link costs n(n-1) probes: 11,130 on 106 nodes, a million on 1,000. Instead:

- Latency. Each node probes a small set of peers with the smallest probe size: a landmark
  per group (a random member of each) and random neighbours, `latency_peers` in all.
  Vivaldi coordinates with height vectors (coordinates.py) are fitted to those latencies.
  Without groups, the Vivaldi distance is the prediction. With groups, a hierarchy (as in
  Pharos, Chen et al. 2007): a link's latency is its ordered group pair's core latency plus
  a height per node (what every path out of the node pays, as Vivaldi's heights), both
  fitted by medians. Why: a few Euclidean dimensions only approximate a real latency table, and
  Vivaldi's error is absolute, so short wide-area links suffer most; on the default eight
  regions plain Vivaldi predicts about 80% of inter-region links within 10%, the
  hierarchy nearly all (docs/profiling.md). Both errors are reported on held-out links.
- Held out. A fraction of the measured latency links is left out of the fit; the error of
  the prediction on them is reported (median, 90th percentile, worst).
- Bandwidth. Per ordered group pair, `representatives` links are probed with every size;
  the pair's per-byte terms (fitted to its representatives' median wire time at each size)
  are every link's of that pair. A latency-only probe's time includes its bytes' wire
  time: that is taken off with the group pair's per-byte terms before its latency is used.

Groups are the cluster's regions when its nodes span two or more; otherwise clusters of the
coordinates (k-means), which needs the latencies first: the home then probes in two phases.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jupiter.profiler import coordinates as coordinates_module
from jupiter.profiler.coordinates import Coordinates, held_out_error, kmeans, relative_errors
from jupiter.profiler.fit import nnls_small
from jupiter.profiler.model import HeldOutError, LinkProfile, NetworkInference

Link = tuple[str, str]
_Predict = Callable[[str, str], float]
DIMENSIONS = 3
# Fewer fitted links than this from one node and none of its links is held out: its
# coordinate would rest on too little.
MIN_FITTED_PER_NODE = 4
# Landmarks per group: each node probes one of them (choose_latency_peers).
LANDMARKS_PER_GROUP = 3
# Alternations of group cores and node heights (_core_predictor).
CORRECTION_ROUNDS = 8


@dataclass(frozen=True)
class SampledPlan:
    """Which links to probe, and how."""

    groups: dict[str, list[str]]
    groups_by: str
    # node -> peers it probes for latency
    latency_peers: dict[str, list[str]]
    # "G->H" -> links probed with every size
    representatives: dict[str, list[Link]]

    def probes(self, node: str) -> tuple[list[str], list[str]]:
        """(every peer `node` probes, those of them probed for latency only)."""
        bandwidth = [b for links in self.representatives.values() for a, b in links if a == node]
        latency = self.latency_peers.get(node, [])
        peers = list(dict.fromkeys([*bandwidth, *latency]))
        return peers, [peer for peer in peers if peer not in bandwidth]

    @property
    def representative_links(self) -> set[Link]:
        return {link for links in self.representatives.values() for link in links}


def region_groups(regions: dict[str, str]) -> dict[str, list[str]] | None:
    """node -> region as groups, or None when every node is in one region."""
    groups: dict[str, list[str]] = defaultdict(list)
    for node, region in regions.items():
        groups[region].append(node)
    return dict(groups) if len(groups) > 1 else None


def choose_latency_peers(
    nodes: list[str], groups: dict[str, list[str]], count: int, seed: int
) -> dict[str, list[str]]:
    """Per node: a landmark in every group and random neighbours, `count` peers in all (at
    least two random), in a random order.

    Each group has LANDMARKS_PER_GROUP landmarks (random members; with a single group, four
    random nodes) and each node probes one of them, at random: every node probes every
    group, yet no landmark receives more than its share of a third of them. The order is
    random too: were every node to start with the same landmark, that agent would queue
    the probes arriving at once and each would read as latency (it did: tens of
    milliseconds on 106 nodes)."""
    rng = random.Random(seed)
    if len(groups) > 1:
        landmark_sets = [
            rng.sample(sorted(members), min(LANDMARKS_PER_GROUP, len(members)))
            for _, members in sorted(groups.items())
        ]
    else:
        landmark_sets = [[node] for node in rng.sample(sorted(nodes), min(4, len(nodes)))]
    chosen: dict[str, list[str]] = {}
    for node in nodes:
        peers: list[str] = []
        for landmarks in landmark_sets:
            candidates = [landmark for landmark in landmarks if landmark != node]
            if candidates:
                peers.append(rng.choice(candidates))
        others = [peer for peer in nodes if peer != node and peer not in peers]
        extra = min(len(others), max(2, count - len(peers)))
        peers += rng.sample(others, extra)
        rng.shuffle(peers)
        chosen[node] = peers
    return chosen


def choose_representatives(
    groups: dict[str, list[str]], per_pair: int, seed: int
) -> dict[str, list[Link]]:
    """Per ordered group pair, up to `per_pair` links, senders and receivers spread: each
    node sends as few representative probes as the groups allow."""
    rng = random.Random(seed)
    sent: dict[str, int] = defaultdict(int)
    chosen: dict[str, list[Link]] = {}
    for g, senders in sorted(groups.items()):
        for h, receivers in sorted(groups.items()):
            links: list[Link] = []
            order = sorted(senders, key=lambda node: (sent[node], rng.random()))
            targets = rng.sample(sorted(receivers), len(receivers))
            for a in order:
                b = next((b for b in targets if b != a and (a, b) not in links), None)
                if b is None:
                    continue
                targets.remove(b)
                targets.append(b)
                links.append((a, b))
                sent[a] += 1
                if len(links) == per_pair:
                    break
            if links:
                chosen[f"{g}->{h}"] = links
    return chosen


def plan_sampled(
    nodes: list[str],
    groups: dict[str, list[str]],
    groups_by: str,
    latency_peers: int,
    representatives: int,
    seed: int,
) -> SampledPlan:
    return SampledPlan(
        groups=groups,
        groups_by=groups_by,
        latency_peers=choose_latency_peers(nodes, groups, latency_peers, seed),
        representatives=choose_representatives(groups, representatives, seed + 1),
    )


def coordinate_groups(
    nodes: list[str], fits: dict[str, dict[str, LinkProfile]], seed: int
) -> dict[str, list[str]]:
    """Groups where the cluster has no regions: k-means on Vivaldi coordinates fitted to
    the latencies measured so far, k about sqrt(n / 2) (at most 8)."""
    coordinates = Coordinates(nodes, DIMENSIONS, seed)
    coordinates.fit(_latencies(fits))
    k = max(1, min(8, round(math.sqrt(len(nodes) / 2))))
    points = np.column_stack([coordinates.positions, coordinates.heights])
    labels = kmeans(points, k, seed)
    groups: dict[str, list[str]] = defaultdict(list)
    for node, label in zip(nodes, labels, strict=True):
        groups[f"g{label}"].append(node)
    return dict(groups)


def _latencies(fits: dict[str, dict[str, LinkProfile]]) -> list[tuple[str, str, float]]:
    return [(a, b, fit.p) for a, row in fits.items() for b, fit in row.items() if fit.p > 0]


def hold_out(
    latency_peers: dict[str, list[str]], keep: set[Link], fraction: float, seed: int
) -> set[Link]:
    """About `fraction` of the latency links, chosen at random, never one in `keep` and
    never leaving a node fewer than MIN_FITTED_PER_NODE fitted links of its own."""
    rng = random.Random(seed)
    held: set[Link] = set()
    for node, peers in sorted(latency_peers.items()):
        candidates = [(node, peer) for peer in peers if (node, peer) not in keep]
        room = max(0, len(peers) - MIN_FITTED_PER_NODE)
        wanted = min(room, len(candidates), int(fraction * len(peers) + rng.random()))
        held.update(rng.sample(candidates, wanted))
    return held


@dataclass
class _GroupModel:
    q: float
    r: float
    sizes: list[int]

    def wire_seconds(self, size: int) -> float:
        return self.q * size + self.r * size * size


def infer_links(
    nodes: list[str],
    plan: SampledPlan,
    measured: dict[str, dict[str, LinkProfile]],
    held_out: set[Link],
    seed: int,
) -> tuple[dict[str, dict[str, LinkProfile]], NetworkInference]:
    """Every link's fit: measured figures where probed, the rest inferred (module doc)."""
    began = time.perf_counter()
    group_of = {node: group for group, members in plan.groups.items() for node in members}
    pair_models = _bandwidth_models(measured, plan, group_of)

    # Measured latencies, net of the wire time of the probe's own bytes where the probe
    # did not resolve the bandwidth itself.
    latency: dict[Link, float] = {}
    for a, row in measured.items():
        for b, fit in row.items():
            model = pair_models.get((group_of[a], group_of[b]))
            if fit.resolved or model is None:
                latency[(a, b)] = fit.p
            else:
                latency[(a, b)] = max(0.0, fit.p - model.wire_seconds(min(fit.sizes)))
    fitted = [(a, b, seconds) for (a, b), seconds in latency.items() if (a, b) not in held_out]
    fitted = [sample for sample in fitted if sample[2] > 0]

    coordinates = Coordinates(nodes, DIMENSIONS, seed)
    coordinates.fit(fitted)
    grouped = len(plan.groups) > 1
    predict = _core_predictor(coordinates, fitted, group_of) if grouped else coordinates.distance
    held = [(a, b, latency[(a, b)]) for a, b in sorted(held_out) if latency.get((a, b), 0) > 0]
    held_model = held_out_error([abs(predict(a, b) - m) / m for a, b, m in held])
    held_vivaldi = held_out_error(relative_errors(coordinates, held))

    links: dict[str, dict[str, LinkProfile]] = {}
    now = time.time()
    # One template per group pair, copied with each link's latency: a million links are
    # built in seconds (model_construct takes twice as long, validation ten times).
    templates: dict[tuple[str, str], LinkProfile] = {}
    for g in plan.groups:
        for h in plan.groups:
            model = pair_models.get((g, h))
            templates[(g, h)] = LinkProfile.model_construct(
                p=0.0,
                q=model.q if model else 0.0,
                r=model.r if model else 0.0,
                samples=0,
                sizes=model.sizes if model else [min(fit.sizes) for fit in _any_fit(measured)],
                rel_rms=0.0,
                fitted_at=now,
                latency_source="inferred",
                bandwidth_source="inferred",
            )
    latency_inferred = bandwidth_inferred = 0
    for a in nodes:
        row: dict[str, LinkProfile] = {}
        mine = measured.get(a, {})
        group_a = group_of[a]
        for b in nodes:
            if a == b:
                continue
            fit = mine.get(b)
            if fit is not None and fit.resolved:
                row[b] = fit
                continue
            template = templates[(group_a, group_of[b])]
            bandwidth_inferred += 1
            if fit is None:
                latency_inferred += 1
                row[b] = template.model_copy(update={"p": predict(a, b)})
            else:
                row[b] = template.model_copy(
                    update={
                        "p": latency[(a, b)],
                        "samples": fit.samples,
                        "rel_rms": fit.rel_rms,
                        "fitted_at": fit.fitted_at,
                        "latency_source": "measured",
                    }
                )
        links[a] = row
    inference = NetworkInference(
        groups_by="region" if plan.groups_by == "region" else "coordinates",
        groups=plan.groups,
        latency_peers=plan.latency_peers,
        dimensions=DIMENSIONS,
        coordinates={
            node: [*map(float, coordinates.positions[i]), float(coordinates.heights[i])]
            for i, node in enumerate(nodes)
        },
        latency_model="group core + heights" if grouped else "coordinates",
        representatives=plan.representatives,
        measured_links=sum(len(row) for row in measured.values()),
        latency_inferred=latency_inferred,
        bandwidth_inferred=bandwidth_inferred,
        held_out_links=sorted(held_out),
        held_out=_error_model(held_model),
        held_out_vivaldi=_error_model(held_vivaldi),
        seconds=time.perf_counter() - began,
    )
    return links, inference


def _any_fit(measured: dict[str, dict[str, LinkProfile]]) -> list[LinkProfile]:
    """One measured fit, if any (its smallest size stands in where no group pair model
    exists: such a link's bandwidth stays unresolved)."""
    for row in measured.values():
        for fit in row.values():
            return [fit]
    return [LinkProfile(p=0.0, q=0.0, samples=0, sizes=[1])]


def _bandwidth_models(
    measured: dict[str, dict[str, LinkProfile]], plan: SampledPlan, group_of: dict[str, str]
) -> dict[tuple[str, str], _GroupModel]:
    """Per ordered group pair, the per-byte terms of its resolved representatives."""
    found: dict[tuple[str, str], list[LinkProfile]] = defaultdict(list)
    for a, b in plan.representative_links:
        fit = measured.get(a, {}).get(b)
        if fit is not None and fit.resolved:
            found[(group_of[a], group_of[b])].append(fit)
    return {pair: _pair_model(fits) for pair, fits in found.items()}


def _pair_model(fits: list[LinkProfile]) -> _GroupModel:
    """The per-byte terms through the representatives' median wire time at each size.

    The median per size, not of q and of r apart: one representative whose probe met a busy
    host does not move it, and q and r trade off against each other within a fit (a
    single noisy size tilts one up and the other down), so medians taken apart can pair
    one link's q with another's r and describe no link at all."""
    sizes = sorted({size for fit in fits for size in fit.sizes})
    if len(fits) == 1:
        return _GroupModel(q=fits[0].q, r=fits[0].r, sizes=sizes)
    x = np.array(sizes, dtype=float)
    wires = np.array([[fit.q * s + fit.r * s * s for s in sizes] for fit in fits])
    median = np.median(wires, axis=0)
    keep = median > 0
    if keep.sum() < 2:
        return _GroupModel(q=float(np.median([f.q for f in fits])), r=0.0, sizes=sizes)
    # Relative errors, as fit.py weighs a link's own sizes; sizes scaled for conditioning.
    scale = float(x[keep].max())
    scaled = x[keep] / scale
    columns = [scaled, scaled * scaled] if keep.sum() >= 3 else [scaled]
    weights = 1.0 / median[keep]
    design = np.column_stack(columns) * weights[:, None]
    q, r = (*nnls_small(design, median[keep] * weights), 0.0)[:2]
    return _GroupModel(q=float(q) / scale, r=float(r) / (scale * scale), sizes=sizes)


def _core_predictor(
    coordinates: Coordinates, fitted: list[tuple[str, str, float]], group_of: dict[str, str]
) -> _Predict:
    """A link's latency as its ordered group pair's core plus a height per end.

    The cores are the median, over each group pair's fitted links, of latency less both
    heights; each node's height then moves by half the median of what is left on its links
    (a residual belongs to both ends), a few times over, from zero. Exact on latencies of
    that form; robust (medians) to a slow probe. Not from the Vivaldi heights: those also
    carry what the Euclidean part could not fit, which here is the cores' job."""
    height = dict.fromkeys(coordinates.nodes, 0.0)
    core: dict[tuple[str, str], float] = {}
    for _ in range(CORRECTION_ROUNDS):
        by_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
        for a, b, seconds in fitted:
            by_pair[(group_of[a], group_of[b])].append(seconds - height[a] - height[b])
        core = {pair: float(np.median(values)) for pair, values in by_pair.items()}
        by_node: dict[str, list[float]] = defaultdict(list)
        for a, b, seconds in fitted:
            left = seconds - core[(group_of[a], group_of[b])] - height[a] - height[b]
            by_node[a].append(left)
            by_node[b].append(left)
        for node, values in by_node.items():
            height[node] += float(np.median(values)) / 2

    def predict(a: str, b: str) -> float:
        g, h = group_of[a], group_of[b]
        middle = core.get((g, h), core.get((h, g)))
        if middle is None:
            return coordinates.distance(a, b)
        return max(0.0, middle + height[a] + height[b])

    return predict


def _error_model(error: coordinates_module.HeldOutError | None) -> HeldOutError | None:
    if error is None:
        return None
    return HeldOutError(links=error.links, median=error.median, p90=error.p90, worst=error.worst)


def merge_refreshed(old: LinkProfile | None, new: LinkProfile) -> LinkProfile:
    """An agent's newer fit of a link over the gathered one: a fit of one size (a later
    round's latency probes, or task outputs all of one size) refreshes the latency and
    keeps the inferred bandwidth, since it says nothing about bytes; a fit that resolves
    the bandwidth replaces it."""
    if old is None or new.resolved or old.bandwidth_source != "inferred" or not old.resolved:
        return new
    return old.model_copy(
        update={
            "p": max(0.0, new.p - old.q * min(new.sizes) - old.r * min(new.sizes) ** 2),
            "samples": new.samples,
            "runtime_samples": new.runtime_samples,
            "fitted_at": new.fitted_at,
            "latency_source": "measured",
        }
    )
